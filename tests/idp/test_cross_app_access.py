"""ID-JAGs from the org server (Okta's Cross App Access): the exchange, every refusal, the configuration."""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

import pytest
import requests
from authlib.integrations.requests_client.oauth2_session import OAuth2ClientAuth
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from okta_local_idp.config import ConfigError, load_config
from okta_local_idp.models import Group
from okta_local_idp.server import IdpHandle, serve_in_thread
from okta_local_idp.testing import (
    agent_client_token,
    exchange_for_id_jag,
    id_jag_for,
    org_id_token_for,
    org_sign_in_tokens,
    pkce_pair,
    submit_sign_in_form,
)
from tests.idp.okta_contract import CALLBACK, base_config, write_config

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.local_idp  # a real org would need an XAA-enabled app and resource connection

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
AIRFLOW = "http://127.0.0.1:8080/auth/token"
AGENT, AGENT_SECRET = "agent", "agent-secret"
OTHER, OTHER_SECRET = "other-agent", "other-agent-secret"
KEYED_AGENT = "keyed-agent"
ALICE, ALICE_PASSWORD, ALICE_ID = "alice.admin@example.com", "Admin-pass-1", "00uadmin000000000001"
BOB, BOB_PASSWORD = "bob.viewer@example.com", "Viewer-pass-1"
AGENT_CALLBACK = "http://127.0.0.1:8765/agent/callback"
OTHER_POST = {"client_id": OTHER, "client_secret": OTHER_SECRET}  # client_secret_post


def _agent(client_id: str, secret: str, **more: Any) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "client_secret": secret,
        "grant_types": ["authorization_code", "client_credentials", TOKEN_EXCHANGE],
        "redirect_uris": [AGENT_CALLBACK],
        "cross_app_access": {"audiences": [AIRFLOW, "https://other.example.com/token"]},
        **more,
    }


@pytest.fixture(scope="module")
def agent_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "agent-1"})


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory, agent_key: RSAKey) -> Iterator[IdpHandle]:
    config = base_config()
    config["clients"] += [
        _agent(AGENT, AGENT_SECRET, assigned_groups=["airflow-admins", "airflow-viewers"]),
        _agent(
            OTHER,
            OTHER_SECRET,
            token_endpoint_auth_method="client_secret_post",
            cross_app_access={"audiences": [AIRFLOW], "resource_client_id": "other-at-af"},
        ),
        {
            **_agent(KEYED_AGENT, "unused"),
            "client_secret": None,
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [agent_key.as_dict(private=False)]},
        },
    ]
    with serve_in_thread(write_config(tmp_path_factory.mktemp("xaa") / "idp.yaml", config)) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _directory_as_configured(idp: IdpHandle) -> Iterator[None]:
    yield
    idp.context.store.directory.reset()


@pytest.fixture(scope="module")
def org_keys(idp: IdpHandle) -> KeySet:
    """Return the org's public keys, found as a resource server finds them: through the org's discovery."""
    discovery = requests.get(f"{idp.base_url}/.well-known/openid-configuration", timeout=10).json()
    return KeySet.import_key_set(requests.get(discovery["jwks_uri"], timeout=10).json())


def _id_token(idp: IdpHandle) -> str:
    """Return Alice's org ID token for the agent, got with the helper an agent's tests use."""
    return org_id_token_for(idp.base_url, AGENT, AGENT_SECRET, ALICE, ALICE_PASSWORD, AGENT_CALLBACK)


def _exchange(idp: IdpHandle, auth: Any = (AGENT, AGENT_SECRET), **params: str | None) -> requests.Response:
    data = {
        "grant_type": TOKEN_EXCHANGE,
        "requested_token_type": ID_JAG,
        "subject_token_type": ID_TOKEN,
        "audience": AIRFLOW,
        **params,
    }
    if "subject_token" not in params:
        data["subject_token"] = _id_token(idp)
    data = {k: v for k, v in data.items() if v is not None}
    return requests.post(f"{idp.base_url}/oauth2/v1/token", data=data, auth=auth, timeout=10)


