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


def test_the_token_request_is_cut_at_okta_http_timeout_seconds(tmp_path):
    """A token endpoint that answers late must not hold the login (and the worker) past the setting."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import requests
    from authlib.integrations.requests_client import OAuth2Session

    release = threading.Event()

    class LateTokenEndpoint(BaseHTTPRequestHandler):
        def do_POST(self):
            release.wait(10)  # answers only when the test is over
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), LateTokenEndpoint)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    mapping = tmp_path / "m.yaml"
    mapping.write_text("mappings: {a: [Viewer]}\n")
    settings = load_settings(
        {
            "OKTA_ISSUER": "https://dev-1.okta.com",
            "OKTA_CLIENT_ID": "cid",
            "OKTA_CLIENT_SECRET": "sec",
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
            "OKTA_HTTP_TIMEOUT_SECONDS": "0.5",
        }
    )
    client_kwargs = build_provider(settings)["remote_app"]["client_kwargs"]
    session = OAuth2Session(client_id="cid", client_secret="sec", **client_kwargs)  # as authlib builds it
    started = time.monotonic()
    try:
        with pytest.raises(requests.Timeout):
            session.fetch_token(f"http://127.0.0.1:{server.server_port}/token", code="c", code_verifier="v" * 43)
        assert time.monotonic() - started < 3
    finally:
        release.set()
        server.shutdown()
        server.server_close()
