"""The local IdP's Universal Logout: the org's discovery and keys, and the signed requests it sends to apps."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import requests
import yaml
from joserfc import jwt
from joserfc.jwk import KeySet

from okta_local_idp.config import ConfigError, parse_config
from okta_local_idp.server import IdpHandle, serve_in_thread

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TOKEN = "ulo-api-token"
ANN = {"id": "00uann0000000000000a", "login": "ann@example.com", "password": "p", "email": "ann@example.com"}


class Endpoint:
    """A tiny global token revocation endpoint that records each request and answers ``status``."""

    def __init__(self, status: int = 204) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = status
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.received.append({"auth": self.headers.get("Authorization"), "body": body})
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/auth/okta/global-token-revocation"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.close()


def config(url: str, subject_format: str = "iss_sub") -> dict[str, Any]:
    return {
        "server": {"api_token": TOKEN},
        "clients": [
            {
                "client_id": "web",
                "client_secret": "s",
                "redirect_uris": ["http://127.0.0.1:1/cb"],
                "universal_logout": {"url": url, "subject_format": subject_format},
            },
            {"client_id": "other", "client_secret": "s", "redirect_uris": ["http://127.0.0.1:1/cb"]},
        ],
        "users": [ANN],
    }


@pytest.fixture
def idp(tmp_path: Path, endpoint: Endpoint) -> Iterator[IdpHandle]:
    path = tmp_path / "idp.yaml"
    path.write_text(yaml.safe_dump(config(endpoint.url)))
    with serve_in_thread(path) as handle:
        yield handle


def org_keys(idp: IdpHandle) -> KeySet:
    discovery = requests.get(f"{idp.base_url}/.well-known/openid-configuration", timeout=10).json()
    assert discovery["issuer"] == idp.base_url  # the org authorization server, not /oauth2/default
    return KeySet.import_key_set(requests.get(discovery["jwks_uri"], timeout=10).json())


def test_the_admin_action_sends_a_request_signed_with_the_org_key(idp: IdpHandle, endpoint: Endpoint):
    answer = requests.post(f"{idp.base_url}/__idp/universal-logout", json={"user": "ann@example.com"}, timeout=10)
    assert answer.status_code == 200
    assert [(r["client_id"], r["status"]) for r in answer.json()] == [("web", 204)]  # only the app that opted in
    [received] = endpoint.received
    assert received["body"] == {"sub_id": {"format": "iss_sub", "iss": idp.base_url, "sub": ANN["id"]}}
    scheme, token = received["auth"].split(" ", 1)
    assert scheme == "Bearer"
    claims = jwt.decode(token, org_keys(idp), algorithms=["RS256"]).claims
    assert (claims["iss"], claims["sub"], claims["aud"]) == (idp.base_url, "web", endpoint.url)
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"]
    again = requests.post(f"{idp.base_url}/__idp/universal-logout", json={"user": ANN["id"]}, timeout=10)
    assert again.json()[0]["claims"]["jti"] != claims["jti"]  # a fresh jti every time


def test_revoking_a_users_sessions_ends_them_and_sends_the_email_format(tmp_path: Path, endpoint: Endpoint):
    path = tmp_path / "idp.yaml"
    path.write_text(yaml.safe_dump(config(endpoint.url, "email")))
    with serve_in_thread(path) as idp:
        session = idp.context.store.open_session(ANN["id"], auth_time=0)
        answer = requests.delete(
            f"{idp.base_url}/api/v1/users/{ANN['id']}/sessions", headers={"Authorization": f"SSWS {TOKEN}"}, timeout=10
        )
        assert answer.status_code == 204
        assert idp.context.store.get_session(session.sid) is None
        assert [r["body"] for r in endpoint.received] == [{"sub_id": {"format": "email", "email": "ann@example.com"}}]
        recorded = requests.get(f"{idp.base_url}/__idp/universal-logout", timeout=10).json()
        assert [r["status"] for r in recorded] == [204]


def test_an_unknown_user_is_okta_s_404(idp: IdpHandle):
    answer = requests.delete(
        f"{idp.base_url}/api/v1/users/nobody/sessions", headers={"Authorization": f"SSWS {TOKEN}"}, timeout=10
    )
    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "E0000007"


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ({"url": "ftp://x"}, "universal_logout.url"),
        ({"url": "http://x", "subject_format": "opaque"}, "universal_logout.subject_format"),
        ({"url": "http://x", "method": "x"}, "unknown key"),
    ],
)
def test_a_bad_universal_logout_setting_names_its_place(setting, problem):
    data = config("http://x")
    data["clients"][0]["universal_logout"] = setting
    with pytest.raises(ConfigError, match=problem):
        parse_config(data)
