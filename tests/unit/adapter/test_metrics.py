"""Audit records and Okta calls become okta.* metrics with bounded names; metrics never break a login."""

from __future__ import annotations

from datetime import timedelta

import pytest

from okta_security import metric_names
from okta_security.adapter import metrics
from okta_security.audit import AuditRecord
from okta_security.okta_api.observe import OktaCall


class FakeStats:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, object, dict]] = []

    def incr(self, name, count=1, *, tags=None):
        self.sent.append(("incr", name, count, tags))

    def timing(self, name, dt, *, tags=None):
        self.sent.append(("timing", name, dt, tags))


@pytest.fixture
def sent(monkeypatch):
    fake = FakeStats()
    monkeypatch.setattr(metrics, "stats", lambda: fake)
    return fake.sent


@pytest.mark.parametrize(
    ("event", "fields", "expected"),
    [
        ("login.succeeded", {"groups_source": "id_token"}, [("okta.signin.success", 1, {})]),
        (
            "login.succeeded",
            {"groups_source": "api"},
            [("okta.signin.success", 1, {}), ("okta.groups_api.fallback", 1, {})],
        ),
        (
            "login.refused",
            {"reason": "no_mapped_role"},
            [("okta.signin.refused.no_mapped_role", 1, {"reason": "no_mapped_role"})],
        ),
        (
            "bot.token_refused",
            {"reason": "invalid_access_token"},
            [("okta.bot_token.refused.invalid_access_token", 1, {"reason": "invalid_access_token"})],
        ),
        ("event_hook.received", {"events": 3}, [("okta.event_hook.deliveries", 3, {})]),
        ("login.succeeded", {"sign_in": "api"}, [("okta.person_token.exchanged", 1, {})]),
        (
            "login.refused",
            {"sign_in": "api", "reason": "invalid_access_token"},
            [("okta.person_token.refused.invalid_access_token", 1, {"reason": "invalid_access_token"})],
        ),
        ("user.deactivated", {"trigger": "sync"}, [("okta.user.deactivated.sync", 1, {"trigger": "sync"})]),
        ("user.roles_changed", {}, [("okta.user.roles_changed.unknown", 1, {"trigger": "unknown"})]),
        ("mapping.rejected", {"problems": ["x"]}, [("okta.mapping.rejected", 1, {})]),
        ("something.else", {}, []),
    ],
)
def test_audit_records_become_metrics(sent, event, fields, expected):
    metrics.record_audit(AuditRecord(event, None, fields))
    assert [(name, count, tags) for _, name, count, tags in sent] == expected


def test_a_dimension_is_always_a_safe_bounded_name_part():
    assert metric_names.name_part("no_mapped_role") == "no_mapped_role"
    assert metric_names.name_part("Bad Value.with/dots") == "bad_value_with_dots"
    assert metric_names.name_part("") == "unknown"
    assert len(metric_names.name_part("x" * 500)) == metric_names.NAME_PART_MAX


def test_okta_calls_count_by_endpoint_with_latency_and_429s(sent):
    metrics.record_okta_call(OktaCall("groups_api", 429, 0.25, 0.0))
    metrics.record_okta_call(OktaCall("token", 200, 0.05, 0.0))
    names = [(kind, name) for kind, name, _, _ in sent]
    assert names == [
        ("incr", "okta.http.groups_api.calls"),
        ("timing", "okta.http.groups_api.duration"),
        ("incr", "okta.http.groups_api.rate_limited"),
        ("incr", "okta.http.token.calls"),
        ("timing", "okta.http.token.duration"),
    ]
    assert sent[1][2] == timedelta(seconds=0.25)
    assert sent[0][3] == {"endpoint": "groups_api", "status": "429"}


@pytest.mark.parametrize(
    ("response", "outcome"),
    [(("refused page", 403), "refused"), (type("R", (), {"status_code": 302})(), "success")],
)
def test_the_callback_is_timed_with_its_outcome(sent, response, outcome):
    view = metrics.timed_callback(lambda self, provider: response)
    assert view(None, "okta") is response
    [(kind, name, _, tags)] = sent
    assert (kind, name, tags) == ("timing", "okta.signin.callback_duration", {"outcome": outcome})


def test_a_crashing_callback_is_timed_as_an_error(sent):
    def boom(self, provider):
        raise RuntimeError("x")

    with pytest.raises(RuntimeError):
        metrics.timed_callback(boom)(None, "okta")
    assert sent[0][3] == {"outcome": "error"}


def test_a_broken_stats_backend_never_raises(monkeypatch):
    def broken():
        raise RuntimeError("statsd down")

    monkeypatch.setattr(metrics, "stats", broken)
    metrics.incr("signin.success")
    metrics.event_hook_processed("deactivate", "deactivated")


def test_event_hook_effects_and_duplicates(sent):
    metrics.event_hook_processed("deactivate", "deactivated")
    metrics.event_hook_processed("recompute", "duplicate")
    assert [name for _, name, _, _ in sent] == ["okta.event_hook.events.deactivate", "okta.event_hook.events.duplicate"]


def test_the_stats_backend_is_the_one_airflows_api_server_initializes():
    from airflow.observability import stats as core_stats

    assert metrics.stats() is core_stats
