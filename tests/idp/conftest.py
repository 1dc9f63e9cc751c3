"""Fixtures for the Okta contract suite: the local IdP on a free port, or a real Okta org.

Contract tests only use :class:`tests.idp.okta_contract.ContractTarget` (URLs, one client, one
user, an API token) and plain HTTP, so another target plugs in by building a ContractTarget for
it. With ``OKTA_CONTRACT_*`` variables set (docs/contract-tests.md) the target is that real org:
only the ``test_*_contract.py`` files run, minus tests marked ``local_idp`` (they need the local
IdP's internals: config reload, faults, its sign-in page). Without them nothing changes.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from okta_local_idp.server import IdpHandle, serve_in_thread
from okta_local_idp.testing import decide_device, submit_sign_in_form
from tests.idp.okta_contract import (
    CALLBACK,
    MANY_GROUPS,
    SIGNED_OUT,
    ContractConfigError,
    ContractTarget,
    Flow,
    RealOrg,
    base_config,
    real_org_from_env,
    redirects_back,
    sign_in_with_session_token,
    write_config,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

LOCAL_HOOK_NAME = "contract-hook"
LOCAL_HOOK_SECRET = "Bearer contract-hook-secret"
_REAL_ORG: list[RealOrg | None] = [None]


def real_org() -> RealOrg | None:
    """Return the real org this session tests (None: the local IdP)."""
    return _REAL_ORG[0]


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; pick the target once, refusing a half-given OKTA_CONTRACT_* set."""
    config.addinivalue_line("markers", "local_idp: needs the local IdP (config reload, faults), not a real Okta")
    try:
        _REAL_ORG[0] = real_org_from_env(os.environ)
    except ContractConfigError as e:
        raise pytest.UsageError(str(e)) from e


def pytest_report_header(config: pytest.Config) -> str | None:
    org = real_org()
    return f"Okta contract suite: REAL ORG {org.issuer} (user {org.username})" if org else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Against a real org run the contract files only, without the local-IdP-only tests."""
    if real_org() is None:
        return
    here = Path(__file__).parent
    for item in items:
        path = Path(str(item.fspath))
        if path.parent != here:
            continue
        if not path.name.endswith("_contract.py"):
            item.add_marker(
                pytest.mark.skip(
                    reason="not a contract test; OKTA_CONTRACT_* selects a real org, these test the local IdP"
                )
            )
        elif item.get_closest_marker("local_idp"):
            item.add_marker(
                pytest.mark.skip(reason="needs the local IdP's internals, not part of the real-org contract")
            )


# -- event hooks ---------------------------------------------------------------------------------


@dataclass
class HookListener:
    """Where an event hook's verification request arrives; ``reply`` says how to answer it."""

    url: str
    server: ThreadingHTTPServer
    reply: str = "echo"  # "echo": the challenge, as Okta requires; "wrong": another value
    requests: list[dict[str, Any]] = field(default_factory=list)


def _listen(port: int) -> HookListener:
    listener: HookListener

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            listener.requests.append({"method": "GET", "path": self.path, "headers": dict(self.headers.items())})
            challenge = self.headers.get("x-okta-verification-challenge", "")
            answer = challenge if listener.reply == "echo" else f"not-{challenge}"
            body = json.dumps({"verification": answer}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            listener.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers.items())})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    listener = HookListener(url=f"http://127.0.0.1:{server.server_port}/okta/events", server=server)
    threading.Thread(target=server.serve_forever, name="contract-hook-listener", daemon=True).start()
    return listener


@pytest.fixture(scope="session")
def hook_listener() -> Iterator[HookListener]:
    """Listen for event hook requests: on a free port (local IdP), or where the real org's tunnel ends."""
    org = real_org()
    if org is not None and org.event_hook_port is None:
        pytest.skip("set OKTA_CONTRACT_EVENT_HOOK_ID/_SECRET/_PORT: a person must expose a local port to Okta")
    listener = _listen(org.event_hook_port if org is not None and org.event_hook_port else 0)
    yield listener
    listener.server.shutdown()
    listener.server.server_close()


# -- the target ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def idp_config_path(tmp_path_factory: pytest.TempPathFactory, hook_listener: HookListener) -> Path:
    """Return the contract suite's IdP config file (never edited by tests)."""
    config = base_config()
    config["event_hooks"] = [{"name": LOCAL_HOOK_NAME, "url": hook_listener.url, "authorization": LOCAL_HOOK_SECRET}]
    return write_config(tmp_path_factory.mktemp("idp") / "idp.yaml", config)


