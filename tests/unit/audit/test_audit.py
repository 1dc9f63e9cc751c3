"""Tests for okta_security.audit: the JSON line, sinks, handler configuration."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import pytest

from okta_security import audit
from okta_security.audit import AuditRecord, audit_event
from okta_security.audit.redaction import MAX_ITEMS, MAX_TEXT_CHARS, REDACTED

if TYPE_CHECKING:
    import io

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiIwMHUxIn0.c2lnbmF0dXJl"


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


def test_long_strings_and_lists_in_a_record_are_bounded(captured: io.StringIO):
    audit_event("login.refused", owner=None, okta_error="x" * 100_000, groups=[f"g{i}" for i in range(5000)])
    data = json.loads(captured.getvalue())
    assert len(data["okta_error"]) <= MAX_TEXT_CHARS
    assert data["okta_error"].endswith("…")
    assert len(data["groups"]) == MAX_ITEMS + 1
    assert data["groups"][-1] == f"… {5000 - MAX_ITEMS} more"
