"""The local IdP's ID token, JWKS and discovery faults (RP certification modes) do what they say."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet, OctKey

from okta_local_idp.faults import FaultError, validate_faults

if TYPE_CHECKING:
    from collections.abc import Iterator

    from okta_local_idp.server import IdpHandle
    from tests.idp.okta_contract import ContractTarget, Flow

pytestmark = pytest.mark.local_idp


@pytest.fixture(autouse=True)
def no_faults_after(local_idp: IdpHandle) -> Iterator[None]:
    """Leave the session's IdP well-behaved for the next test."""
    yield
    local_idp.clear_faults()


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    def b64(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    header, payload, signature = token.split(".")
    return json.loads(b64(header)), json.loads(b64(payload)), b64(signature)


def _published(target: ContractTarget) -> dict[str, Any]:
    return requests.get(f"{target.issuer}/v1/keys", timeout=10).json()  # type: ignore[no-any-return]


def _id_token(flow: Flow) -> tuple[str, dict[str, Any]]:
    body, _ = flow.tokens()
    return body["id_token"], body


@pytest.mark.parametrize(
    ("faults", "check"),
    [
        (
            {"id_token_iss": "https://evil.example/oauth2/default"},
            lambda c: c["iss"] == "https://evil.example/oauth2/default",
        ),
        ({"id_token_aud": "someone-else"}, lambda c: c["aud"] == "someone-else"),
        ({"id_token_nonce": "not-the-nonce"}, lambda c: c["nonce"] == "not-the-nonce"),
        ({"id_token_drop_claims": ["sub"]}, lambda c: "sub" not in c and "iat" in c),
        ({"id_token_drop_claims": ["iat", "nonce"]}, lambda c: "iat" not in c and "nonce" not in c and "sub" in c),
        ({"id_token_exp_offset": -300}, lambda c: c["exp"] == c["iat"] - 300),
    ],
    ids=["iss", "aud", "nonce", "no-sub", "no-iat-nonce", "expired"],
)
def test_claim_faults_are_signed_properly(
    local_idp: IdpHandle, flow: Flow, target: ContractTarget, faults, check
) -> None:
    local_idp.set_faults(**faults)
    id_token, body = _id_token(flow)
    header, claims = flow.verify(id_token)  # still a valid RS256 signature with the published key
    assert header["kid"] == local_idp.context.keys.kid
    assert check(claims)
    access = flow.verify(body["access_token"])[1]
    assert access["iss"] == target.issuer  # access tokens are not touched


def test_alg_none_is_an_unsigned_token(local_idp: IdpHandle, flow: Flow, target: ContractTarget) -> None:
    local_idp.set_faults(id_token_alg="none")
    id_token, _ = _id_token(flow)
    header, claims, signature = _segments(id_token)
    assert header == {"alg": "none"}
    assert signature == b""
    assert claims["iss"] == target.issuer
    assert claims["sub"] == target.user_id
    with pytest.raises(JoseError):
        flow.verify(id_token)


def test_hs256_is_signed_with_the_client_secret(local_idp: IdpHandle, flow: Flow, target: ContractTarget) -> None:
    local_idp.set_faults(id_token_alg="HS256")
    id_token, _ = _id_token(flow)
    assert _segments(id_token)[0] == {"typ": "JWT", "alg": "HS256"}
    secret = OctKey.import_key(target.client_secret)
    assert jwt.decode(id_token, secret, algorithms=["HS256"]).claims["sub"] == target.user_id
    with pytest.raises(JoseError):
        flow.verify(id_token)


def test_bad_sig_keeps_header_and_claims_but_breaks_the_signature(
    local_idp: IdpHandle, flow: Flow, target: ContractTarget
) -> None:
    local_idp.set_faults(id_token_alg="bad_sig")
    id_token, _ = _id_token(flow)
    header, claims, _ = _segments(id_token)
    assert header["alg"] == "RS256"
    assert header["kid"] == local_idp.context.keys.kid
    assert claims["sub"] == target.user_id
    with pytest.raises(BadSignatureError):
        flow.verify(id_token)


def test_kid_absent_single_key(local_idp: IdpHandle, flow: Flow, target: ContractTarget) -> None:
    local_idp.set_faults(id_token_kid_absent=True)
    id_token, _ = _id_token(flow)
    assert "kid" not in _segments(id_token)[0]
    published = _published(target)
    assert len(published["keys"]) == 1
    assert "kid" not in published["keys"][0]
    assert jwt.decode(id_token, KeySet.import_key_set(published), algorithms=["RS256"]).claims["sub"] == target.user_id


def test_jwks_extra_key_is_published_beside_the_signing_key(
    local_idp: IdpHandle, flow: Flow, target: ContractTarget
) -> None:
    local_idp.set_faults(jwks_extra_key=True)
    kids = [key["kid"] for key in _published(target)["keys"]]
    assert kids[0] == local_idp.context.keys.kid
    extra = str(local_idp.context.keys.extra_key().kid)
    assert extra in kids
    assert len(set(kids)) == len(kids) >= 2
    id_token, _ = _id_token(flow)
    assert _segments(id_token)[0]["kid"] == local_idp.context.keys.kid


def test_id_token_extra_key_signs_with_the_second_key(local_idp: IdpHandle, flow: Flow, target: ContractTarget) -> None:
    local_idp.set_faults(jwks_extra_key=True, id_token_extra_key=True)
    id_token, _ = _id_token(flow)
    extra = str(local_idp.context.keys.extra_key().kid)
    assert _segments(id_token)[0]["kid"] == extra
    with pytest.raises(JoseError):
        flow.verify(id_token)  # the RP's JWKS from before the fault does not know the key
    fresh = KeySet.import_key_set(_published(target))
    assert jwt.decode(id_token, fresh, algorithms=["RS256"]).claims["sub"] == target.user_id


def test_kid_absent_with_extra_key_publishes_two_keys_without_kid(
    local_idp: IdpHandle, flow: Flow, target: ContractTarget
) -> None:
    local_idp.set_faults(id_token_kid_absent=True, jwks_extra_key=True)
    published = _published(target)
    assert len(published["keys"]) == 2
    assert all("kid" not in key for key in published["keys"])
    id_token, _ = _id_token(flow)
    assert "kid" not in _segments(id_token)[0]


def test_discovery_issuer(local_idp: IdpHandle, target: ContractTarget) -> None:
    local_idp.set_faults(discovery_issuer="https://other.example/oauth2/default")
    for document in ("openid-configuration", "oauth-authorization-server"):
        metadata = requests.get(f"{target.issuer}/.well-known/{document}", timeout=10).json()
        assert metadata["issuer"] == "https://other.example/oauth2/default"
        assert metadata["token_endpoint"] == f"{target.issuer}/v1/token"  # only the issuer lies
    local_idp.clear_faults()
    assert (
        requests.get(f"{target.issuer}/.well-known/openid-configuration", timeout=10).json()["issuer"] == target.issuer
    )


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ({"id_token_alg": "RS512"}, "must be one of none, HS256, bad_sig"),
        ({"id_token_drop_claims": "sub"}, "must be a list"),
        ({"id_token_drop_claims": ["sub", 3]}, "list of claim names"),
        ({"id_token_exp_offset": True}, "must be a int"),
        ({"id_token_kid_absent": "yes"}, "must be a bool"),
    ],
)
def test_bad_fault_values_are_refused(local_idp: IdpHandle, faults: dict[str, Any], message: str) -> None:
    with pytest.raises(FaultError, match=message):
        validate_faults(faults)
    answer = requests.post(f"{local_idp.base_url}/__idp/faults", json=faults, timeout=10)
    assert answer.status_code == 400
    assert message in answer.json()["error"]


def test_jwks_status_makes_the_keys_endpoint_fail(local_idp: IdpHandle, target: ContractTarget) -> None:
    local_idp.set_faults(jwks_status=503)
    answer = requests.get(f"{target.issuer}/v1/keys", timeout=10)
    assert answer.status_code == 503
    assert answer.json()["errorCode"] == "E0000009"
    local_idp.clear_faults()
    assert requests.get(f"{target.issuer}/v1/keys", timeout=10).status_code == 200
