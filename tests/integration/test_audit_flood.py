"""Refusals anyone can provoke cannot grow Airflow's Audit Log (the ``log`` table) without bound.

A bare callback, a wrong event-hook secret: the first few of each (source, reason, minute) are
rows of their own, the rest one row with a ``count``. Checked over real HTTP against a running
api-server, and with the Audit Log sink called 10,000 times against the stack's own database
(SQLite and PostgreSQL, migrated by ``airflow db migrate``).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from okta_security import audit
from tests.conftest import EVENT_HOOK_SECRET
from tests.integration.test_audit import RefusalTally, audit_rows, last_log_id
from tests.unit.fake_clock import FakeClock

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.conftest import Stack

FEW_ROWS = 24  # "a few dozen" at most, whatever the flood; a minute boundary doubles the rows


def counted(rows: list[dict]) -> int:
    """Return how many refusals the rows stand for (an aggregate row stands for its count)."""
    return sum(int(row["extra"].get("count", 1)) for row in rows)


def test_a_flood_of_bare_callbacks_adds_a_few_rows(af: Stack):
    tally = RefusalTally(af.db_url, "login.refused")
    flood = 400
    with requests.Session() as s:
        for _ in range(flood):
            response = s.get(f"{af.url}/auth/oauth-authorized/okta", timeout=30)
            assert response.status_code in (400, 403), response.text[:300]
            s.cookies.clear()  # each call a stranger's: no session, no state
    rows = tally.wait(flood)
    assert len(rows) <= FEW_ROWS, f"{len(rows)} rows for {flood} bare callbacks"
    assert tally.added() == flood
    aggregate = [row for row in rows if row["extra"].get("aggregated")]
    assert aggregate
    assert {row["extra"]["reason"] for row in aggregate} == {"invalid_state"}
    assert all(row["extra"]["client_ip"] == "127.0.0.1" for row in aggregate)


def test_a_flood_of_bad_event_hook_secrets_adds_a_few_rows(af: Stack):
    tally = RefusalTally(af.db_url, "event_hook.rejected")
    flood = 200
    with requests.Session() as s:
        for i in range(flood):
            response = s.post(
                f"{af.url}/auth/okta/events", json={}, headers={"Authorization": f"Bearer guess-{i}"}, timeout=30
            )
            assert response.status_code == 401
    rows = tally.wait(flood)
    assert len(rows) <= FEW_ROWS
    assert tally.added() == flood
    assert EVENT_HOOK_SECRET not in str(rows)


@contextmanager
def _session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session
        session.commit()


def test_ten_thousand_refusals_through_the_sink_add_a_few_rows(af: Stack):
    """The sink itself, on the stack's migrated Airflow database: 10,000 refusals over ~100 s."""
    from okta_security.adapter.audit_log import AuditLogSink

    engine = sa.create_engine(af.db_url)
    clock = FakeClock(t=60.0 * 29_000_000)
    sink = AuditLogSink(session_factory=lambda: _session(engine), clock=clock, background=False)
    since = last_log_id(af.db_url)
    try:
        for _ in range(10_000):
            sink(audit.AuditRecord("login.refused", None, {"reason": "invalid_state", "client_ip": "198.51.100.7"}))
            clock.advance(0.01)
        clock.advance(60)
        sink.flush()
    finally:
        engine.dispose()
    rows = audit_rows(af.db_url, event="login.refused", since_id=since)
    assert len(rows) <= FEW_ROWS, f"{len(rows)} rows for 10,000 refusals"
    assert counted(rows) == 10_000
