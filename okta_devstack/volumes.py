"""Write a directory the way the kubelet writes a ConfigMap or Secret volume (its ``AtomicWriter``).

A mounted ConfigMap/Secret is not a plain directory of files. Each key is a symlink
``<key> -> ..data/<key>``; ``..data`` is itself a symlink to a timestamped directory
(``..2026_11_30_13_45_02.123456789``) holding the real files. An update writes a new timestamped
directory, points a new ``..data_tmp`` symlink at it, renames ``..data_tmp`` over ``..data``
(one atomic ``rename(2)``: a reader sees the old set of files or the new one, never a mix),
adds symlinks for new keys, removes those of dropped keys and deletes the old directory.
The file the application opened by name therefore keeps its path while the inode behind
it changes; watching the path's own inode (``lstat``) sees nothing, ever.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

DATA_DIR = "..data"
_DATA_TMP = "..data_tmp"


class KubeletVolume:
    """A directory updated exactly as the kubelet updates a ConfigMap/Secret mount."""

    def __init__(self, root: Path | str, *, mode: int = 0o644) -> None:
        self.root = Path(root)
        self.mode = mode  # the volume's defaultMode (0644 unless the pod spec says otherwise)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """Return the user-visible path of ``key`` (what the application is configured with)."""
        return self.root / key

    def timestamp_dir(self) -> Path | None:
        """Return the directory ``..data`` points at now, or None before the first write."""
        link = self.root / DATA_DIR
        return self.root / os.readlink(link) if link.is_symlink() else None

    def write(self, payload: Mapping[str, str | bytes]) -> Path:
        """Publish ``payload`` (key -> content) as the volume's new content; return the new timestamped dir."""
        old = self.timestamp_dir()
        # The kubelet's name: "..", the UTC time to the second, then a random suffix (os.MkdirTemp).
        prefix = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
        new = Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))
        new.chmod(0o755)
        for key, content in payload.items():
            target = new / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode() if isinstance(content, str) else content)
            target.chmod(self.mode)
        tmp_link = self.root / _DATA_TMP
        if tmp_link.is_symlink():
            tmp_link.unlink()
        os.symlink(new.name, tmp_link)  # relative, as the kubelet makes it
        os.rename(tmp_link, self.root / DATA_DIR)  # the atomic swap
        for key in {k.split("/", 1)[0] for k in payload}:
            visible = self.root / key
            if not visible.is_symlink():
                os.symlink(f"{DATA_DIR}/{key}", visible)
        if old is not None:
            for entry in os.listdir(old):
                visible = self.root / entry
                if entry not in {k.split("/", 1)[0] for k in payload} and visible.is_symlink():
                    visible.unlink()
            shutil.rmtree(old)
        return new
