"""Audit events of the login path, with the request's context (Flask adapter).

The security manager notes facts as a login progresses (``note(sub=..., jti=...)``); the view
emits one decision at the end — ``login.succeeded`` or ``login.refused`` — carrying every fact
known by then, so a refusal after the ID token was verified still names the Okta user and the
token's ``jti``/``sid`` to join with Okta's System Log. Facts live on ``flask.g`` (per request).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from flask import g, has_request_context, request

from okta_security.audit import audit_event

if TYPE_CHECKING:
    from collections.abc import Mapping

    from okta_security.errors import LoginRefused
    from okta_security.oidc.identity import OktaIdentity

REQUEST_ID_HEADER = "X-Request-Id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")  # what proxies emit; anything else is replaced
_FACTS = "okta_audit_facts"
# Attributes some LoginRefused subclasses carry -> audit field: TokenValidationError.reason (which
# check failed), OktaError.error (Okta's OAuth error code), NoMappedRole.groups, Okta's request id.
_REFUSAL_DETAILS = {"reason": "detail", "error": "okta_error", "groups": "groups", "request_id": "okta_request_id"}


def request_id() -> str:
    """Return the request's id: a sane ``X-Request-Id`` header, else one generated per request."""
    cached = g.get("okta_request_id")
    if cached:
        return str(cached)
    given = request.headers.get(REQUEST_ID_HEADER, "")
    value = given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex
    g.okta_request_id = value
    return value


def request_context() -> dict[str, Any]:
    """Return the client address and request id of the current request ({} outside one)."""
    if not has_request_context():
        return {}
    return {"client_ip": request.remote_addr, "request_id": request_id()}


def note(**facts: Any) -> None:
    """Remember facts about the login in progress (None values are skipped)."""
    if not has_request_context():
        return
    known: dict[str, Any] = g.setdefault(_FACTS, {})
    known.update({k: v for k, v in facts.items() if v is not None})


def note_claims(claims: Mapping[str, Any]) -> None:
    """Remember the verified ID token's joinable identifiers (never the token itself)."""
    note(sub=claims.get("sub"), jti=claims.get("jti"), okta_sid=claims.get("sid"))


def facts() -> dict[str, Any]:
    """Return the facts noted during this request."""
    return dict(g.get(_FACTS, {})) if has_request_context() else {}


def audit(event: str, *, owner: str | None, **fields: Any) -> None:
    """Emit ``event`` with the request context and the noted Okta identifiers added."""
    known = facts()
    joined = {k: known[k] for k in ("sub", "jti", "okta_sid") if k in known}
    audit_event(event, owner=owner, **{**joined, **request_context(), **fields})


def login_succeeded(username: str, identity: OktaIdentity, roles: list[str]) -> None:
    """Emit ``login.succeeded`` with the roles granted."""
    audit(
        "login.succeeded",
        owner=username,
        roles=sorted(roles),
        groups=list(identity.groups),
        groups_source=identity.groups_source,
    )


def login_refused(error: LoginRefused) -> None:
    """Emit ``login.refused`` with the stable reason code and whatever is known of the user."""
    known = facts()
    details: dict[str, Any] = {"reason": error.code}
    for attr, field in _REFUSAL_DETAILS.items():
        value = getattr(error, attr, None)
        if value:
            details[field] = value
    if "groups" not in details and "groups" in known:
        details["groups"] = known["groups"]
    audit("login.refused", owner=known.get("username"), **details)
