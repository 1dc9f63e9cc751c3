"""Each audit record becomes a row in Airflow's Audit Log (``log``: event, owner, dttm, JSON extra).

Floods of refusals are aggregated (:mod:`okta_security.audit.flood_rows`). Rows are written in a
session of their own, never riding on (or rolling back with) the request's.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from okta_security.adapter.compat import unscoped_session
from okta_security.audit import register_sink
from okta_security.audit.flood_rows import FloodRows
from okta_security.settings.specs import OktaSettings

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from datetime import datetime

    from okta_security.audit import AuditRecord

log = logging.getLogger(__name__)

SINK_NAME = "airflow_log_table"
EVENT_MAX_LENGTH = 60  # log.event is String(60)
OWNER_MAX_LENGTH = 500  # log.owner is String(500)


class AuditLogSink:
    """Write audit records to Airflow's ``log`` table, aggregating floods of refusals."""

    def __init__(
        self,
        session_factory: Callable[[], AbstractContextManager[Any]] = unscoped_session,
        *,
        clock: Callable[[], float] = time.time,
        background: bool = True,
        count_write_seconds: float = OktaSettings.audit_count_write_seconds,
    ) -> None:
        self.session_factory = session_factory
        self.background = background  # a timer writes lagging counts when the flood stops
        self.rows = FloodRows(self, clock=clock, count_write_seconds=count_write_seconds)
        self._timer: threading.Timer | None = None

    def __call__(self, record: AuditRecord) -> None:
        """Insert ``record``, or count it in its key's aggregate row."""
        name = record.fields.get("display_name")
        if self.rows.add(record, str(name)[:OWNER_MAX_LENGTH] if name else None):
            self._flush_later()

    def flush(self) -> bool:
        """Write every count not yet in the database; return whether a window is still open."""
        self._timer = None
        return self.rows.flush()

    def insert(self, event: str, owner: str | None, extra: dict[str, Any], when: datetime, name: str | None) -> int:
        from airflow.models.log import Log

        row = Log(
            event=event[:EVENT_MAX_LENGTH],
            owner=(owner or "")[:OWNER_MAX_LENGTH] or None,
            owner_display_name=name,
            extra=json.dumps(extra, default=str, sort_keys=True),
        )
        row.dttm = when
        with self.session_factory() as session:
            session.add(row)
            session.flush()
            return int(row.id)

    def update(self, row_id: int, extra: dict[str, Any]) -> None:
        from airflow.models.log import Log
        from sqlalchemy import update

        with self.session_factory() as session:
            session.execute(
                update(Log).where(Log.id == row_id).values(extra=json.dumps(extra, default=str, sort_keys=True))
            )

    def _flush_later(self) -> None:
        if not self.background or self._timer is not None:
            return
        timer = threading.Timer(self.rows.count_write_seconds, self._flush_safely)
        timer.daemon = True
        self._timer = timer
        timer.start()

    def _flush_safely(self) -> None:
        try:
            pending = self.flush()
        except Exception as e:  # noqa: BLE001 - a timer thread has nobody to raise to
            log.error("could not write the count of repeated refusals to Airflow's Audit Log: %s", type(e).__name__)
            pending = True
        if pending:
            self._flush_later()


_sink = AuditLogSink()


def install(count_write_seconds: float = OktaSettings.audit_count_write_seconds) -> None:
    """Register the Airflow Audit Log sink (idempotent: registering again replaces it)."""
    _sink.rows.count_write_seconds = count_write_seconds
    register_sink(SINK_NAME, _sink)
