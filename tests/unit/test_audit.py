"""Tests for okta_security.audit: redaction, the JSON line, sinks, handler configuration."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from okta_security import audit
from okta_security.audit import REDACTED, AuditRecord, audit_event, is_secret_name, redact
from tests.unit.fake_clock import FakeClock

if TYPE_CHECKING:
    from collections.abc import Iterator

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiIwMHUxIn0.c2lnbmF0dXJl"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Route the audit logger to a buffer (as OKTA_AUDIT_LOG_HANDLER would to stdout)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._okta_audit = True  # type: ignore[attr-defined]
    saved = (list(audit.audit_log.handlers), audit.audit_log.propagate, audit._configured)
    audit.audit_log.handlers = [handler]
    audit.audit_log.setLevel(logging.INFO)
    audit._configured = True
    yield stream
    audit.audit_log.handlers, audit.audit_log.propagate, audit._configured = saved


@pytest.fixture
def sinks() -> Iterator[list[AuditRecord]]:
    seen: list[AuditRecord] = []
    audit.register_sink("test", seen.append)
    yield seen
    audit.unregister_sink("test")


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("id_token", True),
        ("access_token", True),
        ("client_secret", True),
        ("code", True),
        ("authCode", True),
        ("code_verifier", True),
        ("password", True),
        ("Authorization", True),
        ("cookie", True),
        ("client_assertion", True),
        ("api_key", True),
        ("private_key", True),
        ("jti", False),
        ("token_jti", False),
        ("token_type", False),
        ("reason", False),
        ("sub", False),
        ("okta_sid", False),
        ("request_id", False),
        ("roles", False),
        ("error", False),
        ("groups", False),
    ],
)
def test_secret_field_names(name: str, secret: bool):
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (JWT, REDACTED),
        (f"token was {JWT} here", f"token was {REDACTED} here"),
        ("SSWS 00abcdef", REDACTED),
        ("Bearer abc.def", REDACTED),
        ("basic dXNlcjpwYXNz", REDACTED),
        ("alice@example.com", "alice@example.com"),
        (["a", JWT], ["a", REDACTED]),
        ({"nested": {"refresh_token": "r", "ok": 1}}, {"nested": {"refresh_token": REDACTED, "ok": 1}}),
        ({"a", "b"}, ["a", "b"]),
        (None, None),
        (3, 3),
    ],
)
def test_redact_values(value: object, expected: object):
    assert redact(value) == expected


def test_event_is_one_json_line_with_owner_and_fields(captured: io.StringIO, sinks: list[AuditRecord]):
    audit_event("login.succeeded", owner="alice", roles=["Admin"], sub="00u1", id_token=JWT, skipped=None)
    [line] = captured.getvalue().splitlines()
    data = json.loads(line)
    assert data["event"] == "login.succeeded"
    assert data["owner"] == "alice"
    assert data["roles"] == ["Admin"]
    assert data["id_token"] == REDACTED
    assert "skipped" not in data
    assert data["ts"].endswith("Z")
    [record] = sinks
    assert record.fields["id_token"] == REDACTED  # sinks get the redacted record too
    assert JWT not in line


def test_failing_sink_never_breaks_the_caller(captured: io.StringIO, caplog: pytest.LogCaptureFixture):
    def broken(record: AuditRecord) -> None:
        raise RuntimeError("database is down")

    audit.register_sink("broken", broken)
    try:
        with caplog.at_level(logging.ERROR, logger="okta_security.audit_errors"):
            audit_event("user.created", owner="bob")  # must not raise
    finally:
        audit.unregister_sink("broken")
    assert "audit sink broken failed for event user.created" in caplog.text
    assert json.loads(captured.getvalue())["event"] == "user.created"


def test_unserialisable_values_are_stringified(captured: io.StringIO):
    audit_event("x.y", owner=None, when=datetime(2024, 1, 2, tzinfo=timezone.utc), obj=object())
    data = json.loads(captured.getvalue())
    assert data["when"].startswith("2024-01-02")
    assert data["obj"].startswith("<object object")


def test_record_as_dict_puts_the_envelope_first():
    record = AuditRecord("a.b", "o", {"k": 1}, timestamp=datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert list(record.as_dict()) == ["ts", "event", "owner", "k"]
    assert record.as_dict()["ts"] == "2024-01-01T00:00:00.000Z"


@pytest.mark.parametrize(("spec", "kind"), [("stdout", "stream"), ("STDERR", "stream"), ("logging", None)])
def test_handler_specs(spec: str, kind: str | None):
    handler = audit.make_handler(spec)
    assert (handler is None) == (kind is None)


def test_file_handler_spec(tmp_path):
    handler = audit.make_handler(str(tmp_path / "audit.jsonl"))
    assert isinstance(handler, logging.FileHandler)
    handler.close()


def test_bad_handler_spec_names_the_setting():
    with pytest.raises(ValueError, match="OKTA_AUDIT_LOG_HANDLER='relative/path'"):
        audit.make_handler("relative/path")


def test_configure_leaves_a_dictconfig_handler_alone():
    saved = (list(audit.audit_log.handlers), audit.audit_log.propagate, audit._configured)
    mine = logging.NullHandler()
    audit.audit_log.handlers = [mine]
    try:
        audit.configure("stdout", force=True)
        assert audit.audit_log.handlers == [mine]
    finally:
        audit.audit_log.handlers, audit.audit_log.propagate, audit._configured = saved


def test_configure_to_a_file_writes_lines(tmp_path):
    saved = (list(audit.audit_log.handlers), audit.audit_log.propagate, audit._configured)
    audit.audit_log.handlers = []
    path = tmp_path / "audit.jsonl"
    try:
        audit.configure(str(path), force=True)
        audit_event("mapping.reloaded", owner=None, rules=3)
        for h in audit.audit_log.handlers:
            h.flush()
        assert json.loads(path.read_text())["rules"] == 3
    finally:
        for h in audit.audit_log.handlers:
            h.close()
        audit.audit_log.handlers, audit.audit_log.propagate, audit._configured = saved


# -- bounded work on untrusted input ------------------------------------------------------------

# The JWT pattern redaction used before it became a linear scan: kept as the reference its
# replacement must agree with on every input.
_REFERENCE_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def _cpu_seconds(text: str, repeats: int = 3) -> float:
    """Return the least CPU time of a few redactions of ``text`` (the least is the least noisy)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        redact(text)
        best = min(best, time.process_time() - start)
    return max(best, 1e-6)


