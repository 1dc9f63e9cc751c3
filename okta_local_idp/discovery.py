"""Okta-shaped discovery documents for the ``default`` custom authorization server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .misbehaviour import discovery_issuer

if TYPE_CHECKING:
    from .context import IdpContext

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"]
CLAIMS_SUPPORTED = [
    "iss",
    "ver",
    "sub",
    "aud",
    "iat",
    "exp",
    "jti",
    "auth_time",
    "amr",
    "idp",
    "nonce",
    "name",
    "nickname",
    "preferred_username",
    "given_name",
    "middle_name",
    "family_name",
    "email",
    "email_verified",
    "profile",
    "zoneinfo",
    "locale",
    "address",
    "phone_number",
    "picture",
    "website",
    "gender",
    "birthdate",
    "updated_at",
    "at_hash",
    "c_hash",
]


def openid_configuration(idp: IdpContext) -> dict[str, Any]:
    """Return ``/.well-known/openid-configuration`` for the current config."""
    config = idp.config
    issuer = idp.issuer
    claims = list(CLAIMS_SUPPORTED)
    if config.server.groups_claim:
        claims.append("groups")
    return {
        "issuer": discovery_issuer(idp),  # the real issuer unless the discovery_issuer fault is on
        "authorization_endpoint": f"{issuer}/v1/authorize",
        "token_endpoint": f"{issuer}/v1/token",
        "userinfo_endpoint": f"{issuer}/v1/userinfo",
        "jwks_uri": f"{issuer}/v1/keys",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": idp.supported_scopes(config),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "claims_supported": claims,
        "code_challenge_methods_supported": ["S256"],
        "introspection_endpoint": f"{issuer}/v1/introspect",
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint": f"{issuer}/v1/revoke",
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "end_session_endpoint": f"{issuer}/v1/logout",
        "device_authorization_endpoint": f"{issuer}/v1/device/authorize",  # RFC 8628 §4
        "request_parameter_supported": False,
        "request_object_signing_alg_values_supported": [],
        "claims_parameter_supported": False,
    }


def authorization_server_metadata(idp: IdpContext) -> dict[str, Any]:
    """Return ``/.well-known/oauth-authorization-server`` (RFC 8414)."""
    document = openid_configuration(idp)
    for key in ("userinfo_endpoint", "id_token_signing_alg_values_supported"):
        document.pop(key)
    return document
