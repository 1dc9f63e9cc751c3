"""Tests for okta_security.audit.flood: refusals anyone can provoke write a few lines, then one summary."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from okta_security import audit
from okta_security.audit import AuditRecord, audit_event
from okta_security.audit import flood as gate_module
from tests.unit.fake_clock import FakeClock

if TYPE_CHECKING:
    import io


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A flood gate on a hand-moved clock, at the start of a minute."""
    clock = FakeClock(t=60.0 * 29_000_000)
    monkeypatch.setattr(audit, "_flood_gate", gate_module.FloodGate(clock=clock))
    return clock


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_flood_of_one_refusal_writes_a_few_lines_then_one_summary(
    captured: io.StringIO, sinks: list[AuditRecord], gate: FakeClock
):
    for _ in range(10_000):
        audit_event("login.refused", owner=None, reason="invalid_state", client_ip="203.0.113.9")
    assert len(_lines(captured)) == gate_module.FLOOD_LINES_PER_KEY
    assert len(sinks) == 10_000  # the Audit Log sink aggregates on its own

    gate.advance(60)
    audit_event("login.succeeded", owner="alice")  # any later event closes the minute
    *_, summary, after = _lines(captured)
    assert summary["event"] == "audit.suppressed"
    assert summary["suppressed_event"] == "login.refused"
    assert summary["count"] == 10_000 - gate_module.FLOOD_LINES_PER_KEY
    assert (summary["client_ip"], summary["reason"]) == ("203.0.113.9", "invalid_state")
    assert after["event"] == "login.succeeded"


def test_each_source_and_reason_has_its_own_allowance(captured: io.StringIO, gate: FakeClock):
    for ip in ("203.0.113.1", "203.0.113.2"):
        for reason in ("invalid_state", "okta_error"):
            for _ in range(50):
                audit_event("login.refused", owner=None, reason=reason, client_ip=ip)
    assert len(_lines(captured)) == 4 * gate_module.FLOOD_LINES_PER_KEY


def test_many_sources_share_one_allowance_past_the_key_limit(captured: io.StringIO, gate: FakeClock):
    """Rotating addresses (one IPv6 /64 holds 2**64) buys no more lines than the key limit allows."""
    for i in range(5_000):
        audit_event("event_hook.rejected", owner=None, reason="bad_authorization", client_ip=f"2001:db8::{i:x}")
    written = len(_lines(captured))
    assert written <= (gate_module.FLOOD_KEYS_PER_WINDOW + 1) * gate_module.FLOOD_LINES_PER_KEY
    gate.advance(60)
    audit.flush_suppressed()
    summaries = [line for line in _lines(captured) if line["event"] == "audit.suppressed"]
    assert sum(s["count"] for s in summaries) == 5_000 - written
    assert len(summaries) <= gate_module.FLOOD_KEYS_PER_WINDOW + 1


def test_decisions_are_never_suppressed(captured: io.StringIO, gate: FakeClock):
    for _ in range(100):
        audit_event("user.deactivated", owner="bob", reason="okta_deprovisioned")
    assert len(_lines(captured)) == 100


def test_refusals_of_a_person_s_token_are_counted_per_person_a_browser_s_never():
    api = AuditRecord("login.refused", "ann@example.com", {"sign_in": "api", "reason": "stale_token"})
    browser = AuditRecord("login.refused", "ann@example.com", {"reason": "no_mapped_role"})
    assert gate_module.flood_key(api) == ("login.refused", "-", "stale_token", "ann@example.com")
    assert gate_module.flood_key(browser) is None
