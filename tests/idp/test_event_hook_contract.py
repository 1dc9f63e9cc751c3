"""Contract: an event hook's one-time verification (what Airflow's /auth/okta/events must answer).

Okta sends ``GET <hook url>`` with ``x-okta-verification-challenge`` and the hook's configured
``Authorization`` value, and expects ``{"verification": <the challenge>}`` back. Against a real org
a person must make a local port reachable from Okta first (a tunnel), so these tests run only when
OKTA_CONTRACT_EVENT_HOOK_* say where.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests

if TYPE_CHECKING:
    from tests.idp.conftest import HookListener
    from tests.idp.okta_contract import ContractTarget


def _verify(target: ContractTarget) -> requests.Response:
    if target.event_hook_id is None:
        pytest.skip("set OKTA_CONTRACT_EVENT_HOOK_ID/_SECRET/_PORT to check event hook verification")
    return requests.post(
        f"{target.base_url}/api/v1/eventHooks/{target.event_hook_id}/lifecycle/verify",
        headers={"Authorization": f"SSWS {target.api_token}", "Accept": "application/json"},
        timeout=30,
    )


def _challenges(listener: HookListener) -> list[dict[str, str]]:
    return [r["headers"] for r in listener.requests if r["method"] == "GET"]


def test_a_wrong_answer_leaves_the_hook_unverified(target: ContractTarget, hook_listener: HookListener) -> None:
    hook_listener.requests.clear()
    hook_listener.reply = "wrong"
    try:
        response = _verify(target)
    finally:
        hook_listener.reply = "echo"
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"].startswith("E0000")
    assert len(_challenges(hook_listener)) == 1


def test_verification_sends_the_challenge_with_the_hooks_secret(
    target: ContractTarget, hook_listener: HookListener
) -> None:
    hook_listener.requests.clear()
    response = _verify(target)
    assert response.status_code == 200, response.text
    hook = response.json()
    assert hook["id"] == target.event_hook_id
    assert hook["verificationStatus"] == "VERIFIED"
    assert hook["channel"]["type"] == "HTTP"
    [headers] = _challenges(hook_listener)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["authorization"] == target.event_hook_secret  # sent verbatim, no scheme added
    assert len(lowered["x-okta-verification-challenge"]) >= 16
