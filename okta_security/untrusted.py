"""Text from outside (a request, Okta, an event hook) made safe to keep: bounded and printable.

Whatever a browser, a bot or Okta sends may be any length and hold any character. Before such
text reaches a regular expression, a log line, the audit trail or a page it is cut to a limit
that fits what it can legitimately be (:func:`bounded`); before it reaches a plain (non-JSON)
log line its control characters are escaped (:func:`printable`), so ``\\n`` in a query string
cannot write a second, forged line. Both run in time linear in their input. This module imports
nothing of ours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

ELLIPSIS = "…"

# Limits of what each value can legitimately be; longer text is cut (and can no longer match).
OAUTH_ERROR_CHARS = 64  # RFC 6749 §4.1.2.1 error codes are short ASCII words (access_denied)
OAUTH_ERROR_DESCRIPTION_CHARS = 500  # Okta's descriptions are one or two sentences
GROUP_NAME_CHARS = 255  # Okta refuses longer group names (profile.name)
CLIENT_ADDRESS_CHARS = 64  # an IPv6 address with a zone id; more is a forged X-Forwarded-For
# Query parameters of the OIDC callback: code and state are opaque but short (Okta's code is 43
# characters; FAB's state is a small JWT carrying ``next``); anything longer cannot be genuine.
CALLBACK_PARAM_CHARS: Mapping[str, int] = {
    "error": OAUTH_ERROR_CHARS,
    "error_description": OAUTH_ERROR_DESCRIPTION_CHARS,
    "error_uri": 500,
    "code": 1024,
    "state": 8192,
}
OTHER_PARAM_CHARS = 256  # any other parameter of the callback (Okta sends none we use)


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# C0 and C1 controls and DEL end or rewrite a terminal line; U+2028/2029 are line breaks to
# some log viewers; bidirectional overrides reorder what a reader sees (CVE-2021-42574).
_CONTROL = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F)]
_CONTROL += [*range(0x2066, 0x206A)]
_ESCAPES = {code: _escape(code) for code in _CONTROL}


def bounded(text: object, limit: int) -> str:
    """Return ``text`` as a string of at most ``limit`` characters, ending in ``…`` if it was cut."""
    value = text if isinstance(text, str) else str(text)
    if len(value) <= limit:
        return value
    return value[: max(limit - 1, 0)] + ELLIPSIS if limit > 0 else ""


def printable(text: object) -> str:
    """Return ``text`` with control and line-breaking characters written as ``\\xNN`` escapes."""
    value = text if isinstance(text, str) else str(text)
    return value.translate(_ESCAPES)


def loggable(text: object, limit: int = OAUTH_ERROR_DESCRIPTION_CHARS) -> str:
    """Return ``text`` bounded to ``limit`` characters, then escaped: safe in one plain log line."""
    return printable(bounded(text, limit))


def bounded_params(params: Mapping[str, str], limits: Mapping[str, int] = CALLBACK_PARAM_CHARS) -> dict[str, str]:
    """Return the query parameters with each value cut to its limit (``OTHER_PARAM_CHARS`` if unlisted)."""
    return {bounded(k, OTHER_PARAM_CHARS): bounded(v, limits.get(k, OTHER_PARAM_CHARS)) for k, v in params.items()}
