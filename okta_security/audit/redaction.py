"""Audit values bounded and without secrets, in time linear in their length.

Fields whose name looks secret (token, secret, password, code, authorization, cookie, assertion,
credential, key) and values that look like JWTs or ``SSWS``/``Bearer`` credentials become
``"[redacted]"``. A string keeps at most ``MAX_TEXT_CHARS`` characters, a list ``MAX_ITEMS`` items
(the rest counted), so one request carrying megabytes of text costs milliseconds and one bounded line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

REDACTED = "[redacted]"

# Field names that hold credentials: whole words inside snake/camel case names ("id_token",
# "client_secret", "authCode"). Names ending in a safe suffix (token_jti, token_type) are kept.
_SECRET_WORDS = re.compile(
    r"(?:^|_)(?:token|tokens|secret|secrets|password|passwd|pwd|code|authorization|cookie|cookies|"
    r"assertion|credential|credentials|key|apikey|ssws|verifier|signature|session_token)(?:_|$)"
)
_SAFE_SUFFIXES = ("_jti", "_type", "_count", "_id_hint_present", "_reason", "_expires_at", "_age")
_SAFE_NAMES = frozenset({"reason", "error", "refusal_code", "status_code", "event", "owner"})
# A compact JWS/JWT is three base64url segments whose header starts with '{"' ("eyJ"): found by
# _redact_jwts in one pass. An HTTP credential with its scheme is matched at the start only.
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_.-]+")  # maximal runs: each character is looked at once
_JWT_HEADER = "eyJ"
_JWT_MIN_HEADER = 8  # "eyJ" and at least 5 more characters before the first dot
_CREDENTIAL_VALUE = re.compile(r"^\s*(?:SSWS|Bearer|Basic)\s+\S", re.IGNORECASE)
MAX_TEXT_CHARS = 2000  # per string value; a group list or a problem report fits, a flood does not
MAX_ITEMS = 500  # per list or mapping; Okta puts at most 100 groups in a token
MAX_DEPTH = 8  # nesting beyond this is written as (bounded) text
MAX_NAME_CHARS = 200  # per field name


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("-", "_")


def is_secret_name(name: str) -> bool:
    """Return True if a field called ``name`` would hold a credential."""
    key = _snake(name)
    if key in _SAFE_NAMES or key.endswith(_SAFE_SUFFIXES):
        return False
    return bool(_SECRET_WORDS.search(key))


def redact(value: Any, *, name: str = "", _depth: int = 0) -> Any:
    """Return ``value`` bounded, with secret-looking fields and values replaced by ``[redacted]``."""
    if name and is_secret_name(name):
        return REDACTED if value not in (None, "", [], {}) else value
    if isinstance(value, str):
        return _bounded(_redact_text(value))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if _depth >= MAX_DEPTH or not isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return redact(str(value))
    if isinstance(value, Mapping):
        pairs = list(itertools.islice(value.items(), MAX_ITEMS + 1))
        out = {}
        for k, v in pairs[:MAX_ITEMS]:
            key = _bounded(str(k), MAX_NAME_CHARS)
            out[key] = redact(v, name=key, _depth=_depth + 1)
        if len(pairs) > MAX_ITEMS:
            out["…"] = f"{len(value) - MAX_ITEMS} more"
        return out
    items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
    kept = [redact(v, _depth=_depth + 1) for v in itertools.islice(items, MAX_ITEMS)]
    if len(value) > MAX_ITEMS:
        kept.append(f"… {len(value) - MAX_ITEMS} more")
    return kept


def _bounded(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _redact_text(text: str) -> str:
    """Return ``text`` with credentials and JWTs replaced, in time linear in its length."""
    if _CREDENTIAL_VALUE.match(text):
        return REDACTED
    if _JWT_HEADER not in text:
        return text
    parts: list[str] = []
    done = 0
    for run in _TOKEN_RUN.finditer(text):
        chars = run.group()
        if _JWT_HEADER not in chars or "." not in chars:
            continue
        redacted = _redact_jwts(chars)
        if redacted is not chars:
            parts += [text[done : run.start()], redacted]
            done = run.end()
    return "".join([*parts, text[done:]]) if parts else text


def _redact_jwts(run: str) -> str:
    """Return a run of base64url characters and dots with each compact JWS in it redacted.

    Leftmost first, as a regular expression would match ``eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*``:
    the header starts at the first "eyJ" of a segment (a later one would be shorter), needs a
    non-empty payload segment after it, and a signature segment (possibly empty) after that.
    """
    segments = run.split(".")
    out: list[str] = []
    i = 0
    while i < len(segments):
        segment = segments[i]
        start = segment.find(_JWT_HEADER)
        if start >= 0 and len(segment) - start >= _JWT_MIN_HEADER and i + 2 < len(segments) and segments[i + 1]:
            out.append(segment[:start] + REDACTED)
            i += 3
        else:
            out.append(segment)
            i += 1
    return ".".join(out) if len(out) != len(segments) else run
