"""Concurrent logins and replicas, PostgreSQL only: ``--workers 2``, two api-servers, a mapping edit mid-burst.

One PostgreSQL database (created and dropped here) is shared by two real ``airflow api-server``
processes with the same ``[api] secret_key`` and JWT secret, as replicas behind a load balancer
are: ``A`` runs two uvicorn workers, ``B`` one. A tiny loopback reverse proxy stands in for the
load balancer: one origin for the browser, each request sent to the next backend in turn, so a
login started on one replica is completed on the other. Concurrency tests are not meaningful on
SQLite (one writer at a time), hence PostgreSQL only.

Logins are driven up to the callback first; the callbacks — where users are created and roles
written — are then released together (or in a timed stream), so they really overlap.
"""

from __future__ import annotations

import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest
import requests
import sqlalchemy as sa
import yaml

from okta_devstack.airflow import AirflowServer, free_port
from okta_local_idp.server import IdpHandle, serve_in_thread
from tests.conftest import postgres_database
from tests.integration.deployment import (
    CALLBACK,
    CLIENT_ID,
    CLIENT_SECRET,
    MAPPING_CHECK_SECONDS,
    Outcome,
    PendingLogin,
    engine_for,
    finish_login,
    login_name,
    okta_user,
    start_all,
    start_login,
    users_and_roles,
)
from tests.integration.deployment import idp_config as write_idp_config
from tests.integration.helpers import rewrite

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration

CONCURRENCY = 20
# group -> role of the first-login test's users (user i is in GROUP_ROLES[i % 4])
GROUP_ROLES = (
    ("airflow-admins", "Admin"),
    ("airflow-viewers", "Viewer"),
    ("airflow-ops", "Op"),
    ("airflow-users", "User"),
)
BURST_GROUPS = ["burst-a", "burst-b", "Everyone"]
OLD_BURST_MAPPING = {"burst-a": ["Viewer"], "burst-b": ["Op"]}
NEW_BURST_MAPPING = {"burst-a": ["User"], "burst-b": ["Admin"]}
OLD_ROLES, NEW_ROLES = frozenset({"Viewer", "Op"}), frozenset({"User", "Admin"})


# -- the load balancer -----------------------------------------------------------------------


class RoundRobinProxy:
    """A loopback reverse proxy sending each request to the next backend; it records who served what."""

    HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"})

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends  # "host:port"
        self.served: list[tuple[str, str, int]] = []  # (method, path, backend index)
        self._next = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                with proxy._lock:
                    index = proxy._next
                    proxy._next = (proxy._next + 1) % len(proxy.backends)
                    proxy.served.append((self.command, self.path, index))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in proxy.HOP_BY_HOP}
                conn = http.client.HTTPConnection(proxy.backends[index], timeout=120)
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    upstream = conn.getresponse()
                    payload = upstream.read()
                    self.send_response(upstream.status, upstream.reason)
                    for name, value in upstream.getheaders():  # keeps every Set-Cookie
                        if name.lower() not in proxy.HOP_BY_HOP and name.lower() != "content-length":
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def served_by(self, path_prefix: str) -> list[int]:
        """Return the backends that served requests whose path starts with ``path_prefix``, in order."""
        return [index for _m, path, index in self.served if path.startswith(path_prefix)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- the stack --------------------------------------------------------------------------------


@dataclass
class Replicas:
    a: AirflowServer  # --workers 2
    b: AirflowServer  # --workers 1, same database and secrets
    proxy: RoundRobinProxy
    idp: IdpHandle
    db_url: str
    mapping: Path


def _mapping_text(burst: dict[str, list[str]]) -> str:
    mappings = {group: [role] for group, role in GROUP_ROLES} | burst
    return yaml.safe_dump({"default_role": None, "mappings": mappings}, sort_keys=False)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    root = tmp_path_factory.mktemp("concurrency")
    port_a, port_b = free_port(), free_port()
    proxy = RoundRobinProxy([f"127.0.0.1:{port_a}", f"127.0.0.1:{port_b}"])
    users = [okta_user("load", i, [GROUP_ROLES[i % 4][0], "Everyone"]) for i in range(CONCURRENCY)]
    users += [okta_user("same", 0, ["airflow-viewers", "Everyone"])]
    users += [okta_user("burst", i, BURST_GROUPS) for i in range(CONCURRENCY)]
    users += [okta_user("replica", i, ["airflow-ops", "Everyone"]) for i in range(3)]
    # Every origin a browser may come back to.
    redirect_uris = [f"http://127.0.0.1:{p}{CALLBACK}" for p in (port_a, port_b, proxy.port)]
    idp_config = write_idp_config(root / "idp_users.yaml", redirect_uris=redirect_uris, users=users)
    mapping = root / "okta_role_mapping.yaml"
    mapping.write_text(_mapping_text(OLD_BURST_MAPPING))
    idp = serve_in_thread(str(idp_config), host="127.0.0.1", port=0)
    db_gen = postgres_database()
    db_url = next(db_gen)
    env = {
        "OKTA_ISSUER": idp.issuer,
        "OKTA_CLIENT_ID": CLIENT_ID,
        "OKTA_CLIENT_SECRET": CLIENT_SECRET,
        "OKTA_ROLE_MAPPING_FILE": str(mapping),  # one file for every replica, like a mounted ConfigMap
        "AIRFLOW__API__BASE_URL": proxy.url,  # the public URL is the load balancer's
    }
    a = AirflowServer(root / "a", okta_env=env, port=port_a, db_url=db_url, workers=2)
    b = AirflowServer(root / "b", okta_env=env, port=port_b, db_url=db_url)
    try:
        a.prepare()
        b.prepare(migrate=False)  # A migrated the shared database
        start_all([a, b])
        yield Replicas(a, b, proxy, idp, db_url, mapping)
    finally:
        a.stop()
        b.stop()
        proxy.close()
        idp.shutdown()
        next(db_gen, None)


# -- driving logins ----------------------------------------------------------------------------


def start_many(airflow_url: str, usernames: list[str]) -> list[PendingLogin]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda u: start_login(airflow_url, u), usernames))


