"""Airflow adapter for the audit trail: each audit record becomes a row in Airflow's Audit Log.

The row (``airflow.models.log.Log``) has ``event`` = the audit event name (e.g.
``login.succeeded``), ``owner`` = the Airflow username, ``dttm`` = now and ``extra`` = the
record's fields as JSON (already redacted by :mod:`okta_security.audit`). It shows up in the UI's
Audit Log and at ``/api/v2/eventLogs``.

Rows are written in their own, non-scoped session and committed at once: the audit row must
not ride on (or roll back with) the request's FAB session, and committing the FAB session from
here would flush whatever the caller has pending. Callers emit after their own commit, so on
SQLite the two connections never contend for the write lock.
"""

from __future__ import annotations

import json
import logging

from okta_security.audit import AuditRecord, register_sink

log = logging.getLogger(__name__)

SINK_NAME = "airflow_log_table"
EVENT_MAX_LENGTH = 60  # log.event is String(60)
OWNER_MAX_LENGTH = 500  # log.owner is String(500)


def write_log_row(record: AuditRecord) -> None:
    """Insert ``record`` into Airflow's ``log`` table in a session of its own."""
    from airflow.models.log import Log

    from okta_security.adapter.compat import unscoped_session  # Airflow 2.11 has no create_session(scoped=False)

    extra = dict(record.fields)
    extra.setdefault("source", "okta_security")
    row = Log(
        event=record.event[:EVENT_MAX_LENGTH],
        owner=(record.owner or "")[:OWNER_MAX_LENGTH] or None,
        owner_display_name=_display_name(record),
        extra=json.dumps(extra, default=str, sort_keys=True),
    )
    row.dttm = record.timestamp
    with unscoped_session() as session:
        session.add(row)


def _display_name(record: AuditRecord) -> str | None:
    name = record.fields.get("display_name")
    return str(name)[:OWNER_MAX_LENGTH] if name else None


def install() -> None:
    """Register the Airflow Audit Log sink (idempotent: registering again replaces it)."""
    register_sink(SINK_NAME, write_log_row)
