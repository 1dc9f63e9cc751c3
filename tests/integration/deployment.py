"""Shared pieces of the deployment tests: IdP users, replicas on one PostgreSQL, a browser that stops at the callback.

The deployment and concurrency tests (``test_deployment_*.py``, ``test_concurrency.py``) build
stacks the shared ``stack`` fixture can't: several api-servers, a base URL with a path, a proxy in
front, files mounted the Kubernetes way.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
import sqlalchemy as sa
import yaml

from okta_devstack.airflow import REPO
from okta_local_idp.testing import is_sign_in_page, submit_sign_in_form

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from pathlib import Path

    from okta_devstack.airflow import AirflowServer

CLIENT_ID, CLIENT_SECRET = "airflow-local", "airflow-local-secret"
CALLBACK = "/auth/oauth-authorized/okta"
PASSWORD = "Deploy-pass-1"
API_TOKEN = "00local-dev-api-token"  # server.api_token in config/idp_users.yaml
EVENT_HOOK_SECRET = "Bearer okta-deployment-hook-secret"
MAPPING_CHECK_SECONDS = 1.1  # MappingStore stats the file at most once a second (per worker process)


def okta_user(kind: str, i: int, groups: Iterable[str], *, password: str = PASSWORD) -> dict[str, Any]:
    """Return an IdP user entry: ``{kind}.{i:03d}@example.com`` with an Okta-shaped id."""
    uid = f"00u{kind}{i:0{17 - len(kind)}d}"  # Okta user ids: 00u + 17 characters
    return {
        "id": uid,
        "login": login_name(kind, i),
        "password": password,
        "given_name": kind.title(),
        "family_name": f"N{i:03d}",
        "email": login_name(kind, i),
        "status": "ACTIVE",
        "groups": list(groups),
    }


def login_name(kind: str, i: int) -> str:
    return f"{kind}.{i:03d}@example.com"


def idp_config(
    path: Path,
    *,
    redirect_uris: Iterable[str],
    post_logout_redirect_uris: Iterable[str] = (),
    users: Iterable[dict[str, Any]] = (),
    event_hook_url: str | None = None,
    client_secret: str = CLIENT_SECRET,
) -> Path:
    """Write the local IdP's YAML: the repo's config with this stack's URIs and users."""
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    for client in data["clients"]:
        if client["client_id"] == CLIENT_ID:
            client["redirect_uris"] = list(redirect_uris)
            client["post_logout_redirect_uris"] = list(post_logout_redirect_uris)
            client["client_secret"] = client_secret
    data["users"] += list(users)
    if event_hook_url is not None:
        data["event_hooks"] = [{"name": "airflow", "url": event_hook_url, "authorization": EVENT_HOOK_SECRET}]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def set_client_secret(path: Path, secret: str) -> None:
    """Rotate the Okta app's client secret in the IdP's YAML (re-read by the IdP when it changes)."""
    from tests.integration.helpers import rewrite

    data = yaml.safe_load(path.read_text())
    for client in data["clients"]:
        if client["client_id"] == CLIENT_ID:
            client["client_secret"] = secret
    rewrite(path, yaml.safe_dump(data, sort_keys=False))


