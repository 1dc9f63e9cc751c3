"""Decide where a user may be sent after login: same-origin relative paths only."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

_MAX_DECODE_ROUNDS = 3  # "%252F%252F" needs two rounds; more is an attack, not a URL


def safe_next(url: str | None, default: str) -> str:
    """Return ``url`` if it is a same-origin relative path, else ``default``."""
    if not url or not isinstance(url, str):
        return default
    decoded = url
    for _ in range(_MAX_DECODE_ROUNDS):
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    for candidate in (url, decoded):
        if any(ord(c) < 0x20 or c in "\\;" for c in candidate):
            return default
        stripped = candidate.strip()
        if not stripped.startswith("/") or stripped.startswith("//"):
            return default
        parts = urlsplit(stripped)
        if parts.scheme or parts.netloc:
            return default
    return url
