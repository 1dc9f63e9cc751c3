"""Audit events of the login path, with the request's context (Flask adapter).

Every event carries the login's :class:`LoginAuditFields`, so a refusal after the ID token was
verified still names the Okta user and the token's ``jti``/``sid`` to join with Okta's System Log.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from flask import g, has_request_context, request

from okta_security.audit import audit_event
from okta_security.login.outcome import refusal_details
from okta_security.login.step_up import StepUpOutcome
from okta_security.untrusted import CLIENT_ADDRESS_CHARS, bounded

if TYPE_CHECKING:
    from okta_security.errors import LoginRefused
    from okta_security.login.outcome import LoginAuditFields
    from okta_security.oidc.identity import OktaIdentity

REQUEST_ID_HEADER = "X-Request-Id"
NOTHING_WITHHELD = StepUpOutcome()
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")  # what proxies emit; anything else is replaced


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
    # remote_addr is X-Forwarded-For under [fab] enable_proxy_fix: any text a client chose.
    address = bounded(request.remote_addr, CLIENT_ADDRESS_CHARS) if request.remote_addr else None
    return {"client_ip": address, "request_id": request_id()}


def audit(event: str, facts: LoginAuditFields, *, owner: str | None, **fields: Any) -> None:
    """Emit ``event`` with the request context and the login's Okta identifiers added."""
    audit_event(event, owner=owner, **{**facts.identifiers(), **request_context(), **fields})


def login_succeeded(
    facts: LoginAuditFields,
    username: str,
    identity: OktaIdentity,
    roles: list[str],
    step_up: StepUpOutcome = NOTHING_WITHHELD,
) -> None:
    """Emit ``login.succeeded`` with the roles granted (and the step-up roles withheld, with why)."""
    withheld = {"withheld_roles": list(step_up.withheld), "step_up": step_up.reason} if step_up.withheld else {}
    audit(
        "login.succeeded",
        facts,
        owner=username,
        roles=sorted(r for r in roles if r not in step_up.withheld),
        groups=list(identity.groups),
        groups_source=identity.groups_source,
        **withheld,
    )


def login_refused(error: LoginRefused, facts: LoginAuditFields) -> None:
    """Emit ``login.refused`` with the stable reason code and whatever is known of the user."""
    audit("login.refused", facts, owner=facts.username, **refusal_details(error, facts))
