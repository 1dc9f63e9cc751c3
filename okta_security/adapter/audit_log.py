"""Each audit record becomes a row in Airflow's Audit Log (``log``: event, owner, dttm, JSON extra).

Refusals anyone can provoke (:data:`okta_security.audit.flood.FLOODABLE_EVENTS`) that name no account are
counted per source, reason and minute: the first ``ROWS_PER_KEY`` are rows of their own, the rest
share one ``"aggregated": true`` row whose ``count`` is rewritten at most every
``OKTA_AUDIT_COUNT_WRITE_SECONDS``; past ``ROW_KEYS_PER_WINDOW`` keys, further sources share one.
Rows are written in a session of their own, never riding on (or rolling back with) the request's.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from okta_security.adapter.compat import unscoped_session
from okta_security.audit import AuditRecord, register_sink
from okta_security.audit.flood import FLOOD_WINDOW_SECONDS, OTHER_SOURCE, FloodGate, FloodKey, flood_key
from okta_security.settings.specs import OktaSettings

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from okta_security.audit.flood import Suppressed

log = logging.getLogger(__name__)

SINK_NAME = "airflow_log_table"
EVENT_MAX_LENGTH = 60  # log.event is String(60)
OWNER_MAX_LENGTH = 500  # log.owner is String(500)
ROWS_PER_KEY = 3  # refusals of one (source, reason, owner) a minute written as rows of their own
# Distinct keys per minute; past it, new sources share one key. So a flood from one address adds
# at most 3 + 1 rows a minute, and from any number of addresses (10 + 1) x 4.
ROW_KEYS_PER_WINDOW = 10
# Per-request details of the first refusal say nothing about the thousands it stands for.
_NOT_AGGREGATED = ("request_id", "method")


@dataclass
class _Aggregate:
    """The row standing for one key's refusals past the allowance, in one window."""

    row_id: int
    count: int
    written_count: int
    written_at: float
    extra: dict[str, Any]


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
        self.clock = clock
        self.count_write_seconds = count_write_seconds  # an aggregate row's count lags the truth by at most this much
        self.background = background  # a timer writes lagging counts when the flood stops
        self._gate = FloodGate(clock=clock, per_key=ROWS_PER_KEY, max_keys=ROW_KEYS_PER_WINDOW)
        self._aggregates: dict[tuple[FloodKey, float], _Aggregate] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __call__(self, record: AuditRecord) -> None:
        """Insert ``record``, or count it in its key's aggregate row."""
        key = flood_key(record)
        if key is None:
            self._insert(record.event, record.owner, _extra(record), record.timestamp, _display_name(record))
            return
        with self._lock:
            admission = self._gate.admit(key)
            self._finish(admission.closed)
            if admission.write:
                self._insert(record.event, record.owner, _extra(record), record.timestamp, _display_name(record))
                return
            slot = (admission.key, admission.window_start)
            aggregate = self._aggregates.get(slot)
            if aggregate is None:
                self._aggregates[slot] = self._start_aggregate(record, admission.key, admission.window_start)
            else:
                aggregate.count += 1
                if self.clock() - aggregate.written_at >= self.count_write_seconds:
                    self._write_count(aggregate)
        self._flush_later()

    def flush(self) -> None:
        """Write every count not yet in the database (closed windows and the current one)."""
        with self._lock:
            self._timer = None
            self._finish(self._gate.close_due())
            for aggregate in self._aggregates.values():
                if aggregate.count != aggregate.written_count:
                    self._write_count(aggregate)

    def _start_aggregate(self, record: AuditRecord, key: FloodKey, window_start: float) -> _Aggregate:
        extra = {k: v for k, v in _extra(record).items() if k not in _NOT_AGGREGATED}
        extra.update(
            aggregated=True,
            count=1,
            window_start=datetime.fromtimestamp(window_start, timezone.utc).isoformat(),
            window_seconds=FLOOD_WINDOW_SECONDS,
        )
        event, source, _, owner = key
        if source == OTHER_SOURCE:  # past the key limit, one row counts every further source
            extra["client_ip"] = source
        row_id = self._insert(event, None if owner == "-" else owner, extra, record.timestamp, None)
        return _Aggregate(row_id=row_id, count=1, written_count=1, written_at=self.clock(), extra=extra)

    def _finish(self, closed: list[Suppressed]) -> None:
        """Write the exact counts of windows that closed, and forget them."""
        for summary in closed:
            aggregate = self._aggregates.pop((summary.key, summary.window_start), None)
            if aggregate is not None and aggregate.written_count != summary.count:
                aggregate.count = summary.count
                self._write_count(aggregate)
        # Windows that closed without a summary (nothing past the allowance) hold no aggregate row.
        current = self._gate.window_start
        for slot in [slot for slot in self._aggregates if slot[1] != current]:
            del self._aggregates[slot]

    def _insert(
        self, event: str, owner: str | None, extra: dict[str, Any], when: datetime, display_name: str | None
    ) -> int:
        from airflow.models.log import Log

        row = Log(
            event=event[:EVENT_MAX_LENGTH],
            owner=(owner or "")[:OWNER_MAX_LENGTH] or None,
            owner_display_name=display_name,
            extra=json.dumps(extra, default=str, sort_keys=True),
        )
        row.dttm = when
        with self.session_factory() as session:
            session.add(row)
            session.flush()
            return int(row.id)

    def _write_count(self, aggregate: _Aggregate) -> None:
        from airflow.models.log import Log
        from sqlalchemy import update

        aggregate.extra["count"] = aggregate.count
        with self.session_factory() as session:
            session.execute(
                update(Log)
                .where(Log.id == aggregate.row_id)
                .values(extra=json.dumps(aggregate.extra, default=str, sort_keys=True))
            )
        aggregate.written_count, aggregate.written_at = aggregate.count, self.clock()

    def _flush_later(self) -> None:
        if not self.background or self._timer is not None:
            return
        timer = threading.Timer(self.count_write_seconds, self._flush_safely)
        timer.daemon = True
        self._timer = timer
        timer.start()

    def _flush_safely(self) -> None:
        try:
            self.flush()
        except Exception as e:  # noqa: BLE001 - a timer thread has nobody to raise to
            log.error("could not write the count of repeated refusals to Airflow's Audit Log: %s", type(e).__name__)
        with self._lock:
            pending = bool(self._aggregates)  # a window still open may count more
        if pending:
            self._flush_later()


def _extra(record: AuditRecord) -> dict[str, Any]:
    extra = dict(record.fields)
    extra.setdefault("source", "okta_security")
    return extra


def _display_name(record: AuditRecord) -> str | None:
    name = record.fields.get("display_name")
    return str(name)[:OWNER_MAX_LENGTH] if name else None


_sink = AuditLogSink()


def install(count_write_seconds: float = OktaSettings.audit_count_write_seconds) -> None:
    """Register the Airflow Audit Log sink (idempotent: registering again replaces it)."""
    _sink.count_write_seconds = count_write_seconds
    register_sink(SINK_NAME, _sink)
