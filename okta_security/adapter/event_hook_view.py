"""``/auth/okta/events``: Okta Event Hooks served by Airflow's FAB app.

``GET`` answers Okta's verification challenge; a ``POST`` with the right ``Authorization`` (else
401, audited) is answered at once (Okta gives up after 3 s) while one worker thread applies the
events in order. Each event's id is claimed in ``okta_security_event_receipt`` first, so a
redelivery to any replica does nothing. What an event may do: :mod:`okta_security.lifecycle.event_hooks`.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import jsonify, request
from flask_appbuilder import BaseView, expose

from okta_security.adapter import db, metrics
from okta_security.adapter.login_audit import request_context
from okta_security.adapter.request_body import BodyTooLarge, read_wsgi
from okta_security.audit import audit_event
from okta_security.lifecycle.event_hooks import (
    VERIFICATION_HEADER,
    DeliveryError,
    HookEvent,
    authorized,
    parse_delivery,
    verification_response,
)
from okta_security.untrusted import CLIENT_ADDRESS_CHARS, loggable

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from okta_security.lifecycle.changes import OktaChanges
    from okta_security.mapping.store import MappingStore

log = logging.getLogger(__name__)

PRUNE_INTERVAL_SECONDS = 3600.0  # how often the worker drops old event ids
MAX_BODY_BYTES = 1_000_000  # Okta batches at most 50 events per delivery; a few KB each


@dataclass
class EventHookWorker:
    """Applies event effects off the request thread, one at a time, in arrival order."""

    engine: Engine
    changes: OktaChanges
    mapping: MappingStore
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="okta-hooks"))
    _pruned_at: float = 0.0

    def submit(self, events: list[HookEvent]) -> None:
        for event in events:
            self._pool.submit(self._process_safely, event)

    def _process_safely(self, event: HookEvent) -> None:
        try:
            metrics.event_hook_processed(event.effect, self.process(event))
        except Exception:  # noqa: BLE001 - the worker must survive any one bad event
            log.exception("Okta event %s (%s) could not be processed", loggable(event.uuid), loggable(event.event_type))
            audit_event("event_hook.failed", owner=None, event_uuid=event.uuid, event_type=event.event_type)

    def process(self, event: HookEvent) -> str:
        """Apply one event (idempotent on its uuid); return what happened."""
        if event.effect == "ignore":
            log.info("Okta event %s ignored: %s", loggable(event.event_type), loggable(event.ignored_because))
            return "ignored"
        self._prune_now_and_then()
        if not db.claim_event(self.engine, event.event_id, event.event_type):
            log.info(
                "Okta event %s (%s) already processed; redelivery ignored",
                loggable(event.event_id),
                loggable(event.event_type),
            )
            return "duplicate"
        mapping = self.mapping.current()
        outcomes = [self.changes.on_event(event, sub, mapping) for sub in event.user_ids]
        return ",".join(outcomes) or "no_account"

    def _prune_now_and_then(self) -> None:
        """Forget event ids past their retention, at most hourly (any replica may do it)."""
        now = time.monotonic()
        if now - self._pruned_at < PRUNE_INTERVAL_SECONDS and self._pruned_at:
            return
        self._pruned_at = now
        with self.engine.begin() as conn:
            dropped = db.prune_receipts(conn)
        if dropped:
            log.info("Forgot %d Okta event id(s) older than %s", dropped, db.RECEIPT_RETENTION)

    def wait(self, timeout: float = 10.0) -> None:
        """Wait until the queue is empty (tests)."""
        self._pool.submit(lambda: None).result(timeout)


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
            events = parse_delivery(body, client_id=self.appbuilder.sm.okta_settings.client_id, received_at=db.utcnow())
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


def register_event_hook_view(appbuilder: Any, worker: EventHookWorker) -> OktaEventHookView:
    """Add the endpoint to the FAB app (CSRF-exempt: Okta cannot send a CSRF token)."""
    view = OktaEventHookView()
    view.worker = worker
    appbuilder.add_view_no_menu(view)
    csrf = appbuilder.get_app.extensions.get("csrf")
    if csrf is not None and view.blueprint is not None:
        csrf.exempt(view.blueprint)
    return view
