"""Two api-server replicas under sustained load: logins, bot exchanges, event hooks and mapping edits at once.

The stack: one PostgreSQL database; two real ``airflow api-server`` processes sharing it and the
same ``[api] secret_key`` / JWT secret (``A`` with ``--workers 2``, ``B`` with one), each with its
own mapping "ConfigMap" (written the way the kubelet writes one, :mod:`okta_devstack.volumes`);
a loopback round-robin proxy in front (:mod:`okta_devstack.proxy`; the public ``[api] base_url``);
and the local IdP in a process of its own, whose event hook posts to the proxy.

The load, paced over ``--duration`` seconds: ``--logins`` browser logins from ``--users`` people
(each round visits every person once, in a new random order; one person never has two logins
in flight), ``--bot-exchanges`` Okta client-credentials tokens exchanged at ``POST /auth/token``
and used on the REST API, Okta lifecycle events delivered by the event hook (``--leavers``
deactivated, ``--movers`` moved between groups, in two batches) and two mapping edits. The last
round starts after every edit and move, so afterwards each remaining person's roles must be
what their final groups map to under the final mapping.

Afterwards it checks: no HTTP response >= 500 anywhere (proxy, IdP, bots), one account per
person, every active account's roles, every leaver inactive, and the audit rows accounted for
(one ``login.succeeded`` per signed-in callback, one ``bot.token_exchanged`` per exchange, one
``user.deactivated`` per leaver, ``event_hook.received`` per delivery attempt Airflow got, ...).
It prints logins/s, p50/p95/p99 of the callback and errors; ``--json FILE`` keeps every figure.

    .venv/bin/python -m bench.bench_replicas                       # 2,000 logins / 200 users / 300 s
    .venv/bin/python -m bench.bench_replicas --logins 100 --users 20 --duration 30   # the short run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
import sqlalchemy as sa
import yaml

from bench._support import IdpProcess, machine, postgres_database
from okta_devstack.airflow import REPO, AirflowServer, free_port
from okta_devstack.proxy import LoopbackProxy
from okta_devstack.volumes import KubeletVolume
from okta_local_idp.testing import is_sign_in_page, submit_sign_in_form

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"
CLIENT_ID, CLIENT_SECRET = "airflow-local", "airflow-local-secret"
API_TOKEN = "00local-dev-api-token"  # the IdP's SSWS token (Management API)
EVENT_HOOK_SECRET = "Bearer okta-bench-replicas-hook-secret"
CALLBACK = "/auth/oauth-authorized/okta"
PASSWORD = "Bench-pass-1"
BOT_AUDIENCE, BOT_SCOPE = "api://airflow", "airflow.api"
MAPPING_KEY = "okta_role_mapping.yaml"
MAPPING_CHECK_SECONDS = 1.2  # a worker looks at the mapping file at most once a second
GROUPS = ("bench-a", "bench-b", "bench-c", "bench-d")
# The mapping before, between and after the two edits: group -> roles.
MAPPINGS: tuple[dict[str, list[str]], ...] = (
    {"bench-a": ["Viewer"], "bench-b": ["User"], "bench-c": ["Op"], "bench-d": ["Viewer"]},
    {"bench-a": ["Viewer"], "bench-b": ["User"], "bench-c": ["Op", "User"], "bench-d": ["User"]},
    {"bench-a": ["User"], "bench-b": ["Viewer"], "bench-c": ["Op", "User"], "bench-d": ["User"]},
)
BOTS = {"bench-bot-viewer": ["Viewer"], "bench-bot-op": ["Op"]}
BOT_TOKEN_REUSE = 10  # a bot fetches a fresh Okta token every this many exchanges
# Where in the run (fraction of the logins before the last round) each change happens.
SCHEDULE = (
    (0.30, "mapping edit 1"),
    (0.40, "movers 1"),
    (0.50, "leavers"),
    (0.60, "mapping edit 2"),
    (0.70, "movers 2"),
)
TIMEOUT = 120.0  # per HTTP request


@dataclass(frozen=True)
class Plan:
    """What to run."""

    logins: int = 2000
    users: int = 200
    duration: float = 300.0
    concurrency: int = 12
    bot_exchanges: int = 200
    leavers: int = 10
    movers: int = 20
    workers_a: int = 2

    def check(self) -> None:
        """Raise ValueError when the plan cannot give the promised end state."""
        if self.logins < 2 * self.users:
            raise ValueError("--logins must be at least twice --users (a round before the changes, one after)")
        if self.leavers + self.movers > self.users // 2:
            raise ValueError("--leavers + --movers must be at most half of --users")


def username(i: int) -> str:
    return f"load.{i:04d}@example.com"


def user_id(i: int) -> str:
    return f"00uload{i:013d}"  # Okta user ids: 00u + 17 characters


def initial_group(i: int) -> str:
    return GROUPS[i % len(GROUPS)]


def mapping_text(version: int) -> str:
    document = {"default_role": None, "mappings": MAPPINGS[version], "clients": BOTS}
    return yaml.safe_dump(document, sort_keys=False)


def expected_roles(groups: Sequence[str], version: int = len(MAPPINGS) - 1) -> set[str]:
    """Return the roles ``groups`` map to: written out here, not computed by okta_security."""
    return {role for group in groups for role in MAPPINGS[version].get(group, [])}


def idp_data(plan: Plan, public_url: str) -> dict[str, Any]:
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    data["server"]["custom_scopes"] = [BOT_SCOPE]
    data["server"]["audience"] = BOT_AUDIENCE
    data["server"]["api_token"] = API_TOKEN
    data["clients"] = [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "require_pkce": True,
            "redirect_uris": [public_url + CALLBACK],
            "post_logout_redirect_uris": [public_url + "/auth/login/"],
        },
        *({"client_id": bot, "client_secret": f"{bot}-secret", "grant_types": ["client_credentials"]} for bot in BOTS),
    ]
    data["groups"] = [{"name": g, "description": f"benchmark group {g}"} for g in GROUPS]
    data["users"] = [
        {
            "id": user_id(i),
            "login": username(i),
            "password": PASSWORD,
            "given_name": "Load",
            "family_name": f"N{i:04d}",
            "email": username(i),
            "status": "ACTIVE",
            "groups": [initial_group(i), "Everyone"],
        }
        for i in range(plan.users)
    ]
    data["event_hooks"] = [
        {"name": "airflow", "url": public_url + "/auth/okta/events", "authorization": EVENT_HOOK_SECRET}
    ]
    return data


# -- the stack -------------------------------------------------------------------------------------------


@dataclass
class Cluster:
    """The running pieces."""

    proxy: LoopbackProxy
    idp: IdpProcess
    servers: list[AirflowServer]
    volumes: list[KubeletVolume]
    db_url: str
    root: Path

    @property
    def url(self) -> str:
        return self.proxy.url

    def idp_api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"SSWS {API_TOKEN}", "Accept": "application/json"}
        return requests.request(method, f"{self.idp.base_url}/api/v1{path}", headers=headers, timeout=30, **kwargs)

    def workers(self) -> int:
        return sum(server.workers for server in self.servers)


def _start_all(servers: Sequence[AirflowServer]) -> None:
    errors: list[BaseException] = []

    def start(server: AirflowServer) -> None:
        try:
            server.start()
        except BaseException as e:  # re-raised below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@contextlib.contextmanager
def cluster(plan: Plan, *, keep: bool = False) -> Iterator[Cluster]:
    """Start the IdP, the database, two replicas and the proxy; stop everything afterwards."""
    root = Path(tempfile.mkdtemp(prefix="okta-bench-replicas-"))
    ports = [free_port(), free_port()]
    proxy = LoopbackProxy([f"127.0.0.1:{port}" for port in ports])
    idp_config = root / "idp.yaml"
    idp_config.write_text(yaml.safe_dump(idp_data(plan, proxy.url), sort_keys=False))
    idp = IdpProcess(idp_config)
    servers: list[AirflowServer] = []
    try:
        with postgres_database("okta_bench_replicas") as db_url:
            volumes = [KubeletVolume(root / f"pod-{name}" / "okta-mapping") for name in ("a", "b")]
            for volume in volumes:
                volume.write({MAPPING_KEY: mapping_text(0)})
            for name, port, workers, volume in (
                ("a", ports[0], plan.workers_a, volumes[0]),
                ("b", ports[1], 1, volumes[1]),
            ):
                env = {
                    "OKTA_ISSUER": idp.issuer,
                    "OKTA_CLIENT_ID": CLIENT_ID,
                    "OKTA_CLIENT_SECRET": CLIENT_SECRET,
                    "OKTA_ROLE_MAPPING_FILE": str(volume.path(MAPPING_KEY)),
                    "OKTA_EVENT_HOOK_SECRET": EVENT_HOOK_SECRET,
                    "OKTA_API_TOKEN": API_TOKEN,
                    "OKTA_BOT_AUDIENCE": BOT_AUDIENCE,
                    "OKTA_BOT_SCOPES": BOT_SCOPE,
                }
                servers.append(
                    AirflowServer(
                        root / name,
                        okta_env=env,
                        port=port,
                        db_url=db_url,
                        workers=workers,
                        auth_manager=AUTH_MANAGER,
                        airflow_env={"AIRFLOW__API__BASE_URL": proxy.url, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"},
                    )
                )
            servers[0].prepare()
            servers[1].prepare(migrate=False)  # one database, migrated once
            _start_all(servers)
            yield Cluster(proxy, idp, servers, volumes, db_url, root)
    finally:
        for server in servers:
            server.stop()
        proxy.close()
        idp.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


# -- the load ------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the client saw; every list is appended to under the lock."""

    callback_ms: list[float] = field(default_factory=list)
    login_ms: list[float] = field(default_factory=list)
    signed_in: int = 0
    skipped: int = 0  # queued for a person who left before the login began
    refused: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    idp_5xx: int = 0
    bot_ms: list[float] = field(default_factory=list)
    bot_statuses: Counter[str] = field(default_factory=Counter)
    events: list[tuple[float, str]] = field(default_factory=list)


