"""Shared pieces of the Okta contract suite: the target description, a tiny RP, and real-org mode.

The suite runs against the local IdP unless ``OKTA_CONTRACT_*`` variables describe a real Okta
org (see docs/contract-tests.md): :func:`real_org_from_env` decides, and refuses a half-given set.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
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
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Approve (True) or deny a device's user code as a person would at verification_uri_complete.
ApproveDevice = Callable[[str, str, str, bool], None]
AsksForCredentials = Callable[[requests.Response], bool]

# -- real-org mode -----------------------------------------------------------------------------

ENV_PREFIX = "OKTA_CONTRACT_"
# Without every one of these, the suite cannot run against a real org at all.
REQUIRED_VARIABLES: dict[str, str] = {
    "OKTA_CONTRACT_ISSUER": "issuer of a custom authorization server, e.g. https://dev-123456.okta.com/oauth2/default",
    "OKTA_CONTRACT_CLIENT_ID": "client id of the test app (OIDC web app, client_secret_basic, PKCE required)",
    "OKTA_CONTRACT_CLIENT_SECRET": "its client secret",
    "OKTA_CONTRACT_USERNAME": "login of the test user (an email address; password-only sign-in)",
    "OKTA_CONTRACT_PASSWORD": "the test user's password",
    "OKTA_CONTRACT_USER_GROUPS": "comma-separated groups the groups claim carries for the test user",
    "OKTA_CONTRACT_API_TOKEN": "API token of a read-only admin (okta.users.read, okta.groups.read)",
}
# Each enables or tunes one part; tests that need an unset one are skipped, saying which.
OPTIONAL_VARIABLES: dict[str, str] = {
    "OKTA_CONTRACT_REDIRECT_URI": f"sign-in redirect URI registered on the test app (default {CALLBACK})",
    "OKTA_CONTRACT_POST_LOGOUT_REDIRECT_URI": f"sign-out redirect URI registered on the test app (default {SIGNED_OUT})",
    "OKTA_CONTRACT_AUDIENCE": "the authorization server's audience (default api://default)",
    "OKTA_CONTRACT_GROUPS_SCOPE": "'defined' or 'undefined': whether the server defines a groups scope",
    "OKTA_CONTRACT_PAGING_USER": "id (00u…) of a user in more than 7 groups, for the Groups API paging tests",
    "OKTA_CONTRACT_PAGING_GROUP_COUNT": "how many groups that user is in",
    "OKTA_CONTRACT_EVENT_HOOK_ID": "id (who…) of an event hook whose URL reaches OKTA_CONTRACT_EVENT_HOOK_PORT here",
    "OKTA_CONTRACT_EVENT_HOOK_SECRET": "the exact Authorization header value the hook sends",
    "OKTA_CONTRACT_EVENT_HOOK_PORT": "local port the hook's public URL forwards to (a tunnel)",
    "OKTA_CONTRACT_DEVICE_CLIENT_ID": "client id of a native app with the Device Authorization grant (no secret)",
}
CONTRACT_VARIABLES = (*REQUIRED_VARIABLES, *OPTIONAL_VARIABLES)
_GROUPS_SCOPE = {"defined": True, "undefined": False}


class ContractConfigError(Exception):
    """Some OKTA_CONTRACT_* variables are set but they don't describe a usable org; lists every problem."""


@dataclass(frozen=True)
class RealOrg:
    """A real Okta org to check the contract against, as the OKTA_CONTRACT_* variables describe it."""

    issuer: str
    client_id: str
    client_secret: str
    username: str
    password: str
    user_groups: tuple[str, ...]
    api_token: str
    redirect_uri: str = CALLBACK
    post_logout_redirect_uri: str = SIGNED_OUT
    audience: str = "api://default"
    groups_scope_defined: bool | None = None
    paging_user: str | None = None
    paging_group_count: int | None = None
    event_hook_id: str | None = None
    event_hook_secret: str | None = None
    event_hook_port: int | None = None
    device_client_id: str | None = None

    @property
    def base_url(self) -> str:
        """Return the org's URL (scheme and host of the issuer): the Management API lives there."""
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"


