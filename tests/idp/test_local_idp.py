"""Behaviour specific to the local IdP: config reload, faults, settings, CLI."""

from __future__ import annotations

import copy
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from okta_local_idp.config import ConfigError, load_config
from okta_local_idp.server import IdpHandle, serve_in_thread
from tests.idp.okta_contract import ContractTarget, Flow, base_config, write_config

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.local_idp

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_idp(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[IdpHandle, Path]]:
    """Run a private IdP whose config the test may edit (param: server overrides)."""
    data = base_config()
    data["server"].update(getattr(request, "param", {}))
    path = write_config(tmp_path / "idp.yaml", data)
    with serve_in_thread(path) as handle:
        yield handle, path


def _flow_for(handle: IdpHandle, target: ContractTarget) -> Flow:
    issuer = handle.issuer
    discovery = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    jwks = requests.get(discovery["jwks_uri"], timeout=10).json()
    own_target = ContractTarget(**{**target.__dict__, "base_url": handle.base_url, "issuer": issuer})
    return Flow(own_target, discovery, jwks)


def _id_token_claims(flow: Flow, **overrides: str | None) -> dict[str, Any]:
    body, _ = flow.tokens(**overrides)
    return flow.verify(body["id_token"])[1]


def test_handle_unpacks_to_base_url_and_shutdown(idp_config_path: Path) -> None:
    base_url, shutdown = serve_in_thread(idp_config_path)
    try:
        assert requests.get(f"{base_url}/oauth2/default/v1/keys", timeout=10).status_code == 200
    finally:
        shutdown()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base_url}/oauth2/default/v1/keys", timeout=2)


def test_group_removal_in_the_file_shows_at_next_login(own_idp: tuple[IdpHandle, Path], target: ContractTarget) -> None:
    handle, path = own_idp
    flow = _flow_for(handle, target)
    assert sorted(_id_token_claims(flow)["groups"]) == ["Everyone", "airflow-admins"]

    data = base_config()
    data["users"][0]["groups"] = ["Everyone"]
    write_config(path, data)

    fresh = _flow_for(handle, target)
    assert _id_token_claims(fresh)["groups"] == ["Everyone"]
    api = requests.get(
        f"{handle.base_url}/api/v1/users/{target.user_id}/groups",
        headers={"Authorization": f"SSWS {target.api_token}"},
        timeout=10,
    )
    assert [group["profile"]["name"] for group in api.json()] == ["Everyone"]


def test_same_size_quick_edit_is_noticed(own_idp: tuple[IdpHandle, Path], target: ContractTarget) -> None:
    handle, path = own_idp
    data = base_config()
    data["users"][0]["groups"] = ["airflow-admins", "Everyone"]
    write_config(path, data)
    handle.context.config  # noqa: B018 - load this version
    data["users"][0]["groups"] = ["airflow-admin2", "Everyone"]  # same size as before
    write_config(path, data)
    assert handle.context.config.find_user(target.user_id).groups[0] == "airflow-admin2"  # type: ignore[union-attr]


def test_broken_edit_keeps_the_previous_config(own_idp: tuple[IdpHandle, Path], target: ContractTarget) -> None:
    handle, path = own_idp
    path.write_text("users: [this is: not valid", encoding="utf-8")
    flow = _flow_for(handle, target)
    assert _id_token_claims(flow)["sub"] == target.user_id


def test_suspended_user_cannot_sign_in(flow: Flow, target: ContractTarget) -> None:
    _, page = flow.authorize()
    response = target.sign_in(flow.browser, page, "dave.suspended@example.com", "Suspended-pass-1")
    assert "Unable to sign in" in response.text


def test_session_cookie_does_not_clash_with_airflow(flow: Flow) -> None:
    flow.login()
    assert "okta_local_idp_sid" in flow.browser.cookies
    assert "session" not in flow.browser.cookies


def test_client_secret_post_client(flow: Flow) -> None:
    flow.target = ContractTarget(
        **{**flow.target.__dict__, "client_id": "post-web", "client_secret": "post-web-secret"}
    )
    auth = flow.login()
    assert flow.exchange(auth.code, auth.verifier).status_code == 401
    auth = flow.login()
    assert flow.exchange(auth.code, auth.verifier, post_auth=True).status_code == 200