class Load:
    """Drive the plan against the cluster and record what happened."""

    def __init__(self, plan: Plan, stack: Cluster, *, seed: int = 20261130) -> None:
        self.plan = plan
        self.stack = stack
        self.random = random.Random(seed)
        self.tally = Tally()
        self.lock = threading.Lock()
        self.user_locks = [threading.Lock() for _ in range(plan.users)]
        self.left: set[int] = set()  # leavers: no login after they were chosen
        self.logged_in: set[int] = set()  # had at least one successful login
        self.groups = {i: [initial_group(i), "Everyone"] for i in range(plan.users)}
        self.movers: list[int] = []
        self.leavers: list[int] = []
        self.started = 0.0

    # one login ------------------------------------------------------------------------------

    def login(self, i: int) -> None:
        with self.user_locks[i]:  # one browser per person at a time
            if i in self.left:
                with self.lock:
                    self.tally.skipped += 1
                return
            try:
                self._login(i)
            except Exception as e:  # every failure is a finding, never a crash of the run
                with self.lock:
                    self.tally.errors.append(f"{username(i)}: {type(e).__name__}: {str(e)[:300]}")

    def _login(self, i: int) -> None:
        browser = requests.Session()
        started = time.perf_counter()
        response = browser.get(f"{self.stack.url}/auth/login/okta", allow_redirects=False, timeout=TIMEOUT)
        target = None
        for _ in range(6):
            self._note_idp(response)
            if response.status_code in (301, 302, 303, 307):
                target = urljoin(response.url, response.headers["Location"])
                if urlsplit(target).path.endswith(CALLBACK):
                    break
                response = browser.get(target, allow_redirects=False, timeout=TIMEOUT)
            elif is_sign_in_page(response):
                response = submit_sign_in_form(browser, response, username(i), PASSWORD, timeout=TIMEOUT)
            else:
                raise RuntimeError(f"unexpected {response.status_code} at {response.url}: {response.text[:200]}")
        else:
            raise RuntimeError("never reached the callback")
        assert target is not None
        before_callback = time.perf_counter()
        callback = browser.get(target, allow_redirects=False, timeout=TIMEOUT)
        done = time.perf_counter()
        location = callback.headers.get("Location", "")
        with self.lock:
            if callback.status_code == 302 and "/login" not in location:
                self.tally.signed_in += 1
                self.tally.callback_ms.append((done - before_callback) * 1000)
                self.tally.login_ms.append((done - started) * 1000)
                self.logged_in.add(i)
            elif callback.status_code < 500 and 'id="okta-reason">' in callback.text:
                reason = callback.text.split('id="okta-reason">', 1)[1].split("<", 1)[0]
                self.tally.refused[reason] += 1
            else:
                self.tally.errors.append(f"{username(i)}: callback {callback.status_code}: {callback.text[:200]}")

    def _note_idp(self, response: requests.Response) -> None:
        if response.status_code >= 500 and response.url.startswith(self.stack.idp.base_url):
            with self.lock:
                self.tally.idp_5xx += 1

    # the changes --------------------------------------------------------------------------------

    def change(self, what: str) -> None:
        """Apply one scheduled change (runs on its own thread; logins go on meanwhile)."""
        if what.startswith("mapping edit"):
            version = int(what.rsplit(" ", 1)[1])
            for volume in self.stack.volumes:  # every replica's kubelet swaps its copy
                volume.write({MAPPING_KEY: mapping_text(version)})
        elif what.startswith("movers"):
            self._move(self.plan.movers // 2 if what.endswith("1") else self.plan.movers - self.plan.movers // 2)
        elif what == "leavers":
            self._leave(self.plan.leavers)
        with self.lock:
            self.tally.events.append((round(time.monotonic() - self.started, 1), what))

    def _group_ids(self) -> dict[str, str]:
        groups = self.stack.idp_api("GET", "/groups").json()
        return {g["profile"]["name"]: g["id"] for g in groups}

    def _move(self, count: int) -> None:
        ids = self._group_ids()
        with self.lock:
            candidates = [i for i in range(self.plan.users) if i not in self.left and i not in self.movers]
        for i in self.random.sample(candidates, count):
            old = self.groups[i][0]
            new = GROUPS[(GROUPS.index(old) + 1 + self.random.randrange(len(GROUPS) - 1)) % len(GROUPS)]
            self.stack.idp_api("PUT", f"/groups/{ids[new]}/users/{user_id(i)}").raise_for_status()
            self.stack.idp_api("DELETE", f"/groups/{ids[old]}/users/{user_id(i)}").raise_for_status()
            self.groups[i] = [new, "Everyone"]
            self.movers.append(i)

    def _leave(self, count: int) -> None:
        with self.lock:
            candidates = sorted(self.logged_in - set(self.movers))
        chosen = self.random.sample(candidates, count)
        with self.lock:
            self.left.update(chosen)  # no new login for them from now on
        for i in chosen:
            with self.user_locks[i]:  # a login already in flight finishes first
                self.stack.idp_api("POST", f"/users/{user_id(i)}/lifecycle/deactivate").raise_for_status()
            self.leavers.append(i)

    # bots -------------------------------------------------------------------------------------------

    def bots(self, stop: threading.Event) -> None:
        """Exchange Okta tokens at ``POST /auth/token`` at an even pace; use each Airflow token once."""
        if self.plan.bot_exchanges == 0:
            return
        interval = self.plan.duration / self.plan.bot_exchanges
        names = sorted(BOTS)
        tokens: dict[str, tuple[str, int]] = {}
        for n in range(self.plan.bot_exchanges):
            if stop.wait(max(0.0, self.started + n * interval - time.monotonic())):
                return
            bot = names[n % len(names)]
            try:
                self._bot_exchange(bot, tokens)
            except Exception as e:
                with self.lock:
                    self.tally.errors.append(f"bot {bot}: {type(e).__name__}: {str(e)[:300]}")

    def _bot_exchange(self, bot: str, tokens: dict[str, tuple[str, int]]) -> None:
        token, uses = tokens.get(bot, ("", BOT_TOKEN_REUSE))
        if uses >= BOT_TOKEN_REUSE:
            answer = requests.post(
                f"{self.stack.idp.issuer}/v1/token",
                data={"grant_type": "client_credentials", "scope": BOT_SCOPE},
                auth=(bot, f"{bot}-secret"),
                timeout=TIMEOUT,
            )
            if answer.status_code >= 500:
                with self.lock:
                    self.tally.idp_5xx += 1
            answer.raise_for_status()
            token, uses = answer.json()["access_token"], 0
        tokens[bot] = (token, uses + 1)
        started = time.perf_counter()
        exchanged = requests.post(
            f"{self.stack.url}/auth/token", json={}, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )
        elapsed = (time.perf_counter() - started) * 1000
        used = None
        if exchanged.status_code == 201:
            airflow_token = exchanged.json()["access_token"]
            used = requests.get(
                f"{self.stack.url}/api/v2/dags",
                headers={"Authorization": f"Bearer {airflow_token}"},
                timeout=TIMEOUT,
            ).status_code
        with self.lock:
            self.tally.bot_ms.append(elapsed)
            self.tally.bot_statuses[f"exchange {exchanged.status_code}"] += 1
            if used is not None:
                self.tally.bot_statuses[f"api {used}"] += 1

    # the run --------------------------------------------------------------------------------------------

    def schedule(self) -> tuple[list[int], int]:
        """Return the order of logins (a shuffled round of every person, repeated) and where the last round starts.

        The leavers' places in the last round are added on top, so ``plan.logins`` logins can all be signed in.
        """
        rounds, extra = divmod(self.plan.logins + self.plan.leavers, self.plan.users)
        order: list[int] = []
        for _ in range(rounds - 1):
            order += self.random.sample(range(self.plan.users), self.plan.users)
        order += self.random.sample(range(self.plan.users), extra)
        final_start = len(order)
        order += self.random.sample(range(self.plan.users), self.plan.users)  # the last round: everyone once more
        return order, final_start

    def run(self) -> float:
        """Run the load; return its wall time in seconds."""
        order, final_start = self.schedule()
        pace = self.plan.duration / len(order)
        changes = [(int(fraction * final_start), what) for fraction, what in SCHEDULE]
        change_threads: list[threading.Thread] = []
        stop = threading.Event()
        self.started = time.monotonic()
        bots = threading.Thread(target=self.bots, args=(stop,), name="bench-bots")
        bots.start()
        with ThreadPoolExecutor(max_workers=self.plan.concurrency, thread_name_prefix="bench-login") as pool:
            for n, i in enumerate(order):
                while changes and n >= changes[0][0]:
                    what = changes.pop(0)[1]
                    thread = threading.Thread(target=self.change, args=(what,), name=f"bench-{what}")
                    thread.start()
                    change_threads.append(thread)
                if n == final_start:
                    for thread in change_threads:  # every edit and move is done ...
                        thread.join()
                    time.sleep(MAPPING_CHECK_SECONDS)  # ... and every worker may have seen the last edit
                delay = self.started + n * pace - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if i in self.left:
                    if n >= final_start:
                        continue  # the last round is everyone still there, once
                    i = self.random.choice([u for u in range(self.plan.users) if u not in self.left])
                pool.submit(self.login, i)
        wall = time.monotonic() - self.started
        stop.set()
        bots.join()
        return wall


# -- afterwards ------------------------------------------------------------------------------------------------


def _rows(db_url: str, query: str) -> list[Any]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(query)).all())
    finally:
        engine.dispose()