def real_org_from_env(environ: Mapping[str, str]) -> RealOrg | None:
    """Return the real org the variables describe, None if none is set; raise if they are half given."""
    given = {k: v.strip() for k, v in environ.items() if k.startswith(ENV_PREFIX) and v.strip()}
    if not given:
        return None
    problems = [f"{name} is not set: {what}" for name, what in REQUIRED_VARIABLES.items() if name not in given]
    problems += [f"{name} is not a variable of the contract suite" for name in given if name not in CONTRACT_VARIABLES]
    issuer = given.get("OKTA_CONTRACT_ISSUER", "")
    if issuer and (urlsplit(issuer).scheme != "https" or "/oauth2/" not in issuer or issuer.endswith("/")):
        problems.append(
            f"OKTA_CONTRACT_ISSUER={issuer!r} is not a custom authorization server's issuer "
            "(https://<org>/oauth2/<id>, no trailing slash)"
        )
    scope = given.get("OKTA_CONTRACT_GROUPS_SCOPE")
    if scope is not None and scope not in _GROUPS_SCOPE:
        problems.append(f"OKTA_CONTRACT_GROUPS_SCOPE={scope!r}: use 'defined' or 'undefined'")
    numbers: dict[str, int] = {}
    for name in ("OKTA_CONTRACT_PAGING_GROUP_COUNT", "OKTA_CONTRACT_EVENT_HOOK_PORT"):
        if name in given:
            try:
                numbers[name] = int(given[name])
            except ValueError:
                problems.append(f"{name}={given[name]!r} is not a number")
    for first, second in (
        ("OKTA_CONTRACT_PAGING_USER", "OKTA_CONTRACT_PAGING_GROUP_COUNT"),
        ("OKTA_CONTRACT_EVENT_HOOK_ID", "OKTA_CONTRACT_EVENT_HOOK_SECRET"),
        ("OKTA_CONTRACT_EVENT_HOOK_ID", "OKTA_CONTRACT_EVENT_HOOK_PORT"),
    ):
        if (first in given) != (second in given):
            problems.append(f"{first} and {second} go together: set both or neither")
    if problems:
        raise ContractConfigError(
            "OKTA_CONTRACT_* variables are set, so the contract suite would run against a real Okta org, but:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nSee docs/contract-tests.md, or unset every OKTA_CONTRACT_* variable to test the local IdP."
        )
    return RealOrg(
        issuer=issuer,
        client_id=given["OKTA_CONTRACT_CLIENT_ID"],
        client_secret=given["OKTA_CONTRACT_CLIENT_SECRET"],
        username=given["OKTA_CONTRACT_USERNAME"],
        password=given["OKTA_CONTRACT_PASSWORD"],
        user_groups=tuple(g.strip() for g in given["OKTA_CONTRACT_USER_GROUPS"].split(",") if g.strip()),
        api_token=given["OKTA_CONTRACT_API_TOKEN"],
        redirect_uri=given.get("OKTA_CONTRACT_REDIRECT_URI", CALLBACK),
        post_logout_redirect_uri=given.get("OKTA_CONTRACT_POST_LOGOUT_REDIRECT_URI", SIGNED_OUT),
        audience=given.get("OKTA_CONTRACT_AUDIENCE", "api://default"),
        groups_scope_defined=_GROUPS_SCOPE[scope] if scope is not None else None,
        paging_user=given.get("OKTA_CONTRACT_PAGING_USER"),
        paging_group_count=numbers.get("OKTA_CONTRACT_PAGING_GROUP_COUNT"),
        event_hook_id=given.get("OKTA_CONTRACT_EVENT_HOOK_ID"),
        event_hook_secret=given.get("OKTA_CONTRACT_EVENT_HOOK_SECRET"),
        event_hook_port=numbers.get("OKTA_CONTRACT_EVENT_HOOK_PORT"),
        device_client_id=given.get("OKTA_CONTRACT_DEVICE_CLIENT_ID"),
    )


