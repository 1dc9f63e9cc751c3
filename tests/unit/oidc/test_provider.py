from __future__ import annotations

import pytest

from okta_security.oidc.provider import build_provider, scopes_for
from okta_security.settings.loader import load_settings


@pytest.mark.parametrize(
    ("supported", "extra", "expected"),
    [
        (["openid", "profile", "email", "groups"], (), "openid profile email groups"),
        (["openid", "profile", "email"], (), "openid profile email"),
        (None, (), "openid profile email"),
        (["openid", "groups"], ("offline_access", "email"), "openid profile email groups offline_access"),
    ],
)
def test_groups_scope_only_when_the_server_offers_it(supported, extra, expected):
    metadata = {} if supported is None else {"scopes_supported": supported}
    assert scopes_for(metadata, extra) == expected


def test_provider_uses_discovery_pkce_and_auth_method(tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text("mappings: {a: [Viewer]}\n")
    settings = load_settings(
        {
            "OKTA_ISSUER": "https://dev-1.okta.com",
            "OKTA_CLIENT_ID": "cid",
            "OKTA_CLIENT_SECRET": "sec",
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
            "OKTA_TOKEN_AUTH_METHOD": "client_secret_post",
        }
    )
    provider = build_provider(settings)
    remote = provider["remote_app"]
    assert provider["name"] == "okta"
    assert remote["server_metadata_url"] == "https://dev-1.okta.com/.well-known/openid-configuration"
    assert remote["client_kwargs"]["code_challenge_method"] == "S256"
    assert remote["client_kwargs"]["token_endpoint_auth_method"] == "client_secret_post"
    assert remote["client_kwargs"]["scope"] == "openid profile email"


def test_private_key_jwt_names_the_current_keys_own_kid():
    import base64
    import json
    from types import SimpleNamespace

    from joserfc.jwk import RSAKey

    from okta_security.oidc.provider import KeyIdPrivateKeyJWT

    def header(key: RSAKey) -> dict:
        assertion = KeyIdPrivateKeyJWT(alg="RS256").sign(
            SimpleNamespace(client_id="cid", client_secret=key), "https://t"
        )
        head = assertion.split(".")[0]
        return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))

    first, rotated = (RSAKey.generate_key(2048, parameters={"kid": kid}) for kid in ("k1", "k2"))
    assert header(first)["kid"] == "k1"
    assert header(rotated)["kid"] == "k2"  # the same plug-in follows a rotated key file
    assert "kid" not in header(RSAKey.import_key(first.as_pem(private=True)))  # PEM: Okta uses the only key
