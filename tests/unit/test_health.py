"""The health report: mapping in force and its history, JWKS age, Okta reachability probed at most every 30 s."""

from __future__ import annotations

from types import SimpleNamespace

import responses

from okta_security.audit import AuditRecord
from okta_security.health import PROBE_CACHE_SECONDS, HealthState, report
from okta_security.okta_api.observe import OktaCall

ISSUER = "https://dev-1.okta.com/oauth2/default"
DISCOVERY = f"{ISSUER}/.well-known/openid-configuration"
SETTINGS = SimpleNamespace(issuer=ISSUER, discovery_url=DISCOVERY, http_timeout_seconds=10.0)


def store(error=None):
    mapping = SimpleNamespace(digest="0123456789abcdef", rules=(1, 2))
    return SimpleNamespace(path="/m.yaml", current=lambda: mapping, last_error=error)


def jwks(age):
    return SimpleNamespace(age=lambda: age)


@responses.activate
def test_a_healthy_report():
    responses.get(DISCOVERY, json={"issuer": ISSUER})
    state = HealthState()
    state.record_audit(AuditRecord("mapping.reloaded", None, {"new_version": "0123456789ab"}))
    state.record_okta_call(OktaCall("token", 200, 0.031, 1_700_000_000.0))
    body = report(SETTINGS, store(), jwks(12.34), state)
    assert body["status"] == "ok"
    assert body["mapping"] == {
        "file": "/m.yaml",
        "version": "0123456789ab",
        "rules": 2,
        "rejected_now": False,
        "last_reload": {"at": body["mapping"]["last_reload"]["at"], "version": "0123456789ab"},
        "last_rejection": None,
    }
    assert body["jwks"] == {"age_seconds": 12.3}
    assert body["okta"]["reachable"] is True
    assert body["okta"]["status"] == 200
    assert body["okta"]["last_answers"] == {"token": {"status": 200, "at": "2023-11-14T22:13:20Z", "ms": 31.0}}


@responses.activate
def test_a_rejected_mapping_or_unreachable_okta_is_degraded():
    responses.get(DISCOVERY, status=503)
    state = HealthState()
    state.record_audit(AuditRecord("mapping.rejected", None, {"problems": ["p1", "p2"]}))
    body = report(SETTINGS, store(error=ValueError("bad")), jwks(None), state)
    assert body["status"] == "degraded"
    assert body["mapping"]["rejected_now"] is True
    assert body["mapping"]["last_rejection"]["problems"] == ["p1", "p2"]
    assert body["jwks"] == {"age_seconds": None}
    assert body["okta"]["reachable"] is False
    assert body["okta"]["status"] == 503


@responses.activate
def test_okta_is_probed_at_most_every_30_seconds():
    responses.get(DISCOVERY, json={})
    state = HealthState()
    state.reachability(SETTINGS, now=100.0)
    state.reachability(SETTINGS, now=100.0 + PROBE_CACHE_SECONDS - 1)
    assert len(responses.calls) == 1
    state.reachability(SETTINGS, now=100.0 + PROBE_CACHE_SECONDS + 1)
    assert len(responses.calls) == 2


def test_an_unreachable_okta_names_the_error():
    settings = SimpleNamespace(
        issuer="x", discovery_url="http://127.0.0.1:9/.well-known/openid-configuration", http_timeout_seconds=1.0
    )
    result = HealthState().reachability(settings)
    assert result["reachable"] is False
    assert result["error"] == "ConnectionError"
