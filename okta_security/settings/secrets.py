"""Secret values: read from a file (re-read when it changes), never shown in repr, str or logs; private keys."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from okta_security.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)


class FileValue:
    """A value read from a file, re-read whenever the file the path resolves to changes.

    Kubernetes mounts a Secret key as a symlink into ``..data``, a symlink it swaps atomically to
    a new timestamped directory on every update: the version is therefore taken after following
    every link (resolved path, device, inode, mtime, size), never from the path's own inode.
    """

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self.name = name
        self._lock = threading.Lock()
        self._version: FileVersion | None = None
        self._value = ""

    def get(self) -> str:
        """Return the file's current content, stripped of surrounding whitespace."""
        try:
            version = file_version(self.path)
        except OSError as e:
            return self._unreadable(e)
        with self._lock:
            if version != self._version:
                try:
                    self._version, self._value = _read_version(self.path)
                except OSError as e:
                    return self._unreadable(e)
            return self._value

    def _unreadable(self, error: OSError) -> str:
        if self._version is None:
            raise ConfigError([f"{self.name}_FILE={self.path}: cannot read: {error.strerror}"]) from error
        log.error("%s_FILE=%s became unreadable (%s); keeping the last value read", self.name, self.path, error)
        return self._value


# (resolved path, st_dev, st_ino, st_mtime_ns, st_size) of the file a path leads to.
FileVersion = tuple[str, int, int, int, int]


def file_version(path: str) -> FileVersion:
    """Return what identifies the version of the file ``path`` resolves to, following every symlink."""
    st = os.stat(path)
    return _version_of(os.path.realpath(path), st)


def _version_of(resolved: str, st: os.stat_result) -> FileVersion:
    return (resolved, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def _read_version(path: str) -> tuple[FileVersion, str]:
    """Read the file once; inode, mtime and size come from the open file, so they match the content.

    A swap between resolving the path and opening it only costs one more read at the next call.
    """
    resolved = os.path.realpath(path)
    with open(path, encoding="utf-8") as handle:
        version = _version_of(resolved, os.fstat(handle.fileno()))
        return version, handle.read().strip()


@dataclass(frozen=True)
class Secret:
    """A secret value that never shows itself in repr/str/logs."""

    _read: Callable[[], str] = field(repr=False)

    def get(self) -> str:
        """Return the current secret value."""
        return self._read()

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


def load_private_key(text: str) -> RSAKey:
    """Parse a private RSA key given as PEM or as a JWK (JSON); ValueError says what is wrong, never the key.

    A JWK keeps its ``kid``, which then names the key in ``private_key_jwt`` assertions (RFC 7523);
    a PEM key has none, and Okta picks the client's only registered key.
    """
    text = text.strip()
    if not text:
        raise ValueError("it is empty")
    try:
        key: RSAKey = RSAKey.import_key(json.loads(text)) if text.startswith("{") else RSAKey.import_key(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"it looks like a JWK but is not valid JSON (line {e.lineno}, column {e.colno})") from e
    except (JoseError, ValueError, TypeError, KeyError) as e:
        raise ValueError("it is neither a PEM-encoded RSA private key nor an RSA JWK") from e
    if not key.is_private:
        raise ValueError("it is a public key; the private key is needed (Okta keeps the public half)")
    return key
