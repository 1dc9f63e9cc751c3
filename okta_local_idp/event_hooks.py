"""Okta Event Hooks: one-time verification and at-least-once delivery of System Log events.

Configured in the YAML file (``event_hooks:``, see config/idp_users.yaml)::

    event_hooks:
      - name: airflow
        url: http://127.0.0.1:8080/auth/okta/events
        authorization: "Bearer some-shared-secret"    # sent verbatim as the Authorization header
        events: [user.lifecycle.deactivate, ...]      # optional; default: every type below

Like Okta: a hook receives nothing until verified (``POST /api/v1/eventHooks/{id}/lifecycle/verify``
sends a GET with ``x-okta-verification-challenge`` and expects ``{"verification": <value>}``);
deliveries are POSTs of ``{"eventType": "com.okta.event_hook", "data": {"events": [...]}}`` sent
asynchronously with a 3-second timeout and one retry. Every attempt is recorded for tests
(``GET /__idp/event-hooks/deliveries``).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import requests

from .models import EVENT_TYPES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .context import IdpContext
    from .models import EventHook, User
    from .store import EventHookState

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_SECONDS = 3.0  # Okta waits 3 s for the hook's answer
DELIVERY_ATTEMPTS = 2  # the first try and one retry (timeouts and 5xx)


def _now() -> str:
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def user_target(user: User, target_type: str = "User") -> dict[str, Any]:
    """Return a System Log ``target`` entry for ``user``."""
    return {
        "id": user.id,
        "type": target_type,
        "alternateId": user.login,
        "displayName": user.name,
        "detailEntry": None,
    }


def system_log_event(
    idp: IdpContext, event_type: str, targets: list[dict[str, Any]], *, actor: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return one Okta System Log event (the fields event hooks carry)."""
    return {
        "uuid": str(uuid.uuid4()),
        "published": _now(),
        "eventType": event_type,
        "version": "0",
        "displayMessage": EVENT_TYPES.get(event_type, event_type),
        "severity": "INFO",
        "client": {"userAgent": None, "zone": "null", "device": "Unknown", "id": None, "ipAddress": "127.0.0.1"},
        "actor": dict(
            actor
            or {
                "id": "00uapitoken000000000",
                "type": "PublicClientApp",
                "alternateId": "API token",
                "displayName": "Management API",
                "detailEntry": None,
            }
        ),
        "outcome": {"result": "SUCCESS", "reason": None},
        "target": targets,
        "transaction": {"type": "WEB", "id": secrets.token_urlsafe(16), "detail": {}},
        "debugContext": {"debugData": {"requestId": secrets.token_urlsafe(20)}},
        "legacyEventType": None,
        "authenticationContext": {"authenticationStep": 0, "externalSessionId": None},
        "securityContext": {},
        "insertionTimestamp": None,
    }


def delivery_body(idp: IdpContext, hook: EventHook, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the JSON body of one delivery."""
    return {
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": f"{idp.base_url}/api/v1/eventHooks/{hook.id}",
        "eventId": str(uuid.uuid4()),
        "data": {"events": events},
        "eventTime": _now(),
        "contentType": "application/json",
    }


def state_of(idp: IdpContext) -> EventHookState:
    """Return the event hook state of one IdP."""
    return idp.store.event_hooks


def verify(idp: IdpContext, hook: EventHook) -> tuple[bool, str]:
    """Send the one-time verification challenge; return (verified, what happened)."""
    challenge = secrets.token_urlsafe(32)
    try:
        resp = requests.get(
            hook.url,
            headers={"x-okta-verification-challenge": challenge, "Authorization": hook.authorization},
            timeout=DELIVERY_TIMEOUT_SECONDS,
        )
        ok = resp.status_code == 200 and resp.json().get("verification") == challenge
        detail = f"HTTP {resp.status_code}"
    except (requests.RequestException, ValueError, AttributeError) as exc:
        ok, detail = False, type(exc).__name__
    if ok:
        state_of(idp).mark_verified(hook)
    log.info("event hook %s verification %s (%s)", hook.name, "succeeded" if ok else "failed", detail)
    return ok, detail


def publish(idp: IdpContext, events: list[dict[str, Any]]) -> None:
    """Deliver ``events`` to every verified hook subscribed to their types, in the background."""
    state = state_of(idp)
    for hook in idp.config.event_hooks:
        wanted = [e for e in events if e["eventType"] in hook.events]
        if not wanted:
            continue
        if not state.verified(hook):
            log.info("event hook %s is not verified; %d event(s) not delivered", hook.name, len(wanted))
            continue
        deliver_async(idp, hook, delivery_body(idp, hook, wanted))


def deliver_async(idp: IdpContext, hook: EventHook, body: dict[str, Any]) -> None:
    """POST ``body`` to ``hook`` on a background thread (one retry), recording every attempt."""
    entry: dict[str, Any] = {
        "hook": hook.name,
        "event_id": body["eventId"],
        "event_types": [e["eventType"] for e in body["data"]["events"]],
        "event_uuids": [e["uuid"] for e in body["data"]["events"]],
        "body": body,
        "attempts": [],
    }
    state = state_of(idp)
    state.record(entry)

    def run() -> None:
        for _ in range(DELIVERY_ATTEMPTS):
            started = time.monotonic()
            try:
                resp = requests.post(
                    hook.url,
                    json=body,
                    headers={"Authorization": hook.authorization, "Accept": "application/json"},
                    timeout=DELIVERY_TIMEOUT_SECONDS,
                )
                outcome: dict[str, Any] = {"status": resp.status_code}
            except requests.RequestException as exc:
                resp, outcome = None, {"error": type(exc).__name__}
            outcome["seconds"] = round(time.monotonic() - started, 3)
            entry["attempts"].append(outcome)
            if resp is not None and resp.status_code < 500:
                return  # delivered (or refused for good: 4xx is not retried)
        log.warning(
            "event hook %s: delivery %s failed after %d attempts", hook.name, body["eventId"], DELIVERY_ATTEMPTS
        )

    state.start(threading.Thread(target=run, name=f"event-hook:{hook.name}", daemon=True))
