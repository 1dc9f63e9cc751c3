"""Universal Logout: the org tells each app to sign a person out (draft-parecki-oauth-global-token-revocation).

An app opts in with ``universal_logout:`` in its client entry (Okta: the app's Authentication →
Logout settings)::

    clients:
      - client_id: airflow-local
        universal_logout:
          url: http://127.0.0.1:8080/auth/okta/global-token-revocation
          subject_format: iss_sub        # or email (Okta's default)

Like Okta, the request is a POST of ``{"sub_id": {...}}`` authenticated by a JWT signed with the
org's key (``iss`` the org URL, ``sub`` the app's client id, ``aud`` the endpoint, five minutes,
a fresh ``jti``) — Okta's "Signed JWT", the only method it offers. Two ways to send one:

- ``DELETE /api/v1/users/{id}/sessions`` (Okta's "Revoke all user sessions"): ends the person's
  sign-in sessions here, then signs them out of every app that opted in;
- ``POST /__idp/universal-logout`` ``{"user": <id or login>, "client_id": <optional>}`` (loopback
  admin action): the same requests, without ending the IdP sessions; answers each app's status.

Every request is recorded for tests (``GET /__idp/universal-logout``), the JWT's claims with it.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

import requests
from flask import Response, jsonify, request

from . import admin_api
from .context import current_idp
from .management_api import _user_not_found, blueprint

if TYPE_CHECKING:
    from .context import IdpContext
    from .models import Client, User

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 3.0
JWT_LIFETIME_SECONDS = 300  # draft §3.5: five minutes


def subject(idp: IdpContext, user: User, subject_format: str) -> dict[str, Any]:
    """Return the RFC 9493 subject identifier of ``user`` in ``subject_format``."""
    if subject_format == "email":
        return {"format": "email", "email": user.email}
    return {"format": "iss_sub", "iss": idp.base_url, "sub": user.id}


def assertion(idp: IdpContext, client: Client, audience: str) -> tuple[str, dict[str, Any]]:
    """Return a signed request JWT for ``client``'s endpoint and its claims."""
    now = int(time.time())
    claims = {
        "iss": idp.base_url,  # the org, whose keys are at {org}/oauth2/v1/keys
        "sub": client.client_id,
        "aud": audience,
        "iat": now,
        "exp": now + JWT_LIFETIME_SECONDS,
        "jti": f"ULO{uuid.uuid4().hex}",
    }
    return idp.keys.sign(claims), claims


def send(idp: IdpContext, client: Client, user: User) -> dict[str, Any]:
    """POST one Universal Logout request to ``client``'s endpoint; return (and record) what happened."""
    target = client.universal_logout
    assert target is not None
    token, claims = assertion(idp, client, target.url)
    body = {"sub_id": subject(idp, user, target.subject_format)}
    entry: dict[str, Any] = {"client_id": client.client_id, "user": user.id, "url": target.url, "body": body}
    entry["claims"] = claims
    started = time.monotonic()
    try:
        resp = requests.post(
            target.url,
            json=body,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        entry["status"] = resp.status_code
    except requests.RequestException as exc:
        entry["error"] = type(exc).__name__
    entry["seconds"] = round(time.monotonic() - started, 3)
    idp.store.universal_logouts.append(entry)
    log.info("Universal Logout of %s at %s: %s", user.login, client.client_id, entry.get("status", entry.get("error")))
    return entry


def send_to_all(idp: IdpContext, user: User, client_id: str | None = None) -> list[dict[str, Any]]:
    """Sign ``user`` out of every app that opted in (or only ``client_id``)."""
    clients = [c for c in idp.config.clients.values() if c.universal_logout is not None]
    return [send(idp, c, user) for c in clients if client_id in (None, c.client_id)]


@blueprint.delete("/users/<user_key>/sessions")
def revoke_user_sessions(user_key: str) -> Response | tuple[Response, int]:
    """End the user's sessions here, then sign them out of every app with Universal Logout (Okta answers 204)."""
    idp = current_idp()
    user = idp.config.find_user(user_key)
    if user is None:
        return _user_not_found(user_key)
    ended = idp.store.close_user_sessions(user.id)
    log.info("revoked %d session(s) of %s", ended, user.login)
    send_to_all(idp, user)
    return Response(status=204)


@admin_api.blueprint.post("/universal-logout")
def universal_logout_action() -> Response | tuple[Response, int]:
    """Admin action: send Universal Logout for ``{"user": …, "client_id": …}``; answer each app's outcome."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("user"), str):
        return jsonify({"error": 'body must be {"user": <id or login>, "client_id": <optional>}'}), 400
    idp = current_idp()
    user = idp.config.find_user(payload["user"])
    if user is None:
        return jsonify({"error": f"no user {payload['user']!r}"}), 404
    client_id = payload.get("client_id")
    return jsonify(send_to_all(idp, user, client_id if isinstance(client_id, str) else None))


@admin_api.blueprint.get("/universal-logout")
def universal_logout_requests() -> Response:
    """Return every Universal Logout request sent so far."""
    return jsonify(list(current_idp().store.universal_logouts))