def accounts(db_url: str) -> dict[str, list[tuple[bool, set[str]]]]:
    """Return username -> [(active, roles) of each ab_user row] for the benchmark's people."""
    found: dict[int, tuple[str, bool, set[str]]] = {}
    query = (
        "SELECT u.id, u.username, u.active, r.name FROM ab_user u LEFT JOIN ab_user_role ur ON ur.user_id = u.id "
        "LEFT JOIN ab_role r ON r.id = ur.role_id WHERE lower(u.username) LIKE 'load.%'"
    )
    for uid, name, active, role in _rows(db_url, query):
        found.setdefault(uid, (name.lower(), bool(active), set()))[2].update({role} if role else set())
    result: dict[str, list[tuple[bool, set[str]]]] = {}
    for name, active, roles in found.values():
        result.setdefault(name, []).append((active, roles))
    return result


def audit_counts(db_url: str) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Return okta_security's rows in Airflow's Audit Log: counts by event, and the rows."""
    counts: Counter[str] = Counter()
    rows = []
    for event, owner, extra in _rows(db_url, "SELECT event, owner, extra FROM log ORDER BY id"):
        data = json.loads(extra) if extra else {}
        if data.get("source") != "okta_security":
            continue
        counts[event] += 1
        rows.append({"event": event, "owner": owner, **data})
    return counts, rows


def settle(load: Load, *, timeout: float = 90.0) -> dict[str, Any]:
    """Wait for the event hook's deliveries and Airflow's hook worker; return the delivery figures."""
    deliveries = requests.get(f"{load.stack.idp.base_url}/__idp/event-hooks/deliveries?wait=1", timeout=TIMEOUT).json()
    leavers = {username(i) for i in load.leavers}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = accounts(load.stack.db_url)
        if all(not any(active for active, _ in found.get(name, [])) for name in leavers):
            break
        time.sleep(0.5)
    time.sleep(2.0)  # mover recomputes queued behind the last deactivation
    attempts = [a for d in deliveries for a in d["attempts"]]
    return {
        "deliveries": len(deliveries),
        # Okta delivers at least once: a delivery counts when one of its attempts (one retry) got a 2xx.
        "delivered": sum(1 for d in deliveries if any(200 <= a.get("status", 0) < 300 for a in d["attempts"])),
        "attempts": len(attempts),
        "accepted": sum(1 for a in attempts if 200 <= a.get("status", 0) < 300),
        "statuses": dict(Counter(str(a.get("status", a.get("error"))) for a in attempts)),
    }


def checks(load: Load, hooks: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return each correctness check: ok and what was seen."""
    tally, plan = load.tally, load.plan
    found = accounts(load.stack.db_url)
    served = load.stack.proxy.served
    airflow_5xx = [(s.method, s.path.split("?")[0], s.status) for s in served if s.status >= 500]
    leavers = {username(i) for i in load.leavers}
    people = {username(i) for i in load.logged_in}
    duplicated = {name: len(rows) for name, rows in found.items() if len(rows) != 1}
    wrong_roles = {}
    for i in range(plan.users):
        name = username(i)
        if name in leavers or name not in found or len(found[name]) != 1:
            continue
        want = expected_roles(load.groups[i])
        if found[name][0][1] != want:
            wrong_roles[name] = {"has": sorted(found[name][0][1]), "groups": load.groups[i], "want": sorted(want)}
    still_active = sorted(n for n in leavers if any(active for active, _ in found.get(n, [])))
    counts, rows = audit_counts(load.stack.db_url)
    deactivated = Counter(r["owner"] for r in rows if r["event"] == "user.deactivated")
    exchanged = tally.bot_statuses.get("exchange 201", 0)
    reloads = [r for r in rows if r["event"] == "mapping.reloaded"]
    known_events = {
        "login.succeeded",
        "login.refused",
        "user.created",
        "user.roles_changed",
        "user.deactivated",
        "bot.token_exchanged",
        "event_hook.received",
        "mapping.reloaded",
        "roles.synced",
    }
    audit = {
        "login.succeeded": (counts["login.succeeded"], tally.signed_in),
        "login.refused": (counts["login.refused"], sum(tally.refused.values())),
        "user.created": (counts["user.created"], len(found)),
        "bot.token_exchanged": (counts["bot.token_exchanged"], exchanged),
        "user.deactivated (one per leaver)": (dict(deactivated), dict.fromkeys(sorted(leavers), 1)),
    }
    # Each attempt Airflow answered in time is one row; an attempt Okta gave up on (3 s) may still
    # have reached Airflow and been recorded, so the rows lie between the two.
    received = counts["event_hook.received"]
    received_ok = hooks["accepted"] <= received <= hooks["attempts"]
    reload_ok = plan.logins == 0 or (2 <= len(reloads) <= 2 * load.stack.workers())
    return {
        "no HTTP 5xx": {
            "ok": not airflow_5xx and tally.idp_5xx == 0 and not tally.errors,
            "airflow_5xx": airflow_5xx[:20],
            "idp_5xx": tally.idp_5xx,
            "client_errors": tally.errors[:20],
        },
        "one account per person": {
            "ok": not duplicated and set(found) == people,
            "accounts": len(found),
            "people_signed_in": len(people),
            "duplicated": duplicated,
            "unexpected": sorted(set(found) - people)[:20],
        },
        "roles = final groups under the final mapping": {
            "ok": not wrong_roles,
            "checked": len(found) - len(leavers & set(found)),
            "wrong": dict(list(wrong_roles.items())[:20]),
        },
        "every leaver inactive": {"ok": not still_active, "leavers": len(leavers), "still_active": still_active},
        "bot exchanges all 201, tokens accepted": {
            "ok": set(tally.bot_statuses) <= {"exchange 201", "api 200"}
            and tally.bot_statuses.get("api 200", 0) == exchanged,
            "statuses": dict(tally.bot_statuses),
        },
        "every event-hook delivery accepted (at least once)": {
            "ok": hooks["delivered"] == hooks["deliveries"] > 0,
            **hooks,
        },
        "audit rows accounted for": {
            "ok": all(got == want for got, want in audit.values())
            and received_ok
            and reload_ok
            and set(counts) <= known_events,
            "rows_by_event": dict(counts),
            "expected_vs_found": {k: {"found": got, "expected": want} for k, (got, want) in audit.items()},
            "event_hook.received": f"{received} (attempts answered in time {hooks['accepted']}..all {hooks['attempts']})",
            "mapping.reloaded": f"{len(reloads)} (one per worker process and edit that saw it: 2..{2 * load.stack.workers()})",
            "unknown_events": sorted(set(counts) - known_events),
        },
    }


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run(plan: Plan, *, keep: bool = False, progress: bool = True) -> dict[str, Any]:
    """Start the stack, run the load, check the end state; return every figure."""
    plan.check()
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if progress else (lambda text: None)
    setup_started = time.monotonic()
    with cluster(plan, keep=keep) as stack:
        say(
            f"stack up in {time.monotonic() - setup_started:.0f} s: proxy {stack.url}, replicas {stack.servers[0].port} "
            f"({plan.workers_a} workers) and {stack.servers[1].port}"
        )
        [hook] = stack.idp_api("GET", "/eventHooks").json()
        stack.idp_api("POST", f"/eventHooks/{hook['id']}/lifecycle/verify").raise_for_status()
        load = Load(plan, stack)
        load_before = [round(x, 2) for x in os.getloadavg()]
        wall = load.run()
        say(f"load done in {wall:.0f} s; waiting for event-hook deliveries")
        hooks = settle(load)
        results = checks(load, hooks)
        served_by = Counter(s.backend for s in stack.proxy.served if s.path.startswith(CALLBACK))
    tally = load.tally
    return {
        "plan": asdict(plan),
        "machine": machine(),
        "load_average_at_start": load_before,
        "wall_seconds": round(wall, 1),
        "logins_signed_in": tally.signed_in,
        "logins_skipped": tally.skipped,
        "logins_per_second": round(tally.signed_in / wall, 2) if wall else 0.0,
        "callback_ms": {q: round(percentile(tally.callback_ms, q), 1) for q in (50, 95, 99)},
        "login_ms": {q: round(percentile(tally.login_ms, q), 1) for q in (50, 95, 99)},
        "callback_ms_mean": round(statistics.fmean(tally.callback_ms), 1) if tally.callback_ms else None,
        "callbacks_per_replica": {f"replica {i}": n for i, n in sorted(served_by.items())},
        "refused": dict(tally.refused),
        "errors": len(tally.errors) + sum(1 for s in stack.proxy.served if s.status >= 500) + tally.idp_5xx,
        "bot_exchanges": sum(v for k, v in tally.bot_statuses.items() if k.startswith("exchange")),
        "bot_exchange_ms_p50": round(percentile(tally.bot_ms, 50), 1),
        "leavers": len(load.leavers),
        "movers": len(load.movers),
        "changes_at_seconds": tally.events,
        "checks": results,
        "ok": all(check["ok"] for check in results.values()),
    }


