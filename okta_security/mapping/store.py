"""Role-mapping files: load one, or hold the current mapping and reload it when the file changes.

A bad edit never takes effect: the last good mapping stays in force, the error is logged and
``on_reject`` is told. The file is read outside the store's lock, without blocking and no further
than MAX_MAPPING_BYTES (:mod:`okta_security.files`): a path to a FIFO, a device or a huge file is
refused like any bad edit, and a login never waits on it. Pure logic: no Flask, FAB or Airflow imports.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from typing import TYPE_CHECKING

from okta_security.errors import MappingError
from okta_security.files import FileRefused, FileVersion, file_version, read_versioned, version_of
from okta_security.mapping.rules import KnownRoles, RoleMapping, parse_mapping

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

log = logging.getLogger(__name__)

MAX_MAPPING_BYTES = 1_048_576  # a mapping of thousands of rules is a few hundred KB; more is not a mapping


def _unreadable(source: str, exc: OSError) -> MappingError:
    fix = (
        f"point OKTA_ROLE_MAPPING_FILE at a regular YAML file of at most {MAX_MAPPING_BYTES} bytes "
        "(a symlink to one, as Kubernetes mounts, is fine)"
        if isinstance(exc, FileRefused)
        else "create or restore the file, or fix its path or permissions"
    )
    reason = exc.strerror or str(exc)
    return MappingError([f"{source}:1: cannot read the role-mapping file ({reason}) — {fix}"], source=source)


# What a check found, read outside the lock: the file unchanged, its new bytes, or why it can't be read.
_Look = tuple[FileVersion, bytes] | OSError | None


def _read(source: str) -> tuple[FileVersion, bytes]:
    try:
        return read_versioned(source, MAX_MAPPING_BYTES)
    except OSError as exc:
        raise _unreadable(source, exc) from exc


def load_mapping(path: str | os.PathLike[str], *, known_roles: Collection[str] | None = None) -> RoleMapping:
    """Read and parse a role-mapping file; raise MappingError if it is unreadable or invalid."""
    source = os.fsdecode(os.fspath(path))
    return parse_mapping(_read(source)[1], source=source, known_roles=known_roles)


_RETRY = object()


class MappingStore:
    """Holds the current mapping; reloads when the file changes; keeps the last good one on a bad edit."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        known_roles: KnownRoles = None,
        on_reload: Callable[[RoleMapping, RoleMapping], object] | None = None,
        on_reject: Callable[[MappingError], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        check_interval: float = 1.0,
    ) -> None:
        self.path = os.fsdecode(os.fspath(path))
        self._known_roles = known_roles
        self._on_reload = on_reload
        self._on_reject = on_reject
        self._clock = clock
        self.check_interval = check_interval
        self._lock = threading.RLock()
        self.last_error: MappingError | None = None  # why the file on disk is not in use, or None if it is
        self._rejected_digest = ""  # the bytes last refused: a touch or an identical swap is not news
        fingerprint, self._raw = _read(self.path)
        self._fingerprint: object = fingerprint  # or None (missing) or _RETRY (roles could not be listed)
        self._mapping = mapping = parse_mapping(self._raw, source=self.path, known_roles=self._known())
        self._last_check = clock()
        log.info("Loaded role mapping %s (version %s, %d rules)", self.path, mapping.digest[:12], len(mapping.rules))

    def current(self) -> RoleMapping:
        """Return the mapping in force, re-checking the file at most every check_interval seconds."""
        now = self._clock()
        if now - self._last_check < self.check_interval:
            return self._mapping
        look = self._look()  # outside the lock: whatever the path leads to, no login waits on the read
        with self._lock:
            if now - self._last_check >= self.check_interval:
                try:
                    self._apply(look)
                except Exception:  # never let a reload bug break logins
                    log.exception("Unexpected error while checking role mapping %s; keeping the current one", self.path)
                self._last_check = now  # after _apply: the fast path must not see the old mapping
            return self._mapping

    def refresh(self) -> RoleMapping:
        """Check the file now, ignoring check_interval, and return the mapping in force."""
        look = self._look()
        with self._lock:
            self._apply(look)
            self._last_check = self._clock()
            return self._mapping

    def attach(
        self,
        *,
        known_roles: KnownRoles,
        on_reload: Callable[[RoleMapping, RoleMapping], object] | None = None,
        on_reject: Callable[[MappingError], object] | None = None,
    ) -> None:
        """Bind role names and callbacks known only later (the database); re-check the mapping in force.

        Raise MappingError if it names an unknown role: at start-up that stops the webserver with file:line and fix.
        """
        with self._lock:
            self._known_roles = known_roles
            self._on_reload = on_reload or self._on_reload
            self._on_reject = on_reject or self._on_reject
            self._mapping = parse_mapping(self._raw, source=self.path, known_roles=self._known())

    def _known(self) -> Collection[str] | None:
        return self._known_roles() if callable(self._known_roles) else self._known_roles

    def _look(self) -> _Look:
        """Return the file's fingerprint and bytes if it changed, None if not, or why it cannot be read."""
        try:
            if file_version(self.path) == self._fingerprint:
                return None
            return read_versioned(self.path, MAX_MAPPING_BYTES)
        except OSError as exc:
            return exc

    def _apply(self, look: _Look) -> None:
        """Act on what _look found; must hold the lock."""
        if look is None:
            return
        if isinstance(look, OSError):
            # A refused file is remembered by its fingerprint, a missing one as None: either is
            # reported once, and a refused file is not read again until it changes.
            failed = version_of(os.path.realpath(self.path), look.stat) if isinstance(look, FileRefused) else None
            if failed != self._fingerprint or self.last_error is None:
                self._fingerprint = failed
                self._reject(_unreadable(self.path, look))
            return
        if look[0] == self._fingerprint:  # another caller applied this version meanwhile
            return
        self._reload(*look)

    def _reload(self, fingerprint: FileVersion, data: bytes) -> None:
        """Use the file's new bytes if they parse, else keep the mapping in force; must hold the lock."""
        self._fingerprint = fingerprint
        old = self._mapping
        digest = hashlib.sha256(data).hexdigest()
        if digest == self._rejected_digest and self.last_error is not None:
            return
        if digest == old.digest:
            if self.last_error is not None:
                log.info("Role mapping %s is back to version %s, which is in use", self.path, old.digest[:12])
                self.last_error = None
            return
        try:
            known = self._known()
        except Exception:
            log.exception("Could not list the known Airflow roles; will retry reloading %s", self.path)
            self._fingerprint = _RETRY
            return
        try:
            new = parse_mapping(data, source=self.path, known_roles=known)
        except MappingError as exc:
            self._reject(exc, digest)
            return
        self._mapping = new
        self._raw = data
        self.last_error = None
        change = f"{old.digest[:12]} -> {new.digest[:12]}"
        log.info("Reloaded role mapping %s (version %s, %d rules)", self.path, change, len(new.rules))
        self._notify("on_reload", self._on_reload, old, new)

    def _reject(self, error: MappingError, digest: str = "") -> None:
        """Keep the last good mapping, remember and log the error, and notify on_reject."""
        self.last_error = error
        self._rejected_digest = digest
        log.error("Role mapping %s rejected; still using version %s. %s", self.path, self._mapping.digest[:12], error)
        self._notify("on_reject", self._on_reject, error)

    def _notify(self, name: str, callback: Callable[..., object] | None, *args: object) -> None:
        try:
            if callback is not None:
                callback(*args)
        except Exception:
            log.exception("%s callback failed for role mapping %s", name, self.path)
