"""Faults mid-login: the database restarted under a stream of logins, a token endpoint that answers after 30 s,
the Groups API rate-limited for a minute.

The api-server (one uvicorn worker, so a stuck request would show) uses a PostgreSQL server this
module starts and controls (:class:`okta_devstack.postgres.PostgresInstance`: own data directory,
own port), never the shared one on 5432. Groups always come from Okta's Groups API
(``OKTA_GROUPS_SOURCE=api``) so every login depends on it; Okta calls time out after 3 s.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
import requests
import sqlalchemy as sa
import yaml

from okta_devstack.airflow import AirflowServer, free_port
from okta_devstack.postgres import PostgresInstance
from okta_local_idp.server import IdpHandle, serve_in_thread
from okta_local_idp.testing import is_sign_in_page, submit_sign_in_form
from tests.integration.deployment import (
    API_TOKEN,
    BODY_CHARS,
    CALLBACK,
    PASSWORD,
    engine_for,
    finish_login,
    follow_refusal,
    idp_config,
    login,
    login_name,
    okta_user,
    reason_code,
    roles_of,
    start_login,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

HTTP_TIMEOUT_SECONDS = 3  # OKTA_HTTP_TIMEOUT_SECONDS
API_MAX_WAIT_SECONDS = 2  # OKTA_API_MAX_WAIT_SECONDS
USERS = 20
OUTAGE_SECONDS = 8
MAPPING = {"default_role": None, "mappings": {"staff": ["Viewer"]}}


@dataclass
class FaultStack:
    server: AirflowServer
    idp: IdpHandle
    pg: PostgresInstance
    db_url: str

    @property
    def url(self) -> str:
        return self.server.base_url


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    home = tmp_path_factory.mktemp("faults")
    port = free_port()
    config = idp_config(
        home / "idp.yaml",
        redirect_uris=[f"http://127.0.0.1:{port}{CALLBACK}"],
        users=[okta_user("fault", i, ["staff", "Everyone"]) for i in range(USERS)],
    )
    # The database-restart stream signs in as fast as two clients can, one Groups API call each: past
    # Okta's 600 calls a minute the stream would meet Okta's rate limit instead of the outage it tests
    # (and leave the next test a spent minute). The rate-limit test forces its 429 with a fault.
    data = yaml.safe_load(config.read_text())
    data["server"]["api_rate_limit"] = 100_000
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    idp = serve_in_thread(str(config), host="127.0.0.1", port=0)
    mapping = home / "okta_role_mapping.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING, sort_keys=False))
    pg = PostgresInstance(free_port())
    server: AirflowServer | None = None
    try:
        pg.init()
        pg.start()
        db_url = pg.create_database("airflow")
        server = AirflowServer(
            home / "airflow",
            port=port,
            db_url=db_url,
            workers=1,
            okta_env={
                "OKTA_ISSUER": idp.issuer,
                "OKTA_CLIENT_ID": "airflow-local",
                "OKTA_CLIENT_SECRET": "airflow-local-secret",
                "OKTA_ROLE_MAPPING_FILE": str(mapping),
                "OKTA_API_TOKEN": API_TOKEN,
                "OKTA_GROUPS_SOURCE": "api",
                "OKTA_HTTP_TIMEOUT_SECONDS": str(HTTP_TIMEOUT_SECONDS),
                "OKTA_API_MAX_WAIT_SECONDS": str(API_MAX_WAIT_SECONDS),
            },
        )
        server.prepare()
        server.start()
        yield FaultStack(server, idp, pg, db_url)
    finally:
        if server is not None:
            server.stop()
        idp.shutdown()
        pg.destroy()


@pytest.fixture
def faults(stack: FaultStack) -> Iterator[FaultStack]:
    yield stack
    stack.idp.clear_faults()


# -- the database goes away -----------------------------------------------------------------------------


@dataclass
class Attempt:
    started: float
    ended: float
    username: str
    step: str  # "start" (before the callback) or "callback"
    status: int
    body: str

    @property
    def signed_in(self) -> bool:
        return self.step == "callback" and self.status == 302


def _attempt(url: str, username: str) -> Attempt:
    """One login like a browser, every Airflow answer kept (a 5xx anywhere is recorded, not raised)."""
    started = time.monotonic()
    browser = requests.Session()
    response = browser.get(f"{url}/auth/login/okta", allow_redirects=False, timeout=60)
    for _ in range(6):
        if response.status_code >= 400:
            return Attempt(
                started, time.monotonic(), username, "start", response.status_code, response.text[:BODY_CHARS]
            )
        if response.status_code in (301, 302, 303, 307):
            target = requests.compat.urljoin(response.url, response.headers["Location"])
            if CALLBACK in target:
                callback = follow_refusal(browser, browser.get(target, allow_redirects=False, timeout=60), timeout=60)
                return Attempt(
                    started, time.monotonic(), username, "callback", callback.status_code, callback.text[:BODY_CHARS]
                )
            response = browser.get(target, allow_redirects=False, timeout=60)
        elif is_sign_in_page(response):
            response = submit_sign_in_form(browser, response, username, PASSWORD, timeout=60)
        else:
            return Attempt(
                started, time.monotonic(), username, "start", response.status_code, response.text[:BODY_CHARS]
            )
    return Attempt(started, time.monotonic(), username, "start", 0, "never reached the callback")


def _accounts(db_url: str) -> dict[str, tuple[bool, set[str], int]]:
    """Return username -> (active, roles, okta_security_user link rows) for the module's people."""
    with engine_for(db_url) as engine, engine.connect() as conn:
        users = conn.execute(sa.text("SELECT id, username, active FROM ab_user WHERE username LIKE 'fault.%'")).all()
        found = {}
        for uid, name, active in users:
            roles = {
                r[0]
                for r in conn.execute(
                    sa.text(
                        "SELECT r.name FROM ab_user_role ur JOIN ab_role r ON r.id = ur.role_id WHERE ur.user_id = :u"
                    ),
                    {"u": uid},
                )
            }
            links = conn.execute(
                sa.text("SELECT count(*) FROM okta_security_user WHERE username = :n"), {"n": name}
            ).scalar()
            assert name not in found, f"{name} has two accounts"
            found[name] = (bool(active), roles, int(links or 0))
    return found


