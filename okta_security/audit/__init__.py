"""Audit trail: one event per identity decision, as a JSON line and in registered sinks.

``audit_event("login.succeeded", owner="alice", roles=["Admin"])`` writes one JSON line on the
logger ``okta_security.audit`` (where to: :func:`configure`, ``OKTA_AUDIT_LOG_HANDLER``) and hands
the same record to every registered sink (the adapter's writes Airflow's Audit Log). Values are
bounded and redacted first (``redaction``); refusals anyone can provoke cannot flood the lines
(``flood``). Auditing never raises: a failing handler or sink is logged on
``okta_security.audit_errors`` and the caller carries on. No Flask, FAB or Airflow here.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from okta_security.audit.flood import FloodGate, flood_key
from okta_security.audit.record import AuditRecord as AuditRecord  # the record every sink receives
from okta_security.audit.redaction import redact
from okta_security.listeners import Listeners

AUDIT_LOGGER_NAME = "okta_security.audit"
DEFAULT_HANDLER = "stdout"  # JSON lines to the process's stdout, like Airflow's own task logs in containers

audit_log = logging.getLogger(AUDIT_LOGGER_NAME)
log = logging.getLogger("okta_security.audit_errors")  # not a child: never mixed into the JSON lines

Sink = Callable[[AuditRecord], None]

_flood_gate = FloodGate()
_flush_timer: threading.Timer | None = None
_sinks: Listeners[AuditRecord] = Listeners()
_configured = False
_configure_lock = threading.Lock()


register_sink = _sinks.add  # send every later record to a sink too, by name (again: replaces it)
unregister_sink = _sinks.remove  # stop sending records to the sink registered as ``name``


def make_handler(spec: str) -> logging.Handler | None:
    """Return the handler ``OKTA_AUDIT_LOG_HANDLER=spec`` asks for (None = propagate only)."""
    value = (spec or DEFAULT_HANDLER).strip()
    lowered = value.lower()
    if lowered == "stdout":
        handler: logging.Handler = logging.StreamHandler(sys.stdout)
    elif lowered == "stderr":
        handler = logging.StreamHandler(sys.stderr)
    elif lowered == "logging":
        return None
    elif os.path.isabs(value):
        handler = logging.FileHandler(value, encoding="utf-8")
    else:
        raise ValueError(
            f"OKTA_AUDIT_LOG_HANDLER={value!r} is not understood: use stdout, stderr, logging, "
            "or the absolute path of a file to append JSON lines to"
        )
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


def configure(spec: str = DEFAULT_HANDLER, *, force: bool = False) -> None:
    """Attach the JSON-line handler ``spec`` asks for to ``okta_security.audit``, once (again with ``force``).

    ``stdout`` (the default), ``stderr``, ``logging`` (none: records propagate to your logging) or the
    absolute path of a file to append to. A logger configured already (``dictConfig``) is left alone.
    """
    global _configured
    with _configure_lock:
        if _configured and not force:
            return
        if force:
            for old in [h for h in audit_log.handlers if getattr(h, "_okta_audit", False)]:
                audit_log.removeHandler(old)
                old.close()
        _configured = True
        if any(not getattr(h, "_okta_audit", False) for h in audit_log.handlers):
            return  # the deployment configured this logger itself (dictConfig): leave it alone
        audit_log.setLevel(logging.INFO)
        try:
            handler = make_handler(spec)
        except (ValueError, OSError) as e:
            log.error("audit log handler not configured, falling back to stderr: %s", e)
            handler = make_handler("stderr")
        if handler is None:
            audit_log.propagate = True
            return
        handler._okta_audit = True  # type: ignore[attr-defined]
        audit_log.addHandler(handler)
        audit_log.propagate = False  # one line per event, not a second copy through the root logger


def audit_event(event: str, *, owner: str | None, **fields: Any) -> None:
    """Record ``event`` for ``owner`` with ``fields`` (redacted) in the log and every sink; never raise."""
    try:
        record = AuditRecord(
            event=event,
            owner=owner,
            fields={k: redact(v, name=k) for k, v in fields.items() if v is not None},
        )
    except Exception:  # noqa: BLE001 - auditing must never break the caller
        log.exception("could not build audit record for %s", event)
        return
    emit(record)


def emit(record: AuditRecord) -> None:
    """Write an already-built record to the JSON log (unless throttled) and every sink; never raise."""
    try:
        configure()
        key = flood_key(record)
        if key is None:
            write, closed = True, _flood_gate.close_due()
        else:
            admission = _flood_gate.admit(key)
            write, closed = admission.write, admission.closed
        for summary in closed:
            audit_log.info(summary.record().to_json())
        if write:
            audit_log.info(record.to_json())
        else:
            _flush_later()
    except Exception:  # noqa: BLE001
        log.exception("could not write audit event %s to the audit log", record.event)
    _sinks.tell(
        record,
        lambda name, e: log.error("audit sink %s failed for event %s: %s: %s", name, record.event, type(e).__name__, e),
    )


def flush_suppressed() -> None:
    """Write the ``audit.suppressed`` lines of windows that have closed; never raise."""
    global _flush_timer
    _flush_timer = None
    try:
        for summary in _flood_gate.close_due():
            audit_log.info(summary.record().to_json())
    except Exception:  # noqa: BLE001
        log.exception("could not write the suppressed-refusals summary")


def _flush_later() -> None:
    """Make sure the summary is written when the window closes, even if no other event follows."""
    global _flush_timer
    if _flush_timer is not None:
        return
    timer = threading.Timer(_flood_gate.seconds_left() + 1.0, flush_suppressed)
    timer.daemon = True
    _flush_timer = timer
    timer.start()
