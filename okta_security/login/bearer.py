"""What an API door reads from request headers and says back: ``Authorization: Bearer``, RFC 6750 challenges."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol

from okta_security.errors import AccessTokenRejected, BotRefused

if TYPE_CHECKING:
    from collections.abc import Iterable

_SAFE_HEADER_VALUE = re.compile(r"^[A-Za-z0-9._:/+=, -]{1,200}$")


class Headers(Protocol):
    """Request headers as Flask (werkzeug ``Headers``) or FastAPI (a dict) hand them over."""

    def items(self) -> Iterable[tuple[str, str]]: ...


def bearer_token(headers: Headers) -> str | None:
    """Return the token of an ``Authorization: Bearer`` header (any case), or None."""
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def request_facts(headers: Headers) -> dict[str, str]:
    """Return the request id and proxy-forwarded client address from the headers, when sane."""
    lowered = {k.lower(): v for k, v in headers.items()}
    pairs = (("x-request-id", "request_id"), ("x-forwarded-for", "forwarded_for"))
    return {name: lowered[h] for h, name in pairs if _SAFE_HEADER_VALUE.match(lowered.get(h, ""))}


def www_authenticate(error: str, description: str) -> str:
    """Return an RFC 6750 ``WWW-Authenticate`` challenge, the description made header-safe."""
    safe = "".join(("'" if c in '"\\' else c) if 0x20 <= ord(c) < 0x7F else " " for c in description)
    return f'Bearer realm="Airflow", error="{error}", error_description="{safe[:300]}"'


def refusal_fields(error: BotRefused) -> dict[str, str]:
    """Return what a refused bot is told: the error code, what to do, the failed check, its client id."""
    fields = {"error": error.code, "message": error.message}
    if isinstance(error, AccessTokenRejected):
        fields["reason"] = error.reason
    if error.client_id:
        fields["client_id"] = error.client_id
    return fields


def refusal_challenge(error: BotRefused) -> dict[str, str]:
    """Return the RFC 6750 challenge header of a refusal: 401 ``invalid_token``, 403 ``insufficient_scope``."""
    challenge = {401: "invalid_token", 403: "insufficient_scope"}.get(error.http_status)
    return {"WWW-Authenticate": www_authenticate(challenge, error.message)} if challenge else {}