def _refused(response: requests.Response, status: int, error: str, description: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert description in body["error_description"]
    assert "access_token" not in body


# -- the exchange ---------------------------------------------------------------------------------


def test_an_agent_gets_an_id_jag_for_the_person_signed_in(idp, org_keys):
    subject = jwt.decode(_id_token(idp), org_keys).claims
    response = _exchange(idp, scope="airflow.api dags.read", resource="http://127.0.0.1:8080/api/v2")
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["issued_token_type"] == ID_JAG
    assert body["token_type"] == "N_A"
    assert body["expires_in"] == 300
    assert body["scope"] == "airflow.api dags.read"
    token = jwt.decode(body["access_token"], org_keys, algorithms=["RS256"])
    assert token.header["typ"] == "oauth-id-jag+jwt"
    assert token.header["kid"] in {key.kid for key in org_keys.keys}
    claims = token.claims
    assert claims["iss"] == idp.base_url
    assert claims["sub"] == ALICE_ID
    assert claims["aud"] == AIRFLOW
    assert claims["client_id"] == AGENT
    assert claims["jti"]
    assert claims["exp"] - claims["iat"] == 300
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["scope"] == "airflow.api dags.read"
    assert claims["resource"] == "http://127.0.0.1:8080/api/v2"
    assert claims["auth_time"] == subject["auth_time"]
    assert claims["amr"] == subject["amr"] == ["pwd"]


def test_without_scope_or_resource_the_id_jag_names_neither(idp, org_keys):
    body = _exchange(idp).json()
    assert "scope" not in body
    claims = jwt.decode(body["access_token"], org_keys).claims
    assert "scope" not in claims
    assert "resource" not in claims


def test_the_client_id_claim_is_the_agents_id_at_the_resource_when_configured(idp, org_keys):
    response = _exchange(idp, auth=None, subject_token=_other_agents_id_token(idp), **OTHER_POST)
    assert jwt.decode(response.json()["access_token"], org_keys).claims["client_id"] == "other-at-af"


def test_an_agent_authenticates_with_its_own_method_only(idp):
    """Okta accepts only the app's registered client authentication method."""
    response = _exchange(idp, auth=(OTHER, OTHER_SECRET), subject_token=_other_agents_id_token(idp))
    _refused(response, 401, "invalid_client", "Client authentication failed.")


def test_private_key_jwt_authenticates_the_agent_too(idp, agent_key, org_keys):
    def keyed() -> OAuth2ClientAuth:  # a fresh assertion (jti) per request: Okta refuses a replayed one
        assertion = PrivateKeyJWT(f"{idp.base_url}/oauth2/v1/token", headers={"kid": "agent-1"})
        return OAuth2ClientAuth(KEYED_AGENT, agent_key, auth_method=assertion)

    response = _exchange(idp, auth=keyed(), subject_token=_org_id_token(idp, KEYED_AGENT, auth=keyed()))
    assert response.status_code == 200, response.text
    assert jwt.decode(response.json()["access_token"], org_keys).claims["client_id"] == KEYED_AGENT


def _other_agents_id_token(idp: IdpHandle) -> str:
    return _org_id_token(idp, OTHER, form=OTHER_POST)


def _org_id_token(
    idp: IdpHandle, client_id: str, auth: Any = None, form: dict[str, str] | None = None, server: str | None = None
) -> str:
    """Sign Alice in to ``client_id`` through the org server (or ``server``); redeem the code with ``auth`` or ``form``."""
    server = server or f"{idp.base_url}/oauth2/v1"
    verifier, challenge = pkce_pair()
    browser = requests.Session()
    params = {
        "client_id": client_id,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": AGENT_CALLBACK,
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = browser.get(f"{server}/authorize", params=params, timeout=10)
    location = submit_sign_in_form(browser, page, ALICE, ALICE_PASSWORD, timeout=10).headers["Location"]
    code = location.split("code=", 1)[1].split("&", 1)[0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": AGENT_CALLBACK, "code_verifier": verifier}
    tokens = requests.post(f"{server}/token", data={**data, **(form or {})}, auth=auth, timeout=10)
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["id_token"])


def test_the_same_id_token_can_be_exchanged_again_for_a_new_id_jag(idp, org_keys):
    id_token = _id_token(idp)
    first, second = (_exchange(idp, subject_token=id_token).json()["access_token"] for _ in range(2))
    assert jwt.decode(first, org_keys).claims["jti"] != jwt.decode(second, org_keys).claims["jti"]


def test_the_helpers_do_the_whole_flow_over_http(idp, org_keys):
    jag = id_jag_for(idp.base_url, AGENT, AGENT_SECRET, BOB, BOB_PASSWORD, AIRFLOW, AGENT_CALLBACK, scope="airflow.api")
    assert jwt.decode(jag, org_keys).claims["sub"] == "00uviewer00000000002"
    for server in (idp.base_url, idp.issuer, f"{idp.issuer}/v1/token"):  # the org URL, the issuer, the endpoint
        actor = jwt.decode(agent_client_token(server, AGENT, AGENT_SECRET), org_keys).claims
        assert (actor["iss"], actor["sub"], actor["cid"], actor["scp"]) == (idp.issuer, AGENT, AGENT, ["airflow.api"])
    with pytest.raises(AssertionError, match="the ID-JAG exchange .* failed: HTTP 400"):
        exchange_for_id_jag(idp.base_url, AGENT, AGENT_SECRET, "not-a-token", AIRFLOW)


# -- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["requested_token_type", "subject_token", "subject_token_type", "audience"])
def test_a_missing_parameter_is_an_invalid_request(idp, missing):
    _refused(_exchange(idp, **{missing: None}), 400, "invalid_request", f"The '{missing}' parameter is required.")


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("requested_token_type", "urn:ietf:params:oauth:token-type:access_token"),
        ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
    ],
)
def test_an_unsupported_token_type_is_an_invalid_request(idp, parameter, value):
    _refused(_exchange(idp, **{parameter: value}), 400, "invalid_request", f"The '{parameter}' must be urn:")