def report(figures: dict[str, Any]) -> str:
    plan = figures["plan"]
    cb = figures["callback_ms"]
    lines = [
        f"{plan['logins']} logins of {plan['users']} people over {plan['duration']:.0f} s target "
        f"({figures['wall_seconds']} s actual), {plan['bot_exchanges']} bot exchanges, "
        f"{figures['leavers']} leavers, {figures['movers']} movers, 2 mapping edits",
        f"signed in: {figures['logins_signed_in']} ({figures['logins_per_second']} logins/s); "
        f"callbacks per replica: {figures['callbacks_per_replica']}",
        f"callback time: p50 {cb[50]} ms, p95 {cb[95]} ms, p99 {cb[99]} ms "
        f"(whole login p50 {figures['login_ms'][50]} ms); bot exchange p50 {figures['bot_exchange_ms_p50']} ms",
        f"errors: {figures['errors']}; refused: {figures['refused'] or 0}",
        f"changes (s into the run): {figures['changes_at_seconds']}",
        "checks:",
    ]
    for name, check in figures["checks"].items():
        details = {k: v for k, v in check.items() if k != "ok"}
        lines.append(f"  {'ok  ' if check['ok'] else 'FAIL'} {name}: {json.dumps(details, default=str)[:600]}")
    lines.append("ALL CHECKS PASSED" if figures["ok"] else "SOME CHECKS FAILED")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_replicas", description=__doc__.split("\n\n")[0])
    defaults = Plan()
    parser.add_argument("--logins", type=int, default=defaults.logins)
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--duration", type=float, default=defaults.duration, help="target seconds for the logins")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency, help="browsers at once, at most")
    parser.add_argument("--bot-exchanges", type=int, default=defaults.bot_exchanges)
    parser.add_argument("--leavers", type=int, default=defaults.leavers)
    parser.add_argument("--movers", type=int, default=defaults.movers)
    parser.add_argument("--workers-a", type=int, default=defaults.workers_a, help="uvicorn workers of replica A")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the servers' homes and logs")
    args = parser.parse_args(argv)
    plan = Plan(
        logins=args.logins,
        users=args.users,
        duration=args.duration,
        concurrency=args.concurrency,
        bot_exchanges=args.bot_exchanges,
        leavers=args.leavers,
        movers=args.movers,
        workers_a=args.workers_a,
    )
    try:
        figures = run(plan, keep=args.keep)
    except ValueError as e:
        parser.error(str(e))
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