def test_a_database_restart_during_a_stream_of_logins(stack: FaultStack) -> None:
    attempts: list[Attempt] = []
    lock = threading.Lock()
    done = threading.Event()

    def browse(offset: int) -> None:
        n = 0
        while not done.is_set():
            attempt = _attempt(stack.url, login_name("fault", (offset + n) % USERS))
            n += 2
            with lock:
                attempts.append(attempt)

    browsers = [threading.Thread(target=browse, args=(k,)) for k in range(2)]
    for thread in browsers:
        thread.start()
    restarted = False
    try:
        time.sleep(6)
        down = time.monotonic()
        stack.pg.stop("fast")  # a maintenance restart: every connection is cut
        time.sleep(OUTAGE_SECONDS)
        stack.pg.start()
        restarted = True
        up = time.monotonic()
        time.sleep(15)
    finally:
        done.set()
        for thread in browsers:
            thread.join(timeout=120)
        if not restarted:
            stack.pg.start()  # the other tests need the database

    server_errors = [(a.step, a.status, a.body[:300]) for a in attempts if a.status >= 500 and a.status != 503]
    assert not server_errors, server_errors
    unavailable = [a for a in attempts if a.status == 503]
    assert unavailable, "no login met the outage: the test proved nothing"
    for attempt in unavailable:
        assert reason_code(attempt.body) == "database_unavailable", attempt.body[:800]
        assert "Traceback" not in attempt.body
        assert "database" in attempt.body.lower()
    others = [(a.step, a.status, reason_code(a.body)) for a in attempts if a.status not in (302, 503)]
    assert not others, others
    before = [a for a in attempts if a.ended < down]
    after = [a for a in attempts if a.started > up + 3]  # pool connections re-made within a few seconds
    assert before, "no login before the outage"
    assert all(a.signed_in for a in before), [(a.status, a.step) for a in before if not a.signed_in]
    assert len(after) >= 4, f"only {len(after)} logins after the restart"
    assert all(a.signed_in for a in after), [(a.status, reason_code(a.body)) for a in after if not a.signed_in]
    assert stack.server.proc is not None
    assert stack.server.proc.poll() is None  # the same Airflow, never restarted
    # Nothing half-written: one account per person, each complete (role, link row), all active.
    for name, (active, roles, links) in _accounts(stack.db_url).items():
        assert active, name
        assert roles == {"Viewer"}, (name, roles)
        assert links == 1, (name, links)


