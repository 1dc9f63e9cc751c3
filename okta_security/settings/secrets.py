"""Secret values: read from a file (re-read when it changes), never shown in repr, str or logs; private keys."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from okta_security.errors import ConfigError
from okta_security.files import FileVersion, file_version, read_versioned

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)


MAX_FILE_BYTES = 65_536  # a secret, a key or a setting; a PEM RSA key of 4096 bits is about 3.3 KB


class FileValue:
    """A value read from a file, re-read whenever the file the path resolves to changes (Kubernetes swaps a
    mounted Secret's symlinks); read outside the lock, as :mod:`okta_security.files` reads: never blocking.
    """

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self.name = name
        self._lock = threading.Lock()
        self._version: FileVersion | None = None
        self._value = ""
        self._refused: object = None  # the failure last logged, so a lasting one is one line

    def get(self) -> str:
        """Return the file's current content, stripped of surrounding whitespace."""
        try:
            version = file_version(self.path)
            if version == self._version:
                return self._value
            version, data = read_versioned(self.path, MAX_FILE_BYTES)
            value = data.decode("utf-8").strip()
        except (OSError, ValueError) as e:  # ValueError: not UTF-8 text
            return self._unreadable(e)
        with self._lock:
            self._version, self._value, self._refused = version, value, None
            return value

    def _unreadable(self, error: OSError | ValueError) -> str:
        """Name the variable, the path, the error's type and the fix, never the file's content."""
        # A UnicodeDecodeError's text quotes a byte of the file.
        reason = (error.strerror or "cannot be read") if isinstance(error, OSError) else "it is not UTF-8 text"
        problem = (
            f"{self.name}_FILE={self.path}: cannot read ({type(error).__name__}: {reason}) — give the path of a "
            f"readable, regular UTF-8 file of at most {MAX_FILE_BYTES} bytes (a symlink to one, as Kubernetes "
            "mounts, is fine)"
        )
        if self._version is None:
            raise ConfigError([problem]) from None  # not from error: its text could quote the file
        failure = (problem, getattr(error, "stat", None))
        if failure != self._refused:
            self._refused = failure
            log.error("%s; keeping the last value read", problem)
        return self._value


@dataclass(frozen=True)
class Secret:
    """A secret value that never shows itself in repr/str/logs."""

    _read: Callable[[], str] = field(repr=False)

    def get(self) -> str:
        return self._read()

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


def load_private_key(text: str) -> RSAKey:
    """Parse a private RSA key given as PEM or as a JWK (JSON); ValueError says what is wrong, never the key.

    A JWK keeps its ``kid``, naming the key in ``private_key_jwt`` assertions; Okta picks a PEM key's only one.
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
