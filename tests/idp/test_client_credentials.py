"""Client credentials on the local IdP's custom server, as bots use it: Okta-shaped access tokens,
``client_secret_basic`` and ``private_key_jwt`` client authentication, the server's audience,
introspection, and signing-key rotation."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
import yaml
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from okta_local_idp.config import ConfigError, parse_config
from okta_local_idp.server import IdpHandle, serve_in_thread

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.local_idp

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
BOT_KEY = RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"}, auto_kid=True)
INVALID_CLIENT = "Client authentication failed. Either the client or the client credentials are invalid."


def config() -> dict:
    return {
        "server": {"custom_scopes": ["airflow.api", "airflow.trigger"], "audience": "api://airflow"},
        "clients": [
            {"client_id": "secret-bot", "client_secret": "secret-bot-secret", "grant_types": ["client_credentials"]},
            {
                "client_id": "jwt-bot",
                "token_endpoint_auth_method": "private_key_jwt",
                "grant_types": ["client_credentials"],
                "jwks": {"keys": [BOT_KEY.as_dict(private=False)]},
            },
        ],
        "users": [],
    }


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdpHandle]:
    path = tmp_path_factory.mktemp("cc") / "idp.yaml"
    path.write_text(yaml.safe_dump(config()))
    with serve_in_thread(path) as handle:
        yield handle


def token_url(idp: IdpHandle) -> str:
    return f"{idp.issuer}/v1/token"


def assertion(idp: IdpHandle, *, key: RSAKey = BOT_KEY, client_id: str = "jwt-bot", **over) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url(idp),
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        **over,
    }
    return jwt.encode({"alg": "RS256", "kid": BOT_KEY.kid}, {k: v for k, v in claims.items() if v is not None}, key)


def with_assertion(idp: IdpHandle, signed: str, scope: str = "airflow.api") -> requests.Response:
    data = {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed,
    }
    return requests.post(token_url(idp), data=data, timeout=10)


def with_secret(idp: IdpHandle, scope: str = "airflow.api", secret: str = "secret-bot-secret") -> requests.Response:
    return requests.post(
        token_url(idp),
        data={"grant_type": "client_credentials", "scope": scope},
        auth=("secret-bot", secret),
        timeout=10,
    )


def verify(idp: IdpHandle, token: str) -> dict:
    keys = KeySet.import_key_set(requests.get(f"{idp.issuer}/v1/keys", timeout=10).json())
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


def test_secret_basic_token_has_oktas_claims(idp: IdpHandle) -> None:
    response = with_secret(idp, scope="airflow.api airflow.trigger")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 3600, "airflow.api airflow.trigger")
    claims = verify(idp, body["access_token"])
    assert set(claims) == {"ver", "jti", "iss", "aud", "iat", "exp", "cid", "scp", "sub"}
    assert (claims["iss"], claims["aud"], claims["cid"], claims["sub"]) == (
        idp.issuer,
        "api://airflow",
        "secret-bot",
        "secret-bot",
    )
    assert claims["scp"] == ["airflow.api", "airflow.trigger"]
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["jti"].startswith("AT.")


def test_wrong_secret_is_invalid_client(idp: IdpHandle) -> None:
    response = with_secret(idp, secret="nope")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": INVALID_CLIENT}


def test_private_key_jwt(idp: IdpHandle) -> None:
    response = with_assertion(idp, assertion(idp))
    assert response.status_code == 200, response.text
    assert verify(idp, response.json()["access_token"])["cid"] == "jwt-bot"


@pytest.mark.parametrize(
    "over",
    [
        {"key": RSAKey.generate_key(2048)},  # signed by another key
        {"aud": "https://elsewhere.example/token"},
        {"exp": int(time.time()) - 600, "iat": int(time.time()) - 900},  # expired
        {"exp": int(time.time()) + 7200},  # valid for more than an hour: Okta refuses
        {"jti": None},
        {"iss": "secret-bot"},  # iss must equal sub
    ],
)
def test_bad_client_assertions_are_invalid_client(idp: IdpHandle, over: dict) -> None:
    response = with_assertion(idp, assertion(idp, **over))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_client_assertion_is_single_use(idp: IdpHandle) -> None:
    signed = assertion(idp)
    assert with_assertion(idp, signed).status_code == 200
    replay = with_assertion(idp, signed)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"


def test_a_secret_client_cannot_use_an_assertion_and_vice_versa(idp: IdpHandle) -> None:
    assert with_assertion(idp, assertion(idp, client_id="secret-bot")).status_code == 401
    response = requests.post(
        token_url(idp),
        data={"grant_type": "client_credentials", "scope": "airflow.api"},
        auth=("jwt-bot", "x"),
        timeout=10,
    )
    assert response.status_code == 401


def test_undefined_scope_is_invalid_scope(idp: IdpHandle) -> None:
    response = with_secret(idp, scope="airflow.admin")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_introspection_reports_the_servers_audience(idp: IdpHandle) -> None:
    token = with_secret(idp).json()["access_token"]
    response = requests.post(
        f"{idp.issuer}/v1/introspect", data={"token": token}, auth=("secret-bot", "secret-bot-secret"), timeout=10
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["active"], body["aud"], body["client_id"], body["sub"]) == (
        True,
        "api://airflow",
        "secret-bot",
        "secret-bot",
    )


def test_signing_key_rotation(idp: IdpHandle) -> None:
    before = with_secret(idp).json()["access_token"]
    old_kid = jwt.decode(
        before, KeySet.import_key_set(requests.get(f"{idp.issuer}/v1/keys", timeout=10).json())
    ).header["kid"]
    rotated = requests.post(f"{idp.base_url}/__idp/keys/rotate", json={}, timeout=10).json()
    assert rotated["keys"] == [rotated["kid"], old_kid]  # new key first, old one still published
    after = with_secret(idp).json()["access_token"]
    assert verify(idp, after)
    assert verify(idp, before)
    new_kid = idp.rotate_signing_key(keep_previous=False)  # emergency: every old key withdrawn
    kids = [k["kid"] for k in requests.get(f"{idp.issuer}/v1/keys", timeout=10).json()["keys"]]
    assert kids == [new_kid]
    with pytest.raises(Exception, match="kid"):
        verify(idp, before)
    bad = requests.post(f"{idp.base_url}/__idp/keys/rotate", json={"keep_previous": "yes"}, timeout=10)
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("client", "problem"),
    [
        ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks: is required with private_key_jwt"),
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}}, "must be a JWK set"),
        (
            {"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [BOT_KEY.as_dict(private=True)]}},
            "holds a private key",
        ),
        (
            {"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "RSA", "n": "x"}]}},
            "not a usable",
        ),
    ],
)
def test_private_key_jwt_client_config_is_validated(client: dict, problem: str) -> None:
    data = {"clients": [{"client_id": "c", "grant_types": ["client_credentials"], **client}]}
    with pytest.raises(ConfigError, match=problem):
        parse_config(data, base_dir=Path.cwd())
