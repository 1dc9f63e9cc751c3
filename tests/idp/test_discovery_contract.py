"""Contract: discovery metadata and JWKS of the custom authorization server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from tests.idp.okta_contract import ContractTarget


def test_issuer_is_a_custom_authorization_server(target: ContractTarget, discovery: dict[str, Any]) -> None:
    assert discovery["issuer"] == target.issuer
    assert target.issuer.startswith(f"{target.base_url}/oauth2/")
    if not target.real_org:  # the local IdP serves Okta's "default" server
        assert target.issuer == f"{target.base_url}/oauth2/default"


def test_endpoints_live_under_the_issuer(target: ContractTarget, discovery: dict[str, Any]) -> None:
    expected = {
        "authorization_endpoint": "authorize",
        "token_endpoint": "token",
        "userinfo_endpoint": "userinfo",
        "jwks_uri": "keys",
        "introspection_endpoint": "introspect",
        "revocation_endpoint": "revoke",
        "end_session_endpoint": "logout",
    }
    for field, name in expected.items():
        assert discovery[field] == f"{target.issuer}/v1/{name}", field


def test_advertises_what_the_relying_party_relies_on(discovery: dict[str, Any]) -> None:
    assert "code" in discovery["response_types_supported"]
    assert "query" in discovery["response_modes_supported"]
    assert "authorization_code" in discovery["grant_types_supported"]
    assert discovery["subject_types_supported"] == ["public"]
    assert "RS256" in discovery["id_token_signing_alg_values_supported"]
    assert "S256" in discovery["code_challenge_methods_supported"]
    assert {"client_secret_basic", "client_secret_post"} <= set(discovery["token_endpoint_auth_methods_supported"])
    assert {"openid", "profile", "email", "offline_access"} <= set(discovery["scopes_supported"])
    assert {"sub", "iss", "aud", "nonce", "preferred_username", "email"} <= set(discovery["claims_supported"])
    assert "request_parameter_supported" in discovery


def test_groups_scope_listed_only_when_defined(target: ContractTarget, discovery: dict[str, Any]) -> None:
    if target.groups_scope_defined is None:
        pytest.skip("OKTA_CONTRACT_GROUPS_SCOPE is not set: whether the server defines 'groups' is unknown")
    assert ("groups" in discovery["scopes_supported"]) is target.groups_scope_defined


def test_oauth_authorization_server_metadata_agrees(target: ContractTarget, discovery: dict[str, Any]) -> None:
    response = requests.get(f"{target.issuer}/.well-known/oauth-authorization-server", timeout=10)
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == target.issuer
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri", "revocation_endpoint"):
        assert metadata[field] == discovery[field]


def test_jwks_publishes_rsa_signing_keys_only(jwks: dict[str, Any]) -> None:
    keys = jwks["keys"]
    assert keys, "JWKS is empty"
    kids = [key["kid"] for key in keys]
    assert len(set(kids)) == len(kids)
    for key in keys:
        assert key["kty"] == "RSA"
        assert key["alg"] == "RS256"
        assert key["use"] == "sig"
        assert key["kid"]
        assert key["e"]
        assert key["n"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), "private key material published"
        modulus_bytes = len(key["n"]) * 6 // 8
        assert modulus_bytes >= 255, "RSA key shorter than 2048 bits"


def test_the_org_authorization_server_publishes_its_keys(target: ContractTarget) -> None:
    """Okta signs Universal Logout requests with the org's keys, found through the org's own discovery."""
    org = requests.get(f"{target.base_url}/.well-known/openid-configuration", timeout=10)
    assert org.status_code == 200
    assert org.json()["issuer"] == target.base_url
    assert org.json()["jwks_uri"] == f"{target.base_url}/oauth2/v1/keys"
    keys = requests.get(org.json()["jwks_uri"], timeout=10).json()["keys"]
    assert keys
    assert all(k["kty"] == "RSA" and k.get("kid") for k in keys)
