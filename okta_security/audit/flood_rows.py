"""Audit rows under a flood: which records get a row of their own, and the counting row for the rest (pure).

Refusals anyone can provoke (:data:`okta_security.audit.flood.FLOODABLE_EVENTS`) that name no account are
counted per source, reason and minute: the first :data:`ROWS_PER_KEY` are rows of their own, the rest share one
``"aggregated": true`` row whose ``count`` is rewritten at most every ``count_write_seconds``; past
``ROW_KEYS_PER_WINDOW`` keys, further sources share one. A :class:`RowWriter` (Airflow's ``log`` table) writes them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from okta_security.audit.flood import FLOOD_WINDOW_SECONDS, OTHER_SOURCE, FloodGate, FloodKey, flood_key

if TYPE_CHECKING:
    from collections.abc import Callable

    from okta_security.audit.flood import Suppressed
    from okta_security.audit.record import AuditRecord

ROWS_PER_KEY = 3  # refusals of one (source, reason, owner) a minute written as rows of their own
# Distinct keys per minute; past it, new sources share one key. So a flood from one address adds
# at most 3 + 1 rows a minute, and from any number of addresses (10 + 1) x 4.
ROW_KEYS_PER_WINDOW = 10
# Per-request details of the first refusal say nothing about the thousands it stands for.
_NOT_AGGREGATED = ("request_id", "method")


class RowWriter(Protocol):
    """Where audit rows go."""

    def insert(self, event: str, owner: str | None, extra: dict[str, Any], when: datetime, name: str | None) -> int:
        """Write a row; return its id."""
        ...

    def update(self, row_id: int, extra: dict[str, Any]) -> None: ...


@dataclass
class _Aggregate:
    """The row standing for one key's refusals past the allowance, in one window."""

    row_id: int
    count: int
    written_count: int
    written_at: float
    extra: dict[str, Any]


def record_extra(record: AuditRecord) -> dict[str, Any]:
    return {"source": "okta_security", **record.fields}


class FloodRows:
    """Turn audit records into rows, aggregating floods of refusals (thread-safe)."""

    def __init__(
        self,
        writer: RowWriter,
        *,
        clock: Callable[[], float],
        count_write_seconds: float,
        per_key: int = ROWS_PER_KEY,
        max_keys: int = ROW_KEYS_PER_WINDOW,
    ) -> None:
        self.writer = writer
        self.clock = clock
        self.count_write_seconds = count_write_seconds  # an aggregate row's count lags the truth by at most this much
        self._gate = FloodGate(clock=clock, per_key=per_key, max_keys=max_keys)
        self._aggregates: dict[tuple[FloodKey, float], _Aggregate] = {}
        self._lock = threading.Lock()

    def add(self, record: AuditRecord, display_name: str | None) -> bool:
        """Write ``record``, or count it in its key's aggregate row; return whether a count may lag."""
        key = flood_key(record)
        if key is None:
            self.writer.insert(record.event, record.owner, record_extra(record), record.timestamp, display_name)
            return False
        with self._lock:
            admission = self._gate.admit(key)
            self._finish(admission.closed)
            if admission.write:
                self.writer.insert(record.event, record.owner, record_extra(record), record.timestamp, display_name)
                return False
            slot = (admission.key, admission.window_start)
            aggregate = self._aggregates.get(slot)
            if aggregate is None:
                self._aggregates[slot] = self._start_aggregate(record, admission.key, admission.window_start)
            else:
                aggregate.count += 1
                if self.clock() - aggregate.written_at >= self.count_write_seconds:
                    self._write_count(aggregate)
        return True

    def flush(self) -> bool:
        """Write every count not yet written (closed windows and the current one); return whether a window is open."""
        with self._lock:
            self._finish(self._gate.close_due())
            for aggregate in self._aggregates.values():
                if aggregate.count != aggregate.written_count:
                    self._write_count(aggregate)
            return bool(self._aggregates)  # a window still open may count more

    def _start_aggregate(self, record: AuditRecord, key: FloodKey, window_start: float) -> _Aggregate:
        extra = {k: v for k, v in record_extra(record).items() if k not in _NOT_AGGREGATED}
        started = datetime.fromtimestamp(window_start, timezone.utc).isoformat()
        extra.update(aggregated=True, count=1, window_start=started, window_seconds=FLOOD_WINDOW_SECONDS)
        event, source, _, owner = key
        if source == OTHER_SOURCE:  # past the key limit, one row counts every further source
            extra["client_ip"] = source
        row_id = self.writer.insert(event, None if owner == "-" else owner, extra, record.timestamp, None)
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

    def _write_count(self, aggregate: _Aggregate) -> None:
        aggregate.extra["count"] = aggregate.count
        self.writer.update(aggregate.row_id, aggregate.extra)
        aggregate.written_count, aggregate.written_at = aggregate.count, self.clock()
