"""Secret values: read from a file (re-read when it changes), never shown in repr, str or logs; private keys."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from okta_security.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)


class FileValue:
    """A value read from a file, re-read whenever the file's mtime or size changes."""

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self.name = name
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._value = ""

    def get(self) -> str:
        """Return the file's current content, stripped of surrounding whitespace."""
        try:
            st = os.stat(self.path)
        except OSError as e:
            if self._stamp is None:
                raise ConfigError([f"{self.name}_FILE={self.path}: cannot read: {e.strerror}"]) from e
            log.error("%s_FILE=%s became unreadable (%s); keeping the last value read", self.name, self.path, e)
            return self._value
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._value = Path(self.path).read_text(encoding="utf-8").strip()
                self._stamp = stamp
            return self._value


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