def test_pkce_optional_when_the_client_allows(flow: Flow) -> None:
    flow.target = ContractTarget(
        **{**flow.target.__dict__, "client_id": "legacy-web", "client_secret": "legacy-web-secret"}
    )
    auth = flow.login(code_challenge=None, code_challenge_method=None)
    assert flow.exchange(auth.code, None).status_code == 200


def test_client_credentials_token(flow: Flow) -> None:
    token_url = flow.discovery["token_endpoint"]
    response = requests.post(
        token_url,
        data={"grant_type": "client_credentials", "scope": "airflow.api"},
        auth=("service-bot", "service-bot-secret"),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "id_token" not in body
    assert "refresh_token" not in body
    _, claims = flow.verify(body["access_token"])
    assert claims["sub"] == claims["cid"] == "service-bot"
    assert claims["scp"] == ["airflow.api"]
    assert "uid" not in claims
    refused = requests.post(
        token_url,
        data={"grant_type": "client_credentials", "scope": "openid"},
        auth=("service-bot", "service-bot-secret"),
        timeout=10,
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"


def test_web_client_may_not_use_client_credentials(flow: Flow) -> None:
    response = requests.post(
        flow.discovery["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "airflow.api"},
        auth=(flow.target.client_id, flow.target.client_secret),
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


@pytest.mark.parametrize("own_idp", [{"groups_claim": False, "groups_scope": True}], indirect=True)
def test_groups_scope_without_groups_claim(own_idp: tuple[IdpHandle, Path], target: ContractTarget) -> None:
    handle, _ = own_idp
    flow = _flow_for(handle, target)
    assert "groups" in flow.discovery["scopes_supported"]
    body, _ = flow.tokens(scope="openid profile groups")
    assert "groups" not in flow.verify(body["id_token"])[1]
    info = requests.get(
        flow.discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10
    ).json()
    assert sorted(info["groups"]) == ["Everyone", "airflow-admins"]
    body, _ = flow.tokens(scope="openid profile")
    info = requests.get(
        flow.discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10
    ).json()
    assert "groups" not in info


@pytest.mark.parametrize("own_idp", [{"groups_claim_filter": "airflow-.*"}], indirect=True)
def test_groups_claim_filter(own_idp: tuple[IdpHandle, Path], target: ContractTarget) -> None:
    handle, _ = own_idp
    assert _id_token_claims(_flow_for(handle, target))["groups"] == ["airflow-admins"]


def test_faults_via_admin_endpoint(own_idp: tuple[IdpHandle, Path], target: ContractTarget) -> None:
    handle, _ = own_idp
    admin = f"{handle.base_url}/__idp/faults"
    set_response = requests.post(
        admin, json={"userinfo_sub": "00uother0000000000009", "id_token_groups": False}, timeout=10
    )
    assert set_response.status_code == 200
    assert set_response.json() == {"userinfo_sub": "00uother0000000000009", "id_token_groups": False}

    flow = _flow_for(handle, target)
    body, _ = flow.tokens()
    claims = flow.verify(body["id_token"])[1]
    assert "groups" not in claims
    info = requests.get(
        flow.discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10
    ).json()
    assert info["sub"] == "00uother0000000000009" != claims["sub"]

    assert requests.post(admin, json={"no_such_fault": 1}, timeout=10).status_code == 400
    assert requests.delete(admin, timeout=10).json() == {}
    assert "groups" in _id_token_claims(_flow_for(handle, target))


def test_faults_from_yaml_and_handle(tmp_path: Path, target: ContractTarget) -> None:
    data = base_config()
    data["server"]["faults"] = {"id_token_groups": False}
    with serve_in_thread(write_config(tmp_path / "idp.yaml", data)) as handle:
        assert "groups" not in _id_token_claims(_flow_for(handle, target))
        handle.set_faults(id_token_groups=True)
        assert "groups" in _id_token_claims(_flow_for(handle, target))


def test_config_errors_list_every_problem(tmp_path: Path) -> None:
    data = copy.deepcopy(base_config())
    data["server"]["groups_claim"] = "yes"
    data["server"]["faults"] = {"bogus": True}
    data["clients"][0]["token_endpoint_auth_method"] = "magic"
    data["users"].append(dict(data["users"][0]))
    with pytest.raises(ConfigError) as excinfo:
        load_config(write_config(tmp_path / "bad.yaml", data))
    message = str(excinfo.value)
    for fragment in ("server.groups_claim", "bogus", "token_endpoint_auth_method", "duplicate"):
        assert fragment in message
    assert "Admin-pass-1" not in message


def test_demo_config_is_valid() -> None:
    config = load_config(ROOT / "config" / "idp_users.yaml")
    assert config.client("airflow-local") is not None
    assert {user.login for user in config.users} >= {
        "alice.admin@example.com",
        "bob.viewer@example.com",
        "carol.nobody@example.com",
    }


def test_cli_prints_the_listening_line(tmp_path: Path, idp_config_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "okta_local_idp", "--config", str(idp_config_path), "--port", "0", "--no-groups-claim"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("okta_local_idp listening on http://127.0.0.1:")
        listen = line.split()[3]
        assert line == f"okta_local_idp listening on {listen} issuer {listen}/oauth2/default"
        deadline = time.time() + 10
        while True:
            try:
                discovery = requests.get(f"{listen}/oauth2/default/.well-known/openid-configuration", timeout=2).json()
                break
            except requests.ConnectionError:
                assert time.time() < deadline
                time.sleep(0.05)
        assert discovery["issuer"] == f"{listen}/oauth2/default"
        assert "groups" not in discovery["claims_supported"]
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("own_idp", [{"groups_claim_filter": "finance-.*"}], indirect=True)
def test_no_matching_groups_means_no_groups_claim(own_idp: tuple[IdpHandle, Path], target: ContractTarget) -> None:
    handle, _ = own_idp
    flow = _flow_for(handle, target)
    body, _ = flow.tokens()
    assert "groups" not in flow.verify(body["id_token"])[1]
    info = requests.get(
        flow.discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10
    ).json()
    assert "groups" not in info


def test_code_reuse_revokes_the_tokens_it_produced(flow: Flow) -> None:
    auth = flow.login()
    body = flow.exchange(auth.code, auth.verifier).json()
    assert flow.exchange(auth.code, auth.verifier).status_code == 400
    response = requests.get(
        flow.discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10
    )
    assert response.status_code == 401


def test_signing_key_file_is_created_and_reused(tmp_path: Path, idp_config_path: Path) -> None:
    key_file = tmp_path / "keys" / "signing.pem"
    with serve_in_thread(idp_config_path, key_file=key_file) as first:
        kid = requests.get(f"{first.issuer}/v1/keys", timeout=10).json()["keys"][0]["kid"]
    assert key_file.stat().st_mode & 0o777 == 0o600
    with serve_in_thread(idp_config_path, key_file=key_file) as second:
        assert requests.get(f"{second.issuer}/v1/keys", timeout=10).json()["keys"][0]["kid"] == kid


def test_access_log_masks_id_token_hint(flow: Flow, caplog: pytest.LogCaptureFixture) -> None:
    body, _ = flow.tokens()
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        flow.browser.get(flow.discovery["end_session_endpoint"], params={"id_token_hint": body["id_token"]}, timeout=10)
    assert "id_token_hint=***" in caplog.text
    assert body["id_token"] not in caplog.text


def test_admin_endpoints_hidden_from_non_loopback(local_idp: IdpHandle) -> None:
    client = local_idp.app.test_client()
    assert client.get("/__idp/faults", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404
    assert client.get("/__idp/faults", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


def test_yaml_syntax_error_does_not_echo_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("users:\n  - password: [Sup3r-secret\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line") as excinfo:
        load_config(path)
    assert "Sup3r-secret" not in str(excinfo.value)