def finish_together(pending: list[PendingLogin]) -> list[Outcome]:
    """Release every callback at the same moment."""
    barrier = threading.Barrier(len(pending))

    def go(p: PendingLogin) -> Outcome:
        barrier.wait()
        return finish_login(p)

    with ThreadPoolExecutor(max_workers=len(pending)) as pool:
        return list(pool.map(go, pending))


def assert_all_signed_in(outcomes: list[Outcome]) -> None:
    errors = [(o.username, o.status, o.body[:200]) for o in outcomes if o.status >= 500]
    assert not errors, f"{len(errors)} callback(s) failed with 5xx: {errors}"
    refused = [(o.username, o.status, o.location, o.body[:200]) for o in outcomes if not o.signed_in]
    assert not refused, f"{len(refused)} login(s) not signed in: {refused}"


# -- reading the database ---------------------------------------------------------------------------


def link_rows(db_url: str, username: str) -> int:
    with engine_for(db_url) as engine, engine.connect() as conn:
        query = sa.text("SELECT count(*) FROM okta_security_user WHERE username = :u")
        return int(conn.execute(query, {"u": username}).scalar())


# -- the tests ------------------------------------------------------------------------------------------


def test_concurrent_first_logins_of_distinct_users(replicas: Replicas) -> None:
    usernames = [login_name("load", i) for i in range(CONCURRENCY)]
    pending = start_many(replicas.a.base_url, usernames)
    outcomes = finish_together(pending)
    assert_all_signed_in(outcomes)
    found = users_and_roles(replicas.db_url, "load.%")
    assert sorted(found) == sorted(usernames)
    for i, username in enumerate(usernames):
        assert found[username] == [{GROUP_ROLES[i % 4][1]}], f"{username}: {found[username]}"


def test_concurrent_first_logins_of_the_same_user(replicas: Replicas) -> None:
    username = login_name("same", 0)
    pending = start_many(replicas.a.base_url, [username] * CONCURRENCY)
    outcomes = finish_together(pending)
    assert_all_signed_in(outcomes)
    assert users_and_roles(replicas.db_url, username) == {username: [{"Viewer"}]}  # exactly one row
    assert link_rows(replicas.db_url, username) == 1
    # Every one of the 20 sessions works against the API (the same user, 20 sessions).
    assert {p.browser.get(f"{replicas.a.base_url}/api/v2/dags", timeout=60).status_code for p in pending} == {200}
    # And 20 concurrent returning logins (20 updates of the same row) are fine too.
    again = finish_together(start_many(replicas.a.base_url, [username] * CONCURRENCY))
    assert_all_signed_in(again)
    assert users_and_roles(replicas.db_url, username) == {username: [{"Viewer"}]}


