"""Read a small file whose path someone else chose: never block, never more than a limit, only a regular file.

The role-mapping file and ``OKTA_*_FILE`` secrets are read while logins wait. A path to a FIFO
would block ``open`` until a writer comes; a path to ``/dev/zero`` or a huge file would be read
until memory runs out. :func:`read_small_file` opens without blocking, refuses anything but a
regular file (symlinks are followed: Kubernetes mounts are symlinks, their target is regular) and
reads no more than the limit + 1 bytes. A refusal is a :class:`FileRefused`, an ``OSError`` whose
``strerror`` says what the path leads to. This module imports nothing of ours.
"""

from __future__ import annotations

import errno
import os
import stat

_READ_CHUNK_BYTES = 65_536
# Opening a FIFO for reading waits for a writer unless O_NONBLOCK; O_NOCTTY: a terminal never becomes ours.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileRefused(OSError):
    """The path leads to something that is not a regular file of at most the allowed size."""

    def __init__(self, reason: str, st: os.stat_result) -> None:
        super().__init__(errno.EINVAL, reason)
        self.stat = st  # of what the path led to: callers remember it, so one refusal is logged once


def kind_of(mode: int) -> str:
    """Return what a file mode is, in words ("a FIFO (named pipe)", "a regular file", ...)."""
    return next((name for test, name in _KINDS if test(mode)), "a regular file" if stat.S_ISREG(mode) else "not a file")


def read_small_file(path: str, limit: int) -> tuple[os.stat_result, bytes]:
    """Return the regular file's status (of the open file, so it matches the bytes) and its bytes.

    Raise FileRefused for anything but a regular file of at most ``limit`` bytes, OSError when it
    cannot be opened.
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(f"it is {kind_of(st.st_mode)}, not a regular file", st)
        if st.st_size > limit:
            raise FileRefused(f"it is {st.st_size} bytes, more than the {limit} allowed", st)
        parts: list[bytes] = []
        total = 0
        while total <= limit:  # the file may grow after fstat: never read past limit + 1
            part = os.read(fd, min(_READ_CHUNK_BYTES, limit + 1 - total))
            if not part:
                break
            parts.append(part)
            total += len(part)
        if total > limit:
            raise FileRefused(f"it is more than the {limit} bytes allowed", st)
        return st, b"".join(parts)
    finally:
        os.close(fd)


# (resolved path, st_dev, st_ino, st_mtime_ns, st_size) of the file a path leads to.
FileVersion = tuple[str, int, int, int, int]


def version_of(resolved: str, st: os.stat_result) -> FileVersion:
    """Return what identifies a file version cheaply, after following every symlink.

    A Kubernetes ConfigMap or Secret mount makes the file a symlink into ``..data``, which the
    kubelet swaps atomically to a new timestamped directory on each update: the resolved path and
    the target's inode change, the path's own inode never does, and an mtime-preserving writer may
    keep the mtime. Taking the resolved path too catches every swap.
    """
    return (resolved, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def file_version(path: str) -> FileVersion:
    """Return the version of the file ``path`` resolves to now (``os.stat`` follows links)."""
    return version_of(os.path.realpath(path), os.stat(path))


def read_versioned(path: str, limit: int) -> tuple[FileVersion, bytes]:
    """Return the file's version (taken from the open file, so it matches the bytes) and its bytes.

    A swap between resolving the path and opening it only costs one more read at the next check.
    """
    resolved = os.path.realpath(path)
    st, data = read_small_file(path, limit)
    return version_of(resolved, st), data