@pytest.mark.parametrize(
    "auth", [(AGENT, "wrong-secret"), ("nobody", "secret"), None], ids=["wrong secret", "unknown client", "none"]
)
def test_bad_client_authentication_is_invalid_client_401(idp, auth):
    _refused(_exchange(idp, auth=auth, subject_token="x"), 401, "invalid_client", "Client authentication failed.")


def test_an_app_without_cross_app_access_is_an_unauthorized_client(idp):
    flow_token = "irrelevant: the client is refused first"
    response = _exchange(idp, auth=("contract-web", "contract-web-secret"), subject_token=flow_token)
    _refused(response, 400, "unauthorized_client", "The client is not authorized to use the provided grant type.")


@pytest.mark.parametrize("audience", ["http://127.0.0.1:9999/auth/token", "http://127.0.0.1:8080/auth/token/"])
def test_an_audience_the_agent_is_not_connected_to_is_an_invalid_target(idp, audience):
    _refused(_exchange(idp, audience=audience), 400, "invalid_target", "'audience' is not a resource this client")


def test_an_overlong_parameter_is_refused_unread(idp):
    _refused(_exchange(idp, audience="x" * 5000), 400, "invalid_request", "The 'audience' parameter is too long.")


def test_a_resource_that_is_not_an_absolute_uri_is_an_invalid_target(idp):
    _refused(_exchange(idp, resource="api/v2"), 400, "invalid_target", "'resource' must be an absolute")


def _signed(idp: IdpHandle, **claims: Any) -> str:
    now = int(time.time())
    base = {"iss": idp.base_url, "aud": AGENT, "sub": ALICE_ID, "iat": now, "exp": now + 600}
    return idp.context.keys.sign({k: v for k, v in {**base, **claims}.items() if v is not None})


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda idp: "not-a-jwt", id="garbage"),
        pytest.param(lambda idp: _signed(idp, iat=int(time.time()) - 900, exp=int(time.time()) - 300), id="expired"),
        pytest.param(lambda idp: _signed(idp, exp=None), id="no exp"),
        pytest.param(lambda idp: _signed(idp, sub=None), id="no sub"),
        pytest.param(lambda idp: _signed(idp, aud=OTHER), id="issued to another client"),
        pytest.param(lambda idp: _signed(idp, iss=idp.issuer), id="of the custom authorization server"),
        pytest.param(
            lambda idp: jwt.encode(
                {"alg": "RS256", "kid": idp.context.keys.kid},
                {"iss": idp.base_url, "aud": AGENT, "sub": ALICE_ID, "exp": int(time.time()) + 600},
                RSAKey.generate_key(2048),
            ),
            id="signed with another key",
        ),
    ],
)
def test_an_unusable_subject_token_is_an_invalid_grant(idp, make):
    _refused(_exchange(idp, subject_token=make(idp)), 400, "invalid_grant", "subject token is invalid")


def test_an_id_token_of_another_app_is_refused(idp):
    theirs = _other_agents_id_token(idp)
    _refused(_exchange(idp, subject_token=theirs), 400, "invalid_grant", "subject token is invalid")