@pytest.mark.parametrize(
    "unit",
    [
        "eyJ",  # every position starts a would-be token that never finds its dot
        "eyJaaaaa.",  # a dot after each would-be header, never a payload and a second dot
        "eyJaaaaa.b",
        "xeyJ-",
    ],
)
def test_redaction_is_linear_on_hostile_input(unit: str):
    """Ten times the input costs about ten times the work, not a hundred (a quadratic scan)."""
    small = unit * (10_000 // len(unit))
    large = unit * (100_000 // len(unit))
    ratio = _cpu_seconds(large) / _cpu_seconds(small)
    assert ratio < 30, f"redacting 10x more text took {ratio:.0f}x longer"


@pytest.mark.parametrize("unit", ["eyJ", "eyJaaaaa.", "eyJaaaaa.b.", "x.eyJ-", f"{JWT} "])
def test_redaction_looks_at_each_character_once(monkeypatch: pytest.MonkeyPatch, unit: str):
    """Counted, not timed: the JWT check sees each character of the input in at most one run."""
    seen: list[int] = []
    check = audit._redact_jwts

    def counting(run: str) -> str:
        seen.append(len(run))
        return check(run)

    monkeypatch.setattr(audit, "_redact_jwts", counting)
    text = unit * (200_000 // len(unit))
    redact(text)
    assert sum(seen) <= len(text)


def test_redaction_of_a_megabyte_is_quick():
    start = time.process_time()
    redacted = redact("eyJ" * 350_000)
    assert time.process_time() - start < 2.0
    assert len(redacted) <= audit.MAX_TEXT_CHARS + 1


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="eyJab0_-.. \n", max_size=60))
def test_linear_redaction_finds_what_the_pattern_found(text: str):
    assert redact(text) == _REFERENCE_JWT.sub(REDACTED, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{JWT}.{JWT}", f"{REDACTED}.{REDACTED}"),
        (f"x{JWT}y", f"x{REDACTED}"),
        ("eyJshort.a.b", REDACTED),  # five characters after eyJ are enough
        ("eyJshor.a.b", "eyJshor.a.b"),  # four are not
        ("eyJabcde..c", "eyJabcde..c"),  # an empty payload segment is not a JWS
        ("eyJabcde.b.", REDACTED),
    ],
)
def test_linear_redaction_examples(text: str, expected: str):
    assert redact(text) == expected


