from __future__ import annotations

from typing import Any

from okta_security.audit import AuditRecord
from okta_security.audit.flood_rows import FloodRows
from tests.unit.fake_clock import FakeClock

MINUTE = 60.0 * 29_000_000


class Rows:
    """A RowWriter in memory: row id -> [event, owner, extra]."""

    def __init__(self) -> None:
        self.rows: dict[int, list[Any]] = {}

    def insert(self, event: str, owner: str | None, extra: dict[str, Any], when: Any, name: str | None) -> int:
        self.rows[len(self.rows) + 1] = [event, owner, dict(extra)]
        return len(self.rows)

    def update(self, row_id: int, extra: dict[str, Any]) -> None:
        self.rows[row_id][2] = dict(extra)


def refused() -> AuditRecord:
    return AuditRecord(
        "login.refused", None, {"reason": "invalid_state", "client_ip": "203.0.113.9", "request_id": "r"}
    )


def test_past_the_allowance_one_row_counts_the_rest_exactly_once_flushed():
    clock, writer = FakeClock(t=MINUTE), Rows()
    rows = FloodRows(writer, clock=clock, count_write_seconds=5, per_key=2, max_keys=10)
    assert rows.add(AuditRecord("login.succeeded", "ann", {}), None) is False
    assert [rows.add(refused(), None) for _ in range(100)][1:3] == [False, True]
    assert len(writer.rows) == 1 + 2 + 1
    aggregate = writer.rows[4][2]
    assert aggregate["aggregated"] is True
    assert "request_id" not in aggregate
    assert aggregate["count"] == 1  # no time passed: not rewritten on every refusal
    assert rows.flush() is True  # the minute is still open
    assert writer.rows[4][2]["count"] == 98
    clock.advance(60)
    assert rows.flush() is False