def test_an_access_token_is_no_subject_token(idp):
    tokens = org_sign_in_tokens(idp.base_url, AGENT, AGENT_SECRET, ALICE, ALICE_PASSWORD, AGENT_CALLBACK)
    _refused(_exchange(idp, subject_token=tokens["access_token"]), 400, "invalid_grant", "subject token is invalid")
    bot_token = agent_client_token(idp.base_url, AGENT, AGENT_SECRET)
    _refused(_exchange(idp, subject_token=bot_token), 400, "invalid_grant", "subject token is invalid")


def test_an_id_jag_is_no_subject_token(idp):
    jag = _exchange(idp).json()["access_token"]
    _refused(_exchange(idp, subject_token=jag), 400, "invalid_grant", "subject token is invalid")


def test_an_id_token_of_the_custom_authorization_server_is_refused(idp):
    """Okta: only the org authorization server's ID tokens can be exchanged for ID-JAGs."""
    custom = _org_id_token(idp, AGENT, auth=(AGENT, AGENT_SECRET), server=idp.issuer + "/v1")
    _refused(_exchange(idp, subject_token=custom), 400, "invalid_grant", "subject token is invalid")


def _management(idp: IdpHandle, method: str, path: str) -> None:
    response = requests.request(
        method, f"{idp.base_url}/api/v1{path}", headers={"Authorization": "SSWS test-api-token"}, timeout=10
    )
    assert response.status_code in (200, 204), response.text


def test_a_person_deactivated_since_signing_in_is_refused(idp):
    id_token = _id_token(idp)
    _management(idp, "POST", f"/users/{ALICE_ID}/lifecycle/deactivate")
    _refused(_exchange(idp, subject_token=id_token), 400, "invalid_grant", "The user is not active.")


def test_a_person_no_longer_assigned_to_the_agent_is_refused(idp):
    id_token = _id_token(idp)
    _management(idp, "DELETE", f"/groups/{Group('airflow-admins').id}/users/{ALICE_ID}")
    response = _exchange(idp, subject_token=id_token)
    _refused(response, 400, "invalid_grant", "User is not assigned to the client application.")


def test_a_person_not_assigned_cannot_sign_in_to_the_agent(idp):
    _management(idp, "DELETE", f"/groups/{Group('airflow-admins').id}/users/{ALICE_ID}")
    with pytest.raises(AssertionError, match="error=access_denied"):
        _id_token(idp)


# -- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"grant_types": ["authorization_code"]}, f"grant_types: must list {TOKEN_EXCHANGE} with cross_app_access"),
        ({"cross_app_access": None}, f"cross_app_access: is required with {TOKEN_EXCHANGE}"),
        ({"cross_app_access": {"audiences": []}}, "audiences: must list the resources' identifiers"),
        ({"cross_app_access": {"audiences": ["airflow"]}}, "'airflow' is not an http(s) URL"),
        ({"cross_app_access": {"audiences": [AIRFLOW], "scopes": ["x"]}}, "unknown key 'scopes'"),
        ({"client_secret": None, "token_endpoint_auth_method": "none"}, "must authenticate the client"),
        ({"assigned_groups": "airflow-admins"}, "assigned_groups: must be a list of non-empty strings"),
    ],
)
def test_config_problems_name_the_setting_and_the_fix(tmp_path: Path, change, problem):
    config = copy.deepcopy(base_config())
    agent = {k: v for k, v in {**_agent(AGENT, AGENT_SECRET), **change}.items() if v is not None}
    config["clients"].append(agent)
    with pytest.raises(ConfigError) as excinfo:
        load_config(write_config(tmp_path / "idp.yaml", config))
    assert f"clients[{AGENT}]." in str(excinfo.value)
    assert problem in str(excinfo.value)
    assert AGENT_SECRET not in str(excinfo.value)


def test_the_sample_agent_is_enabled_for_airflow():
    from okta_devstack.airflow import REPO

    agent = load_config(REPO / "config" / "idp_users.yaml").client("airflow-assistant")
    assert agent is not None
    assert agent.cross_app_access is not None
    assert agent.cross_app_access.audiences == ("http://127.0.0.1:8080/auth/token",)
    assert {"client_credentials", TOKEN_EXCHANGE} <= set(agent.grant_types)
    assert CALLBACK not in agent.redirect_uris  # its own callback, not Airflow's