def start_all(servers: Iterable[AirflowServer]) -> None:
    """Start the servers side by side (a start takes tens of seconds); raise the first failure."""
    errors: list[BaseException] = []

    def run(server: AirflowServer) -> Callable[[], None]:
        def start() -> None:
            try:
                server.start()
            except BaseException as e:  # re-raised below
                errors.append(e)

        return start

    threads = [threading.Thread(target=run(server)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


# -- a browser, by hand ---------------------------------------------------------------------------


@dataclass
class PendingLogin:
    """A browser stopped right before Airflow's callback."""

    browser: requests.Session
    callback_url: str
    username: str


@dataclass
class Outcome:
    """The callback's answer."""

    username: str
    status: int
    location: str
    body: str
    seconds: float = 0.0

    @property
    def signed_in(self) -> bool:
        return self.status == 302 and CALLBACK not in self.location and "/login" not in self.location


def start_login(
    airflow_url: str,
    username: str,
    *,
    password: str = PASSWORD,
    next_path: str | None = None,
    verify: bool | str = True,
    timeout: float = 120,
    entry: str | None = None,
) -> PendingLogin:
    """Open ``{airflow_url}/auth/login/okta`` (or ``entry``) and sign in at the IdP; stop before the callback."""
    browser = requests.Session()
    browser.verify = verify
    if verify is not True:
        browser.trust_env = False  # else REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE would win over the session's verify
    params = {"next": next_path} if next_path else None
    url = entry or f"{airflow_url}/auth/login/okta"
    response = browser.get(url, params=None if entry else params, allow_redirects=False, timeout=timeout)
    for _ in range(8):
        if response.status_code >= 500:
            raise AssertionError(f"{response.status_code} at {response.url}: {response.text[:500]}")
        if response.status_code in (301, 302, 303, 307):
            target = urljoin(response.url, response.headers["Location"])
            if urlsplit(target).path.endswith(CALLBACK):
                return PendingLogin(browser, target, username)
            response = browser.get(target, allow_redirects=False, timeout=timeout)
        elif is_sign_in_page(response):
            response = submit_sign_in_form(browser, response, username, password, timeout=timeout)
        else:
            raise AssertionError(f"unexpected {response.status_code} at {response.url}: {response.text[:500]}")
    raise AssertionError("the login never reached Airflow's callback")


def finish_login(pending: PendingLogin, *, timeout: float = 120) -> Outcome:
    """Follow the redirect to Airflow's callback; time it."""
    started = time.perf_counter()
    response = pending.browser.get(pending.callback_url, allow_redirects=False, timeout=timeout)
    seconds = time.perf_counter() - started
    response = follow_refusal(pending.browser, response, timeout=timeout)
    return Outcome(
        pending.username,
        response.status_code,
        response.headers.get("Location", ""),
        response.text[:BODY_CHARS],
        seconds,
    )


# Enough of a page for its reason code: the refusal page inlines Airflow's logo (about 10 KB) before it.
BODY_CHARS = 20_000
REFUSED_PATH = "/okta/refused/"  # under /auth on Airflow 3, at the root on 2.11


def follow_refusal(browser: requests.Session, response: requests.Response, *, timeout: float) -> requests.Response:
    """Return the refusal page a refused callback redirects to (post/redirect/get), else ``response``."""
    location = response.headers.get("Location", "")
    if response.status_code == 303 and urlsplit(location).path.endswith(REFUSED_PATH):
        return browser.get(urljoin(response.url, location), allow_redirects=False, timeout=timeout)
    return response


def login(airflow_url: str, username: str, **kwargs: Any) -> tuple[requests.Session, Outcome]:
    """Sign in end to end; return the browser and the callback's answer."""
    pending = start_login(airflow_url, username, **kwargs)
    return pending.browser, finish_login(pending)


def reason_code(body: str) -> str | None:
    """Return the refusal page's reason code, if the body is one."""
    marker = '<code id="okta-reason">'
    if marker not in body:
        return None
    return body.split(marker, 1)[1].split("<", 1)[0]


# -- the database ----------------------------------------------------------------------------------


@contextlib.contextmanager
def engine_for(db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def users_and_roles(db_url: str, username_like: str) -> dict[str, list[set[str]]]:
    """Return username -> [roles of each ab_user row] for usernames matching ``username_like``."""
    with engine_for(db_url) as engine, engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT u.id, u.username, r.name FROM ab_user u "
                "LEFT JOIN ab_user_role ur ON ur.user_id = u.id LEFT JOIN ab_role r ON r.id = ur.role_id "
                "WHERE lower(u.username) LIKE :p"
            ),
            {"p": username_like},
        ).all()
    by_id: dict[int, tuple[str, set[str]]] = {}
    for uid, username, role in rows:
        by_id.setdefault(uid, (username, set()))[1].update({role} if role else set())
    result: dict[str, list[set[str]]] = {}
    for username, roles in by_id.values():
        result.setdefault(username.lower(), []).append(roles)
    return result


def roles_of(db_url: str, username: str) -> set[str] | None:
    """Return the roles of the one account named ``username``, None if there is none."""
    rows = users_and_roles(db_url, username.lower()).get(username.lower())
    if rows is None:
        return None
    assert len(rows) == 1, f"{username} has {len(rows)} accounts"
    return rows[0]