def sign_in_with_session_token(
    base_url: str,
) -> SignIn:
    """Return a sign-in for a real org: Okta's Authentication API, then the authorize request again.

    Okta's hosted sign-in page is a JavaScript widget, so a script signs in with
    ``POST /api/v1/authn`` and repeats the authorization request with the ``sessionToken`` it gets.
    Anything but SUCCESS (MFA, a password to change) needs a person: the test is skipped.
    """

    def sign_in(browser: requests.Session, page: requests.Response, username: str, password: str) -> requests.Response:
        answer = browser.post(
            f"{base_url}/api/v1/authn",
            json={"username": username, "password": password},
            headers={"Accept": "application/json"},
            timeout=10,
        )
        body = answer.json() if answer.headers.get("Content-Type", "").startswith("application/json") else {}
        status = body.get("status")
        if answer.status_code == 200 and status == "SUCCESS":
            url = page.request.url or page.url
            return browser.get(
                f"{url}&{urlencode({'sessionToken': body['sessionToken']})}", allow_redirects=False, timeout=10
            )
        if answer.status_code == 200:
            pytest.skip(f"the test user's sign-in needs a person at Okta ({status}); use a password-only policy")
        return answer  # 401 E0000004: wrong credentials, for the test to judge

    return sign_in


def redirects_back(redirect_uri: str) -> AsksForCredentials:
    """Return a check that Okta asked for credentials: it did not send the browser back to the app."""

    def asks(response: requests.Response) -> bool:
        location = response.headers.get("Location", "")
        return not (response.status_code in (301, 302, 303) and location.startswith(redirect_uri))

    return asks


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
            {
                "client_id": "contract-cli",
                "name": "Contract CLI",
                "token_endpoint_auth_method": "none",
                "grant_types": [DEVICE_CODE_GRANT, "refresh_token"],
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
    groups_scope_defined: bool | None
    api_token: str
    many_groups_user: str | None
    many_groups_count: int | None
    sign_in: SignIn
    # What a real org can't be asked for, or doesn't promise, is None/False here and the tests skip.
    asks_for_credentials: AsksForCredentials = field(default=is_sign_in_page)
    audience: str = "api://default"
    groups_claim_has_every_group: bool = True  # False: the claim's filter leaves some of the user's groups out
    real_org: bool = False
    event_hook_id: str | None = None
    event_hook_secret: str | None = None
    device_client_id: str | None = None  # a native app with the Device Authorization grant
    approve_device: ApproveDevice | None = None  # None: a person must do it at Okta's /activate page


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
        if self.target.asks_for_credentials(page):
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

    def has_session(self) -> bool:
        """Return whether the target still has a session for this browser (``prompt=none``, OIDC Core 3.1.2.1)."""
        auth, response = self.authorize(prompt="none")
        assert response.status_code in (302, 303), response.text[:300]
        return "code" in auth.params

    def verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return (header, claims) of a JWT after checking its signature against the JWKS."""
        decoded = jwt.decode(token, self.key_set, algorithms=["RS256"])
        return dict(decoded.header), dict(decoded.claims)


# -- the device authorization grant (RFC 8628) ---------------------------------------------------


def device_authorize(
    issuer: str, client_id: str, scope: str | None, auth: tuple[str, str] | None = None
) -> requests.Response:
    """Ask ``{issuer}/v1/device/authorize`` for a device code (``auth``: HTTP Basic instead of a public client)."""
    data = {"scope": scope} if scope is not None else {}
    if auth is None:
        data["client_id"] = client_id
    return requests.post(f"{issuer}/v1/device/authorize", data=data, auth=auth, timeout=10)


def device_poll(
    issuer: str, client_id: str, device_code: str | None, auth: tuple[str, str] | None = None
) -> requests.Response:
    """Poll the token endpoint once for ``device_code``."""
    data = {"grant_type": DEVICE_CODE_GRANT}
    if device_code is not None:
        data["device_code"] = device_code
    if auth is None:
        data["client_id"] = client_id
    return requests.post(f"{issuer}/v1/token", data=data, auth=auth, timeout=10)