def test_a_login_started_on_one_replica_completes_on_the_other(replicas: Replicas) -> None:
    proxy = replicas.proxy
    directions = set()
    for i in range(2):
        if i == 1:  # shift the round robin by one so this login starts on the other replica
            requests.get(f"{proxy.url}/api/v2/monitor/health", timeout=60)
        first = len(proxy.served)
        pending = start_login(proxy.url, login_name("replica", i))
        outcome = finish_login(pending)
        assert outcome.signed_in, (outcome.status, outcome.location, outcome.body)
        assert "CSRF Warning" not in outcome.body
        started_on = [idx for _m, path, idx in proxy.served[first:] if path.startswith("/auth/login/okta")]
        finished_on = [idx for _m, path, idx in proxy.served[first:] if path.startswith(CALLBACK)]
        assert len(started_on) == len(finished_on) == 1
        assert started_on != finished_on
        directions.add((started_on[0], finished_on[0]))
        # The API token minted by one replica is honoured by both (shared JWT secret).
        statuses = [pending.browser.get(f"{proxy.url}/api/v2/dags", timeout=60).status_code for _ in range(2)]
        assert statuses == [200, 200]
    assert directions == {(0, 1), (1, 0)}
    assert users_and_roles(replicas.db_url, "replica.%") == {login_name("replica", i): [{"Op"}] for i in range(2)}


def test_the_state_check_is_what_makes_the_replica_login_work(replicas: Replicas) -> None:
    """Control: the same flow with the browser's Airflow cookie lost before the callback is refused."""
    pending = start_login(replicas.proxy.url, login_name("replica", 2))
    pending.browser.cookies.clear(domain="127.0.0.1", path="/", name="session")
    outcome = finish_login(pending)
    assert outcome.status == 403, (outcome.status, outcome.body)
    assert '<code id="okta-reason">invalid_state</code>' in outcome.body
    assert users_and_roles(replicas.db_url, login_name("replica", 2)) == {}


def test_mapping_edit_during_a_burst_gives_old_or_new_roles_never_a_mix(replicas: Replicas) -> None:
    usernames = [login_name("burst", i) for i in range(CONCURRENCY)]
    pending = start_many(replicas.proxy.url, usernames)  # through the proxy: both replicas, three workers
    stream, tail = pending[:-4], pending[-4:]
    outcomes: list[Outcome] = []
    three_done = threading.Event()
    lock = threading.Lock()

    def fire(p: PendingLogin) -> None:
        outcome = finish_login(p)
        with lock:
            outcomes.append(outcome)
            if len(outcomes) >= 3:
                three_done.set()

    threads: list[threading.Thread] = []

    def launch(p: PendingLogin) -> None:
        thread = threading.Thread(target=fire, args=(p,))
        thread.start()
        threads.append(thread)

    edited_at: float | None = None
    try:
        # A stream of overlapping callbacks, one every 0.15 s; the mapping changes as soon as three
        # have completed, while the others are in flight or still to come.
        for p in stream:
            launch(p)
            deadline = time.monotonic() + 0.15
            while time.monotonic() < deadline:
                if edited_at is None and three_done.is_set():
                    rewrite(replicas.mapping, _mapping_text(NEW_BURST_MAPPING))
                    edited_at = time.monotonic()
                time.sleep(0.005)
        if edited_at is None:
            assert three_done.wait(timeout=120), "no callback completed"
            rewrite(replicas.mapping, _mapping_text(NEW_BURST_MAPPING))
            edited_at = time.monotonic()
        # The last four come once every worker must have seen the edit.
        time.sleep(max(0.0, edited_at + 2 * MAPPING_CHECK_SECONDS - time.monotonic()))
        for p in tail:
            launch(p)
            time.sleep(0.1)
        for thread in threads:
            thread.join(timeout=180)
    finally:
        rewrite(replicas.mapping, _mapping_text(OLD_BURST_MAPPING))
        time.sleep(MAPPING_CHECK_SECONDS)

    assert len(outcomes) == CONCURRENCY
    assert_all_signed_in(outcomes)
    found = users_and_roles(replicas.db_url, "burst.%")
    assert sorted(found) == sorted(usernames)
    assert all(len(rows) == 1 for rows in found.values()), found
    roles = {username: frozenset(rows[0]) for username, rows in found.items()}
    mixed = {u: sorted(r) for u, r in roles.items() if r not in (OLD_ROLES, NEW_ROLES)}
    assert not mixed, f"roles from neither the old nor the new mapping: {mixed}"
    old = [u for u, r in roles.items() if r == OLD_ROLES]
    assert len(old) >= 3, "the first three callbacks completed before the edit, so with the old mapping"
    late = {p.username for p in tail}
    assert all(roles[u] == NEW_ROLES for u in late), {u: sorted(roles[u]) for u in late}
    # Both replicas took part in the burst.
    assert set(replicas.proxy.served_by(CALLBACK)) == {0, 1}
