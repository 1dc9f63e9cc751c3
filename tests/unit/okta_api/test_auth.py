"""Management API authentication: SSWS tokens, and the service app's private_key_jwt token requests."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

import pytest
import responses
from joserfc import jwt
from joserfc.jwk import RSAKey

from okta_security.okta_api.auth import (
    API_SCOPES,
    ServiceAppAuth,
    SswsAuth,
    build_authorizer,
    token_endpoint,
)
from okta_security.okta_api.client import HttpPolicy, OktaApiClient, OktaApiRejected, OktaHttp, WaitBudget
from okta_security.settings.loader import load_settings
from tests.unit.fake_clock import FakeClock

ORG = "https://dev-123456.okta.com"
TOKEN_URL = f"{ORG}/oauth2/v1/token"
CLIENT_ID = "0oaserviceapp123"
USER = "00uabcdefghijklmnopq"


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "svc-key-1"})


def http() -> OktaHttp:
    return OktaHttp(HttpPolicy(max_retries=0), sleep=lambda s: None)


def budget() -> WaitBudget:
    return WaitBudget(10)


# -- SSWS -----------------------------------------------------------------------------------


def test_ssws_header_uses_the_current_token_and_hides_it():
    current = ["first"]
    auth = SswsAuth(lambda: current[0])
    assert auth.authorization(http(), budget()) == "SSWS first"
    current[0] = "rotated"  # e.g. OKTA_API_TOKEN_FILE rewritten
    assert auth.authorization(http(), budget()) == "SSWS rotated"
    assert "rotated" not in repr(auth)
    assert auth.can_refresh is False


# -- service app ----------------------------------------------------------------------------


def token_request_checker(key: RSAKey, seen: list[dict], *, expires_in: int = 3600, token_type: str = "Bearer"):
    def callback(request):
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        assertion = jwt.decode(form["client_assertion"], key)  # signed with the service app's key
        seen.append({"form": form, "header": assertion.header, "claims": assertion.claims})
        body = {
            "token_type": token_type,
            "expires_in": expires_in,
            "access_token": f"at-{len(seen)}",
            "scope": form["scope"],
        }
        return 200, {"X-Okta-Request-Id": f"req-token-{len(seen)}"}, json.dumps(body)

    return callback


def service_auth(key: RSAKey, clock: FakeClock, **kwargs) -> ServiceAppAuth:
    private = kwargs.pop("private", key.as_pem(private=True).decode())
    return ServiceAppAuth(ORG, CLIENT_ID, lambda: private, clock=clock, **kwargs)


@responses.activate
def test_service_app_sends_a_private_key_jwt_client_credentials_request(key):
    seen: list[dict] = []
    responses.add_callback(responses.POST, TOKEN_URL, callback=token_request_checker(key, seen))
    auth = service_auth(key, FakeClock(5000.0), private=json.dumps(key.as_dict(private=True)))  # a JWK names its kid
    assert auth.authorization(http(), budget()) == "Bearer at-1"
    [sent] = seen
    assert sent["form"]["grant_type"] == "client_credentials"
    assert sent["form"]["scope"] == "okta.users.read okta.groups.read"
    assert sent["form"]["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in sent["form"]
    assert sent["header"]["alg"] == "RS256"
    assert sent["header"]["kid"] == "svc-key-1"
    claims = sent["claims"]
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == TOKEN_URL
    assert claims["jti"]
    assert 0 < claims["exp"] - claims["iat"] <= 3600
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_service_app_token_is_cached_until_shortly_before_it_expires(key):
    seen: list[dict] = []
    responses.add_callback(responses.POST, TOKEN_URL, callback=token_request_checker(key, seen))
    clock = FakeClock(5000.0)
    auth = service_auth(key, clock)
    assert auth.authorization(http(), budget()) == "Bearer at-1"
    clock.t += 3600 - 61
    assert auth.authorization(http(), budget()) == "Bearer at-1"
    assert len(seen) == 1
    clock.t += 2  # within the last minute of the token's life
    assert auth.authorization(http(), budget()) == "Bearer at-2"
    assert seen[0]["claims"]["jti"] != seen[1]["claims"]["jti"]  # a fresh assertion each time


@responses.activate
def test_a_short_lived_token_is_renewed_at_half_its_life(key):
    seen: list[dict] = []
    responses.add_callback(responses.POST, TOKEN_URL, callback=token_request_checker(key, seen, expires_in=60))
    clock = FakeClock(5000.0)
    auth = service_auth(key, clock)
    auth.authorization(http(), budget())
    clock.t += 29
    auth.authorization(http(), budget())
    assert len(seen) == 1
    clock.t += 2
    auth.authorization(http(), budget())
    assert len(seen) == 2


@responses.activate
def test_a_pem_key_is_sent_without_a_kid(key):
    seen: list[dict] = []
    responses.add_callback(responses.POST, TOKEN_URL, callback=token_request_checker(key, seen))
    service_auth(key, FakeClock(5000.0)).authorization(http(), budget())
    assert "kid" not in seen[0]["header"]  # Okta then checks the assertion against the app's only key


@responses.activate
def test_invalid_client_is_rejected_with_a_hint_and_no_key_material(key, caplog):
    responses.post(
        TOKEN_URL,
        status=401,
        json={"error": "invalid_client", "error_description": "The client_assertion signature is invalid."},
        headers={"X-Okta-Request-Id": "req-bad-client"},
    )
    pem = key.as_pem(private=True).decode()
    with caplog.at_level(logging.DEBUG), pytest.raises(OktaApiRejected) as err:
        service_auth(key, FakeClock(5000.0), private=pem).authorization(http(), budget())
    text = str(err.value)
    assert "invalid_client: The client_assertion signature is invalid." in text
    assert "OKTA_API_CLIENT_ID" in text
    assert err.value.request_id == "req-bad-client"
    body = pem.splitlines()[1]
    assert body not in text
    assert body not in caplog.text


@responses.activate
def test_a_dpop_bound_token_is_refused_with_a_hint(key):
    seen: list[dict] = []
    responses.add_callback(responses.POST, TOKEN_URL, callback=token_request_checker(key, seen, token_type="DPoP"))
    with pytest.raises(OktaApiRejected, match="turn off DPoP"):
        service_auth(key, FakeClock(5000.0)).authorization(http(), budget())


def test_an_unusable_key_file_is_a_rejection_not_a_crash(key):
    auth = service_auth(key, FakeClock(5000.0), private="garbage")
    with pytest.raises(OktaApiRejected, match="OKTA_API_PRIVATE_KEY cannot be used"):
        auth.authorization(http(), budget())


@responses.activate
def test_a_refused_access_token_is_replaced_once(key):
    seen: list[dict] = []
    responses.add_callback(responses.POST, TOKEN_URL, callback=token_request_checker(key, seen))
    groups = f"{ORG}/api/v1/users/{USER}/groups"
    invalid = {"errorCode": "E0000011", "errorSummary": "Invalid token provided"}
    responses.get(groups, status=401, json=invalid)
    responses.get(groups, json=[{"id": "00g1", "profile": {"name": "airflow-admins"}}])
    client = OktaApiClient(ORG, service_auth(key, FakeClock(5000.0)), http())
    assert client.user_group_names(USER) == ("airflow-admins",)
    assert [c.request.headers["Authorization"] for c in responses.calls if c.request.method == "GET"] == [
        "Bearer at-1",
        "Bearer at-2",
    ]


@responses.activate
def test_a_second_401_is_final(key):
    seen: list[dict] = []
    responses.add_callback(responses.POST, TOKEN_URL, callback=token_request_checker(key, seen))
    groups = f"{ORG}/api/v1/users/{USER}/groups"
    for _ in range(3):
        responses.get(groups, status=401, json={"errorCode": "E0000011", "errorSummary": "Invalid token provided"})
    with pytest.raises(OktaApiRejected, match="E0000011"):
        OktaApiClient(ORG, service_auth(key, FakeClock(5000.0)), http()).user_group_names(USER)
    assert len(seen) == 2


def test_repr_names_no_secret(key):
    text = repr(service_auth(key, FakeClock(5000.0)))
    assert CLIENT_ID in text
    assert "BEGIN" not in text


def test_token_endpoint_is_the_org_servers():
    assert token_endpoint("https://dev-1.okta.com/") == "https://dev-1.okta.com/oauth2/v1/token"
    assert API_SCOPES == ("okta.users.read", "okta.groups.read")


# -- from settings ----------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text("default_role: null\nmappings:\n  a: [Viewer]\n")
    return {
        "OKTA_ISSUER": "https://dev-123456.okta.com/oauth2/default",
        "OKTA_CLIENT_ID": "0oaclient",
        "OKTA_CLIENT_SECRET": "s3cr3t",
        "OKTA_ROLE_MAPPING_FILE": str(mapping),
    }


def test_build_authorizer_picks_what_the_settings_configure(env, key, tmp_path):
    assert build_authorizer(load_settings(env)) is None
    ssws = build_authorizer(load_settings({**env, "OKTA_API_TOKEN": "tok"}))
    assert isinstance(ssws, SswsAuth)
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(key.as_pem(private=True))
    app = build_authorizer(
        load_settings({**env, "OKTA_API_CLIENT_ID": CLIENT_ID, "OKTA_API_PRIVATE_KEY_FILE": str(key_file)})
    )
    assert isinstance(app, ServiceAppAuth)
    assert app.token_url == TOKEN_URL  # the org server of OKTA_ISSUER's host, not the custom server
    assert app.client_id == CLIENT_ID