@pytest.fixture(scope="session")
def local_idp(idp_config_path: Path) -> Iterator[IdpHandle]:
    """Run one local IdP for the whole session."""
    if real_org() is not None:
        pytest.skip("needs the local IdP; OKTA_CONTRACT_* selects a real org")
    with serve_in_thread(idp_config_path) as handle:
        yield handle


def _management_get(base_url: str, token: str, path: str) -> requests.Response:
    return requests.get(
        f"{base_url}/api/v1{path}",
        headers={"Authorization": f"SSWS {token}", "Accept": "application/json"},
        timeout=10,
    )


def _real_target(org: RealOrg) -> ContractTarget:
    try:
        user = _management_get(org.base_url, org.api_token, f"/users/{requests.utils.quote(org.username)}")
    except requests.RequestException as e:
        pytest.fail(f"cannot reach the Okta org {org.base_url} (OKTA_CONTRACT_ISSUER): {type(e).__name__}: {e}")
    if user.status_code != 200:
        pytest.fail(
            f"OKTA_CONTRACT_API_TOKEN could not read the test user {org.username!r} at {org.base_url}: "
            f"HTTP {user.status_code} {user.text[:200]} — check the token (read-only admin) and the login"
        )
    return ContractTarget(
        base_url=org.base_url,
        issuer=org.issuer,
        client_id=org.client_id,
        client_secret=org.client_secret,
        redirect_uri=org.redirect_uri,
        post_logout_redirect_uri=org.post_logout_redirect_uri,
        username=org.username,
        password=org.password,
        user_id=user.json()["id"],
        user_groups=org.user_groups,
        groups_scope_defined=org.groups_scope_defined,
        api_token=org.api_token,
        many_groups_user=org.paging_user,
        many_groups_count=org.paging_group_count,
        sign_in=sign_in_with_session_token(org.base_url),
        asks_for_credentials=redirects_back(org.redirect_uri),
        audience=org.audience,
        groups_claim_has_every_group=False,
        real_org=True,
        event_hook_id=org.event_hook_id,
        event_hook_secret=org.event_hook_secret,
        device_client_id=org.device_client_id,  # approving its codes needs a person: approve_device stays None
    )


def _decide_on_local_activation_page(verification_uri_complete: str, username: str, password: str, allow: bool) -> None:
    answer = decide_device(requests.Session(), verification_uri_complete, username, password, allow=allow)
    assert answer.status_code == 200, answer.text[:500]


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> ContractTarget:
    """Return the contract target: the real org if OKTA_CONTRACT_* describe one, else the local IdP."""
    org = real_org()
    if org is not None:
        return _real_target(org)
    local: IdpHandle = request.getfixturevalue("local_idp")
    hooks = _management_get(local.base_url, "test-api-token", "/eventHooks").json()
    return ContractTarget(
        base_url=local.base_url,
        issuer=local.issuer,
        client_id="contract-web",
        client_secret="contract-web-secret",
        redirect_uri=CALLBACK,
        post_logout_redirect_uri=SIGNED_OUT,
        username="alice.admin@example.com",
        password="Admin-pass-1",
        user_id="00uadmin000000000001",
        user_groups=("airflow-admins", "Everyone"),
        groups_scope_defined=False,
        api_token="test-api-token",
        many_groups_user="00umanygroups0000005",
        many_groups_count=MANY_GROUPS,
        sign_in=submit_sign_in_form,
        event_hook_id=next(h["id"] for h in hooks if h["name"] == LOCAL_HOOK_NAME),
        event_hook_secret=LOCAL_HOOK_SECRET,
        device_client_id="contract-cli",
        approve_device=_decide_on_local_activation_page,
    )


@pytest.fixture(scope="session")
def discovery(target: ContractTarget) -> dict[str, Any]:
    """Return the target's OpenID Provider metadata."""
    response = requests.get(f"{target.issuer}/.well-known/openid-configuration", timeout=10)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def jwks(discovery: dict[str, Any]) -> dict[str, Any]:
    """Return the target's JWKS document."""
    response = requests.get(discovery["jwks_uri"], timeout=10)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def flow(target: ContractTarget, discovery: dict[str, Any], jwks: dict[str, Any]) -> Flow:
    """Return a relying party with a fresh browser session."""
    return Flow(target, discovery, jwks)
