"""``/auth/okta/events``: Okta Event Hooks served by Airflow's FAB app.

``GET`` answers Okta's verification challenge; a ``POST`` with the right ``Authorization`` (else
401, audited) is answered at once (Okta gives up after 3 s) while the worker
(:mod:`okta_security.lifecycle.hook_worker`) applies the events in order, each claimed once in
``okta_security_event_receipt``. What an event may do: :mod:`okta_security.lifecycle.event_hooks`.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from flask import jsonify, request
from flask_appbuilder import BaseView, expose

from okta_security.adapter import db
from okta_security.adapter.login_audit import request_context
from okta_security.adapter.request_body import BodyTooLarge, read_wsgi
from okta_security.audit import audit_event
from okta_security.lifecycle.event_hooks import (
    VERIFICATION_HEADER,
    DeliveryError,
    authorized,
    parse_delivery,
    verification_response,
)
from okta_security.untrusted import CLIENT_ADDRESS_CHARS, loggable

if TYPE_CHECKING:
    from okta_security.lifecycle.hook_worker import EventHookWorker

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000  # Okta batches at most 50 events per delivery; a few KB each


class OktaEventHookView(BaseView):
    """The event hook endpoint; one instance per app, holding the worker."""

    route_base = "/okta"
    default_view = "events"
    worker: EventHookWorker | None = None

    def _refuse(self, why: str) -> Any:
        log.warning(
            "Okta event hook call refused from %s: %s", loggable(request.remote_addr, CLIENT_ADDRESS_CHARS), why
        )
        audit_event("event_hook.rejected", owner=None, reason=why, method=request.method, **request_context())
        return jsonify({"error": "unauthorized"}), 401

    @expose("/events", methods=["GET", "POST"])
    def events(self) -> Any:
        """Answer Okta's verification (GET) or accept a delivery (POST)."""
        secret = self.appbuilder.sm.okta_settings.event_hook_secret
        secret = secret.get() if secret is not None else None
        if not secret:
            return jsonify({"error": "event hooks are not enabled (OKTA_EVENT_HOOK_SECRET is not set)"}), 404
        if not authorized(request.headers.get("Authorization"), secret):
            return self._refuse("bad_authorization" if request.headers.get("Authorization") else "no_authorization")
        if request.method == "GET":
            answer = verification_response(request.headers.get(VERIFICATION_HEADER))
            if answer is None:
                return jsonify({"error": f"missing {VERIFICATION_HEADER} header"}), 400
            log.info("Answered Okta's event hook verification challenge")
            return jsonify(answer)
        try:
            data = read_wsgi(MAX_BODY_BYTES)
        except BodyTooLarge as e:
            return jsonify({"error": "request_too_large", "message": str(e)}), 413
        try:
            # RecursionError: "[[[[…" nested past Python's limit; parse_delivery refuses a body that is not JSON.
            body = json.loads(data) if request.is_json else None
        except (ValueError, RecursionError):
            body = None
        try:
            sm = self.appbuilder.sm
            listed = frozenset(rule.client_id for rule in sm.okta_mapping.current().agents)
            events = parse_delivery(body, client_id=sm.okta_settings.client_id, received_at=db.utcnow(), agents=listed)
        except DeliveryError as e:
            return jsonify({"error": str(e)}), 400
        acted = [e for e in events if e.effect != "ignore"]
        audit_event(
            "event_hook.received",
            owner=None,
            events=len(events),
            ignored=len(events) - len(acted),
            event_types=sorted({e.event_type for e in events}),
            event_uuids=[e.uuid or e.event_id for e in acted][:50],
            **request_context(),
        )
        if self.worker is not None:
            self.worker.submit(events)
        return jsonify({"received": len(events), "queued": len(acted), "ignored": len(events) - len(acted)})
