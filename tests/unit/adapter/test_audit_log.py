"""Tests for okta_security.adapter.audit_log: rows in Airflow's ``log`` table, refusal floods aggregated."""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from airflow.models.log import Log
from sqlalchemy.orm import Session

from okta_security.adapter.audit_log import AuditLogSink
from okta_security.audit import AuditRecord
from okta_security.audit.flood import OTHER_SOURCE
from okta_security.audit.flood_rows import ROW_KEYS_PER_WINDOW, ROWS_PER_KEY
from tests.unit.fake_clock import FakeClock

if TYPE_CHECKING:
    from collections.abc import Iterator

MINUTE = 60.0 * 29_000_000  # a round minute, in epoch seconds


@pytest.fixture
def engine(tmp_path) -> Iterator[sa.Engine]:
    """SQLite with Airflow's own ``log`` table (its model, as ``airflow db migrate`` creates it)."""
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'airflow.db'}")
    Log.__table__.create(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(t=MINUTE)


@pytest.fixture
def sink(engine: sa.Engine, clock: FakeClock) -> AuditLogSink:
    @contextmanager
    def session() -> Iterator[Session]:
        with Session(engine) as s:
            yield s
            s.commit()

    return AuditLogSink(session_factory=session, clock=clock, background=False)


def rows(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT event, owner, extra FROM log ORDER BY id")).mappings().all()
    return [{**row, "extra": json.loads(row["extra"])} for row in found]


def refused(ip: str = "203.0.113.9", reason: str = "invalid_state", owner: str | None = None) -> AuditRecord:
    return AuditRecord("login.refused", owner, {"reason": reason, "client_ip": ip, "request_id": "r1"})


def test_a_decision_is_one_row(sink: AuditLogSink, engine: sa.Engine):
    sink(AuditRecord("login.succeeded", "alice", {"roles": ["Admin"]}))
    [row] = rows(engine)
    assert (row["event"], row["owner"]) == ("login.succeeded", "alice")
    assert row["extra"] == {"roles": ["Admin"], "source": "okta_security"}


def test_ten_thousand_refusals_from_one_source_in_a_minute_are_four_rows(
    sink: AuditLogSink, engine: sa.Engine, clock: FakeClock
):
    for _ in range(10_000):
        sink(refused())
        clock.advance(0.005)  # 50 s
    found = rows(engine)
    assert len(found) == ROWS_PER_KEY + 1
    *single, aggregate = found
    assert all("count" not in row["extra"] for row in single)
    assert aggregate["extra"]["aggregated"] is True
    assert aggregate["extra"]["reason"] == "invalid_state"
    assert aggregate["extra"]["client_ip"] == "203.0.113.9"
    assert "request_id" not in aggregate["extra"]  # the first one's id says nothing about the rest
    assert aggregate["extra"]["count"] <= 10_000 - ROWS_PER_KEY  # written every few seconds, not per refusal

    clock.advance(60)
    sink.flush()
    assert rows(engine)[-1]["extra"]["count"] == 10_000 - ROWS_PER_KEY  # exact once the minute is over


def test_each_minute_reason_and_owner_has_its_own_rows(sink: AuditLogSink, engine: sa.Engine, clock: FakeClock):
    for reason in ("invalid_state", "okta_error"):
        for _ in range(10):
            sink(refused(reason=reason))
    clock.advance(60)
    for _ in range(10):
        sink(refused())
    sink.flush()
    found = rows(engine)
    assert len(found) == 3 * (ROWS_PER_KEY + 1)
    assert sum(row["extra"].get("count", 1) for row in found) == 30


def test_rotating_sources_share_one_key_past_the_limit(sink: AuditLogSink, engine: sa.Engine):
    for i in range(5_000):
        sink(refused(ip=f"2001:db8::{i:x}"))
    sink.flush()
    found = rows(engine)
    assert len(found) <= ROW_KEYS_PER_WINDOW + ROWS_PER_KEY + 1
    assert sum(row["extra"].get("count", 1) for row in found) == 5_000
    assert found[-1]["extra"]["client_ip"] == OTHER_SOURCE
