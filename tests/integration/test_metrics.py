"""okta.* metrics through Airflow's own Stats, received on a local StatsD socket during real logins.

The stack's Airflow sends StatsD to a socket this process reads (``[metrics] statsd_on``,
``statsd_prefix = airflow``); every name below is documented in docs/metrics.md.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from tests.conftest import EVENT_HOOK_SECRET, MAPPING_SETTLE_SECONDS
from tests.integration.helpers import okta_login, rewrite

if TYPE_CHECKING:
    from tests.integration.conftest import NativeStack

ALICE = ("alice.admin@example.com", "Admin-pass-1")
CAROL = ("carol.nobody@example.com", "Nobody-pass-1")
MAPPING_CHECK_INTERVAL = MAPPING_SETTLE_SECONDS  # after an edit: OKTA_ROLE_MAPPING_CHECK_SECONDS and a margin
DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def received(stack: NativeStack, *names: str) -> set[str]:
    wanted = {f"airflow.okta.{name}" for name in names}
    got = stack.statsd.wait_for(lambda seen: wanted <= seen)
    assert wanted <= got, f"missing: {sorted(wanted - got)}; received: {sorted(n for n in got if '.okta.' in n)}"
    return got


def kinds(stack: NativeStack, name: str) -> set[str]:
    """Return the StatsD types (c, ms, g) received for ``airflow.okta.<name>``."""
    return {line.rsplit("|", 1)[-1] for line in stack.statsd.lines() if line.startswith(f"airflow.okta.{name}:")}


def test_sign_ins_count_by_outcome_and_reason_with_the_callbacks_duration(native: NativeStack):
    _, ok = okta_login(native.url, *ALICE)
    assert ok.status_code == 200
    _, refused = okta_login(native.url, *CAROL)
    assert refused.status_code == 403
    received(native, "signin.success", "signin.refused.no_mapped_role", "signin.callback_duration")
    assert kinds(native, "signin.success") == {"c"}
    assert kinds(native, "signin.callback_duration") == {"ms"}


def test_okta_calls_count_by_endpoint_with_latency_and_groups_api_fallbacks(native: NativeStack):
    okta_login(native.url, *ALICE)
    received(
        native,
        "http.token.calls",
        "http.token.duration",
        "http.userinfo.calls",
        "http.groups_api.calls",
        "http.groups_api.duration",
        "groups_api.fallback",  # the stack's ID tokens carry no groups: Okta's Groups API gives them
    )
    assert kinds(native, "http.token.duration") == {"ms"}


def test_rate_limits_are_counted(native: NativeStack):
    native.idp.set_faults(api_status=429, api_status_times=1, api_rate_limit_reset_in=1)
    try:
        _, final = okta_login(native.url, *ALICE)
    finally:
        native.idp.clear_faults()
    assert final.status_code == 200  # waited out the reset, then Okta answered
    received(native, "http.groups_api.rate_limited")


def test_mapping_reloads_and_rejections_are_counted(native: NativeStack):
    original = native.mapping.read_text()
    try:
        okta_login(native.url, *ALICE)  # primes the store's check clock
        rewrite(native.mapping, original.replace("mappings:\n", "mappings:\n  marketing: [Viewer]\n", 1))
        time.sleep(MAPPING_CHECK_INTERVAL)
        okta_login(native.url, *ALICE)
        received(native, "mapping.reloaded")
        rewrite(native.mapping, "mappings:\n  a: [Admn\n")
        time.sleep(MAPPING_CHECK_INTERVAL)
        okta_login(native.url, *ALICE)
        received(native, "mapping.rejected")
    finally:
        rewrite(native.mapping, original)
        time.sleep(MAPPING_CHECK_INTERVAL)
        okta_login(native.url, *ALICE)


def test_bot_token_refusals_are_counted_by_reason(native: NativeStack):
    answer = requests.post(
        f"{native.url}/auth/token", headers={"Authorization": "Bearer not-a-jwt"}, json={}, timeout=30
    )
    assert answer.status_code == 401
    reason = answer.json()["detail"]["error"]
    received(native, f"bot_token.refused.{reason}")


def test_event_hook_deliveries_count_by_effect(native: NativeStack):
    url = f"{native.url}/auth/okta/events"
    assert requests.post(url, json={"data": {"events": []}}, timeout=30).status_code in (401, 403)
    delivery = {
        "data": {
            "events": [
                {
                    "uuid": "metrics-test-event-1",
                    "eventType": "user.lifecycle.deactivate",
                    "published": "2026-01-01T00:00:00.000Z",
                    "target": [{"type": "User", "id": "00unobodyhere0000000", "alternateId": "nobody@example.com"}],
                },
                {"uuid": "metrics-test-event-2", "eventType": "user.session.start", "target": []},
            ]
        }
    }
    answer = requests.post(url, json=delivery, headers={"Authorization": EVENT_HOOK_SECRET}, timeout=30)
    assert answer.status_code == 200, answer.text
    received(native, "event_hook.rejected.no_authorization", "event_hook.deliveries", "event_hook.events.deactivate")


def test_every_metric_received_is_documented(native: NativeStack):
    okta_login(native.url, *ALICE)
    received(native, "signin.success")
    documented = DOCS.read_text()
    for name in sorted(n for n in native.statsd.names() if n.startswith("airflow.okta.")):
        parts = name.removeprefix("airflow.").split(".")
        # A documented name may stand for a family: okta.signin.refused.<reason>, okta.http.<endpoint>.calls.
        assert any(_matches(pattern, parts) for pattern in _documented_names(documented)), name


def _documented_names(text: str) -> list[list[str]]:
    return [line.split("`")[1].split(".") for line in text.splitlines() if line.startswith("| `okta.")]


def _matches(pattern: list[str], parts: list[str]) -> bool:
    return len(pattern) == len(parts) and all(p.startswith("<") or p == q for p, q in zip(pattern, parts, strict=True))