def test_long_strings_and_lists_in_a_record_are_bounded(captured: io.StringIO):
    audit_event("login.refused", owner=None, okta_error="x" * 100_000, groups=[f"g{i}" for i in range(5000)])
    data = json.loads(captured.getvalue())
    assert len(data["okta_error"]) <= audit.MAX_TEXT_CHARS
    assert data["okta_error"].endswith("…")
    assert len(data["groups"]) == audit.MAX_ITEMS + 1
    assert data["groups"][-1] == f"… {5000 - audit.MAX_ITEMS} more"


def test_a_secret_cut_short_is_still_redacted():
    """Redaction runs before the cut: the head of a long JWT never survives as plain text."""
    token = "eyJ" + "a" * 3000 + ".b.c"
    assert redact(f"see {token}") == f"see {REDACTED}"


# -- refusal floods -----------------------------------------------------------------------------


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A flood gate on a hand-moved clock, at the start of a minute."""
    clock = FakeClock(t=60.0 * 29_000_000)
    monkeypatch.setattr(audit, "_flood_gate", audit.FloodGate(clock=clock))
    return clock


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_flood_of_one_refusal_writes_a_few_lines_then_one_summary(
    captured: io.StringIO, sinks: list[AuditRecord], gate: FakeClock
):
    for _ in range(10_000):
        audit_event("login.refused", owner=None, reason="invalid_state", client_ip="203.0.113.9")
    assert len(_lines(captured)) == audit.FLOOD_LINES_PER_KEY
    assert len(sinks) == 10_000  # the Audit Log sink aggregates on its own

    gate.advance(60)
    audit_event("login.succeeded", owner="alice")  # any later event closes the minute
    *_, summary, after = _lines(captured)
    assert summary["event"] == "audit.suppressed"
    assert summary["suppressed_event"] == "login.refused"
    assert summary["count"] == 10_000 - audit.FLOOD_LINES_PER_KEY
    assert (summary["client_ip"], summary["reason"]) == ("203.0.113.9", "invalid_state")
    assert after["event"] == "login.succeeded"


def test_each_source_and_reason_has_its_own_allowance(captured: io.StringIO, gate: FakeClock):
    for ip in ("203.0.113.1", "203.0.113.2"):
        for reason in ("invalid_state", "okta_error"):
            for _ in range(50):
                audit_event("login.refused", owner=None, reason=reason, client_ip=ip)
    assert len(_lines(captured)) == 4 * audit.FLOOD_LINES_PER_KEY


def test_many_sources_share_one_allowance_past_the_key_limit(captured: io.StringIO, gate: FakeClock):
    """Rotating addresses (one IPv6 /64 holds 2**64) buys no more lines than the key limit allows."""
    for i in range(5_000):
        audit_event("event_hook.rejected", owner=None, reason="bad_authorization", client_ip=f"2001:db8::{i:x}")
    written = len(_lines(captured))
    assert written <= (audit.FLOOD_KEYS_PER_WINDOW + 1) * audit.FLOOD_LINES_PER_KEY
    gate.advance(60)
    audit.flush_suppressed()
    summaries = [line for line in _lines(captured) if line["event"] == "audit.suppressed"]
    assert sum(s["count"] for s in summaries) == 5_000 - written
    assert len(summaries) <= audit.FLOOD_KEYS_PER_WINDOW + 1


def test_decisions_are_never_suppressed(captured: io.StringIO, gate: FakeClock):
    for _ in range(100):
        audit_event("user.deactivated", owner="bob", reason="okta_deprovisioned")
    assert len(_lines(captured)) == 100


def test_refusals_of_a_person_s_token_are_counted_per_person_a_browser_s_never():
    api = audit.AuditRecord("login.refused", "ann@example.com", {"sign_in": "api", "reason": "stale_token"})
    browser = audit.AuditRecord("login.refused", "ann@example.com", {"reason": "no_mapped_role"})
    assert audit.flood_key(api) == ("login.refused", "-", "stale_token", "ann@example.com")
    assert audit.flood_key(browser) is None
