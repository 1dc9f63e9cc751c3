"""The local IdP counts requests per endpoint and delays back-channel calls by ``latency_ms``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
import requests

from okta_local_idp.backchannel import RequestStats, endpoint_label
from okta_local_idp.faults import FaultError, validate_faults

if TYPE_CHECKING:
    from collections.abc import Iterator

    from okta_local_idp.server import IdpHandle
    from tests.idp.okta_contract import ContractTarget, Flow

pytestmark = pytest.mark.local_idp


@pytest.fixture(autouse=True)
def fresh_counts(local_idp: IdpHandle) -> Iterator[None]:
    """Start each test from zero counts and leave no fault behind."""
    local_idp.reset_stats()
    yield
    local_idp.clear_faults()


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("oidc.token", ("token", True)),
        ("oidc.keys_view", ("keys", True)),
        ("oidc.userinfo", ("userinfo", True)),
        ("oidc.openid_configuration_view", ("discovery", True)),
        ("oidc.authorization_server_metadata_view", ("discovery", True)),
        ("org_oauth.token", ("org_token", True)),
        ("management_api.list_user_groups", ("management_api", True)),
        ("oidc.authorize", ("authorize", False)),
        ("oidc.logout", ("logout", False)),
        (None, ("not_found", False)),
    ],
)
def test_endpoint_label(endpoint: str | None, expected: tuple[str, bool]) -> None:
    assert endpoint_label(endpoint) == expected


def test_request_stats_snapshot_and_reset() -> None:
    stats = RequestStats()
    stats.count("token", back_channel=True)
    stats.count("token", back_channel=True)
    stats.count("authorize", back_channel=False)
    assert stats.snapshot() == {
        "counts": {"token": 2, "authorize": 1},
        "back_channel": {"token": 2},
        "back_channel_total": 2,
    }
    stats.reset()
    assert stats.snapshot() == {"counts": {}, "back_channel": {}, "back_channel_total": 0}


def test_a_code_exchange_is_one_back_channel_call(local_idp: IdpHandle, flow: Flow) -> None:
    flow.tokens()  # discovery and JWKS were fetched before the test (session fixtures)
    stats = local_idp.stats()
    assert stats["back_channel"] == {"token": 1}
    assert stats["counts"]["authorize"] >= 1  # front channel: counted, not back-channel


def test_userinfo_and_keys_are_counted(local_idp: IdpHandle, flow: Flow, target: ContractTarget) -> None:
    body, _ = flow.tokens()
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    requests.get(f"{target.issuer}/v1/userinfo", headers=bearer, timeout=10)
    requests.get(f"{target.issuer}/v1/keys", timeout=10)
    requests.get(f"{target.issuer}/.well-known/openid-configuration", timeout=10)
    assert local_idp.stats()["back_channel"] == {"token": 1, "userinfo": 1, "keys": 1, "discovery": 1}


def test_admin_endpoint_reports_and_resets_without_counting_itself(target: ContractTarget) -> None:
    requests.get(f"{target.issuer}/v1/keys", timeout=10)
    first = requests.get(f"{target.base_url}/__idp/stats", timeout=10).json()
    second = requests.get(f"{target.base_url}/__idp/stats", timeout=10).json()
    assert first == second == {"counts": {"keys": 1}, "back_channel": {"keys": 1}, "back_channel_total": 1}
    cleared = requests.delete(f"{target.base_url}/__idp/stats", timeout=10).json()
    assert cleared["back_channel_total"] == 0


def test_latency_delays_back_channel_calls_only(local_idp: IdpHandle, target: ContractTarget) -> None:
    latency = 0.5
    local_idp.set_faults(latency_ms=int(latency * 1000))
    started = time.perf_counter()
    assert requests.get(f"{target.issuer}/v1/keys", timeout=10).ok
    assert time.perf_counter() - started >= latency
    started = time.perf_counter()
    requests.get(f"{target.issuer}/v1/authorize", params={"client_id": "nobody"}, timeout=10)
    assert time.perf_counter() - started < latency  # front channel: the browser's cost, not delayed
    local_idp.set_faults(latency_ms=None)
    started = time.perf_counter()
    assert requests.get(f"{target.issuer}/v1/keys", timeout=10).ok
    assert time.perf_counter() - started < latency


def test_latency_fault_is_an_integer() -> None:
    assert validate_faults({"latency_ms": 100}) == {"latency_ms": 100}
    with pytest.raises(FaultError, match="latency_ms"):
        validate_faults({"latency_ms": "100"})
