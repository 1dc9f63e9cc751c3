"""Shared pieces of the Okta contract suite: the target description and a tiny RP."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
import yaml
from joserfc import jwt
from joserfc.jwk import KeySet

from okta_local_idp.testing import is_sign_in_page, pkce_pair

if TYPE_CHECKING:
    from pathlib import Path

CALLBACK = "http://127.0.0.1:8765/auth/oauth-authorized/okta"
SIGNED_OUT = "http://127.0.0.1:8765/auth/login/"
MANY_GROUPS = 250
SignIn = Callable[[requests.Session, requests.Response, str, str], requests.Response]


def base_config() -> dict[str, Any]:
    """Return the YAML content used by the contract suite."""
    return {
        "server": {
            "groups_claim": True,
            "groups_claim_filter": ".*",
            "groups_scope": False,
            "api_token": "test-api-token",
            "custom_scopes": ["airflow.api"],
        },
        "clients": [
            {
                "client_id": "contract-web",
                "client_secret": "contract-web-secret",
                "token_endpoint_auth_method": "client_secret_basic",
                "redirect_uris": [CALLBACK],
                "post_logout_redirect_uris": [SIGNED_OUT],
            },
            {
                "client_id": "post-web",
                "client_secret": "post-web-secret",
                "token_endpoint_auth_method": "client_secret_post",
                "redirect_uris": [CALLBACK],
            },
            {
                "client_id": "legacy-web",
                "client_secret": "legacy-web-secret",
                "require_pkce": False,
                "redirect_uris": [CALLBACK],
            },
            {
                "client_id": "service-bot",
                "client_secret": "service-bot-secret",
                "grant_types": ["client_credentials"],
            },
        ],
        "users": [
            {
                "id": "00uadmin000000000001",
                "login": "alice.admin@example.com",
                "password": "Admin-pass-1",
                "given_name": "Alice",
                "family_name": "Admin",
                "groups": ["airflow-admins", "Everyone"],
            },
            {
                "id": "00uviewer00000000002",
                "login": "bob.viewer@example.com",
                "password": "Viewer-pass-1",
                "given_name": "Bob",
                "family_name": "Viewer",
                "groups": ["airflow-viewers", "Everyone"],
            },
            {
                "id": "00ususpended00000004",
                "login": "dave.suspended@example.com",
                "password": "Suspended-pass-1",
                "status": "SUSPENDED",
                "groups": ["airflow-admins"],
            },
            {
                "id": "00umanygroups0000005",
                "login": "many.groups@example.com",
                "password": "Many-pass-1",
                "groups": [f"team-{index:03d}" for index in range(MANY_GROUPS)],
            },
        ],
    }


def write_config(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as YAML to ``path``."""
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@dataclass(frozen=True)
class ContractTarget:
    """What the contract suite needs to know about an Okta authorization server."""

    base_url: str
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    post_logout_redirect_uri: str
    username: str
    password: str
    user_id: str
    user_groups: tuple[str, ...]
    groups_scope_defined: bool
    api_token: str
    many_groups_user: str
    many_groups_count: int
    sign_in: SignIn


@dataclass
class Authorization:
    """The outcome of an authorization request."""

    response: requests.Response
    state: str
    nonce: str
    verifier: str

    @property
    def location(self) -> str:
        """Return the redirect target."""
        return self.response.headers.get("Location", "")

    @property
    def params(self) -> dict[str, str]:
        """Return the query parameters of the redirect."""
        return {k: v[0] for k, v in parse_qs(urlsplit(self.location).query).items()}

    @property
    def code(self) -> str:
        """Return the authorization code (asserting there is one)."""
        assert "code" in self.params, f"no code in redirect: {self.location or self.response.status_code}"
        return self.params["code"]


class Flow:
    """A minimal relying party driving the target with ``requests``."""

    def __init__(self, target: ContractTarget, discovery: dict[str, Any], jwks: dict[str, Any]) -> None:
        self.target = target
        self.discovery = discovery
        self.key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        self.browser = requests.Session()

    def authorize(self, **overrides: str | None) -> tuple[Authorization, requests.Response]:
        """Send an authorization request (None drops a parameter); return it and the answer."""
        verifier, challenge = pkce_pair()
        params: dict[str, str | None] = {
            "client_id": self.target.client_id,
            "response_type": "code",
            "scope": "openid profile email",
            "redirect_uri": self.target.redirect_uri,
            "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        sent = {k: v for k, v in params.items() if v is not None}
        url = f"{self.discovery['authorization_endpoint']}?{urlencode(sent)}"
        response = self.browser.get(url, allow_redirects=False, timeout=10)
        auth = Authorization(response, sent.get("state", ""), sent.get("nonce", ""), verifier)
        return auth, response

    def login(self, username: str | None = None, password: str | None = None, **overrides: str | None) -> Authorization:
        """Run the authorization request through the sign-in form; return the redirect."""
        auth, page = self.authorize(**overrides)
        if is_sign_in_page(page):
            response = self.target.sign_in(
                self.browser, page, username or self.target.username, password or self.target.password
            )
            auth.response = response
        assert auth.response.status_code in (302, 303), auth.response.text[:500]
        return auth

    def exchange(
        self,
        code: str,
        verifier: str | None,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        post_auth: bool = False,
    ) -> requests.Response:
        """Redeem ``code`` at the token endpoint."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri or self.target.redirect_uri,
        }
        if verifier is not None:
            data["code_verifier"] = verifier
        cid = client_id or self.target.client_id
        secret = client_secret if client_secret is not None else self.target.client_secret
        auth = None
        if post_auth:
            data.update(client_id=cid, client_secret=secret)
        else:
            auth = (cid, secret)
        return requests.post(self.discovery["token_endpoint"], data=data, auth=auth, timeout=10)

    def tokens(self, **overrides: str | None) -> tuple[dict[str, Any], Authorization]:
        """Sign in and redeem the code; return the token response and authorization."""
        auth = self.login(**overrides)
        response = self.exchange(auth.code, auth.verifier)
        assert response.status_code == 200, response.text
        return response.json(), auth

    def verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return (header, claims) of a JWT after checking its signature against the JWKS."""
        decoded = jwt.decode(token, self.key_set, algorithms=["RS256"])
        return dict(decoded.header), dict(decoded.claims)