# -- Okta's token endpoint answers after 30 s ----------------------------------------------------------------


def test_a_token_endpoint_answering_after_30_s_is_cut_at_the_timeout(faults: FaultStack) -> None:
    pending = start_login(faults.url, login_name("fault", 0))
    faults.idp.set_faults(latency_ms=30_000)  # every back-channel answer (the code exchange first) 30 s late
    health: list[float] = []

    def probe_while_waiting() -> None:
        time.sleep(1)
        started = time.perf_counter()
        requests.get(f"{faults.url}/api/v2/monitor/health", timeout=30).raise_for_status()
        health.append(time.perf_counter() - started)

    prober = threading.Thread(target=probe_while_waiting)
    prober.start()
    started = time.perf_counter()
    outcome = finish_login(pending, timeout=60)
    elapsed = time.perf_counter() - started
    prober.join()
    faults.idp.set_faults(latency_ms=None)
    assert outcome.status == 503, outcome.body[:800]
    assert reason_code(outcome.body) == "okta_unavailable"
    assert "token request failed" in outcome.body
    assert HTTP_TIMEOUT_SECONDS - 0.5 <= elapsed < HTTP_TIMEOUT_SECONDS + 7, elapsed  # cut at the timeout, not 30 s
    assert health, "the health probe did not answer"
    assert health[0] < 5, health  # the server answered others meanwhile
    started = time.perf_counter()
    _browser, again = login(faults.url, login_name("fault", 0))
    assert again.signed_in, again.body[:500]
    assert time.perf_counter() - started < 15  # the worker is free again


# -- the Groups API answers 429 for a minute -----------------------------------------------------------------------


def test_a_rate_limited_groups_api_refuses_with_okta_s_message_and_keeps_roles(faults: FaultStack) -> None:
    known, newcomer = login_name("fault", 1), login_name("fault", USERS - 1)
    _browser, first = login(faults.url, known)
    assert first.signed_in
    assert roles_of(faults.db_url, known) == {"Viewer"}
    with engine_for(faults.db_url) as engine, engine.begin() as conn:
        conn.execute(
            sa.text("DELETE FROM ab_user_role WHERE user_id IN (SELECT id FROM ab_user WHERE username = :u)"),
            {"u": newcomer},
        )
        conn.execute(sa.text("DELETE FROM okta_security_user WHERE username = :u"), {"u": newcomer})
        conn.execute(sa.text("DELETE FROM ab_user WHERE username = :u"), {"u": newcomer})
    faults.idp.set_faults(api_status=429, api_rate_limit_reset_in=60)  # X-Rate-Limit-Reset a minute ahead
    for username in (known, newcomer):
        started = time.perf_counter()
        _browser, refused = login(faults.url, username)
        elapsed = time.perf_counter() - started
        assert refused.status == 503, refused.body[:800]
        assert reason_code(refused.body) == "okta_unavailable"
        assert "reading your groups failed" in refused.body
        assert "roles are unchanged" in refused.body
        assert elapsed < API_MAX_WAIT_SECONDS + 10, elapsed  # no waiting out the minute
    assert roles_of(faults.db_url, known) == {"Viewer"}  # nobody loses a role
    assert roles_of(faults.db_url, newcomer) is None  # and nobody half-created
    log = faults.server.log_tail(300_000)
    assert "okta_api_unavailable" in log or "rate limit" in log.lower(), log[-2000:]
    faults.idp.set_faults(api_status=None, api_rate_limit_reset_in=None)
    _browser, back = login(faults.url, newcomer)
    assert back.signed_in
    assert roles_of(faults.db_url, newcomer) == {"Viewer"}
