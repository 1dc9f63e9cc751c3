"""What a login costs with okta_security vs FAB's built-in ``okta`` provider (``python -m bench.bench_login``).

Two real ``airflow api-server`` processes run side by side against one local IdP (its own
process): ``builtin`` with FAB's okta provider configured as the docs show
(``bench/fab_builtin_webserver_config.py``), ``ours`` with the repo's ``webserver_config.py``.
Each has its own PostgreSQL database (or SQLite with ``--db sqlite``) and its own Okta app.

Per login the script reports the back-channel calls the IdP received (token, keys, userinfo,
discovery, Management API — counted by the IdP at ``/__idp/stats``) and the time of the
callback request (``GET /auth/oauth-authorized/okta``, measured by the client). Logins run one
at a time, alternating between the servers (ABBA order) so drift of the machine cancels out.
Phases, each after a warm-up (JWKS and discovery cached, users created):

1. ``latency``: every back-channel call answered ``--latency-ms`` (100) late — a WAN round trip.
   Targets: ours makes 1 back-channel call per login; ours/builtin callback time <= 0.6.
2. ``overhead``: no injected latency, so the callback time is the servers' own work.
   Target: ours/builtin <= 1.1.
3. ``thin``: ours only, with ID tokens that carry no groups claim (``id_token_groups: false``):
   then userinfo is called too (2 calls) — the case the design allows it.

The IdP defines the ``groups`` scope (``groups_scope: true``): the docs' provider entry
requests it, and Okta rejects undefined scopes. Both servers thus get groups: ours from the ID
token's claim, the built-in from userinfo.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import yaml

from bench._support import (
    IdpProcess,
    LoginSample,
    count_statements,
    machine,
    postgres_database,
    statements,
    timed_login,
)
from okta_devstack.airflow import REPO, AirflowServer, free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

BUILTIN_CONFIG = Path(__file__).with_name("fab_builtin_webserver_config.py")
TARGET_CALLS = 1
TARGET_LATENCY_RATIO = 0.6
TARGET_OVERHEAD_RATIO = 1.1
# (login, password, Okta group, Airflow role): one user per mapped group, logins rotate over them.
USERS = (
    ("alice.admin@example.com", "Admin-pass-1", "airflow-admins", "Admin"),
    ("bob.viewer@example.com", "Viewer-pass-1", "airflow-viewers", "Viewer"),
    ("olga.ops@example.com", "Ops-pass-1", "airflow-ops", "Op"),
    ("ulrich.user@example.com", "User-pass-1", "airflow-users", "User"),
)
CLIENTS = {"ours": ("airflow-ours", "ours-secret", True), "builtin": ("airflow-builtin", "builtin-secret", False)}


def idp_config(ports: dict[str, int]) -> dict[str, Any]:
    """Return the IdP's YAML: groups claim and scope, one Okta app per server, the bench users."""
    clients = [
        {
            "client_id": client_id,
            "client_secret": secret,
            # Okta's default for a web app is "PKCE not required"; the docs' entry sends none.
            "require_pkce": pkce,
            "redirect_uris": [f"http://127.0.0.1:{ports[name]}/auth/oauth-authorized/okta"],
        }
        for name, (client_id, secret, pkce) in CLIENTS.items()
    ]
    users = [
        {
            "id": f"00ubench{i:012d}",
            "login": login,
            "password": password,
            "given_name": login.split(".")[0].title(),
            "family_name": login.split("@")[0].split(".")[1].title(),
            "email": login,
            "groups": [group, "Everyone"],
        }
        for i, (login, password, group, _role) in enumerate(USERS, start=1)
    ]
    return {
        "server": {"groups_claim": True, "groups_claim_filter": ".*", "groups_scope": True},
        "clients": clients,
        "users": users,
    }


def build_servers(
    work: Path, issuer: str, ports: dict[str, int], db_urls: dict[str, str | None]
) -> dict[str, AirflowServer]:
    """Return the two (not yet started) api-servers."""
    mapping = work / "okta_role_mapping.yaml"
    shutil.copy(REPO / "config" / "role_mapping.yaml", mapping)
    servers = {}
    for name, (client_id, secret, _pkce) in CLIENTS.items():
        env = {"OKTA_ISSUER": issuer, "OKTA_CLIENT_ID": client_id, "OKTA_CLIENT_SECRET": secret}
        if name == "ours":
            env["OKTA_ROLE_MAPPING_FILE"] = str(mapping)
        servers[name] = AirflowServer(
            work / name,
            okta_env=env,
            port=ports[name],
            db_url=db_urls[name],
            webserver_config=BUILTIN_CONFIG if name == "builtin" else None,
            # Each server counts its SQL statements in files of its own (bench/statements).
            airflow_env={"BENCH_STATEMENTS_FILE": str(statement_files(work, name))},
        )
    count_statements(work)  # puts the counter on PYTHONPATH for the servers started next
    return servers


def statement_files(work: Path, name: str) -> Path:
    """Return the prefix of the files where server ``name`` writes its SQL statement count."""
    return work / f"statements-{name}"


def in_parallel(calls: Sequence[Callable[[], None]]) -> None:
    """Run ``calls`` on threads; re-raise the first failure."""
    errors: list[BaseException] = []

    def run(call: Callable[[], None]) -> None:
        try:
            call()
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def interleaved(
    idp: IdpProcess, servers: dict[str, AirflowServer], count: int, *, offset: int = 0
) -> dict[str, list[LoginSample]]:
    """Run ``count`` logins per server, alternating A B B A …, rotating over the users."""
    samples: dict[str, list[LoginSample]] = {name: [] for name in servers}
    names = list(servers)
    for i in range(count):
        login, password, _group, _role = USERS[(i + offset) % len(USERS)]
        for name in names if i % 2 == 0 else reversed(names):
            samples[name].append(timed_login(idp, name, servers[name].base_url, login, password))
    return samples


def summarize(samples: list[LoginSample]) -> dict[str, Any]:
    """Return median/p90 callback time and back-channel calls per login."""
    times = sorted(s.callback_seconds * 1000 for s in samples)
    calls = [s.back_channel_calls for s in samples]
    per_endpoint: Counter[str] = Counter()
    for s in samples:
        per_endpoint.update(s.back_channel)
    return {
        "logins": len(samples),
        "callback_ms_median": round(statistics.median(times), 1),
        "callback_ms_p90": round(times[max(0, int(len(times) * 0.9) - 1)], 1),
        "callback_ms_min": round(times[0], 1),
        "back_channel_calls_per_login": round(statistics.mean(calls), 2),
        "back_channel_calls_min_max": [min(calls), max(calls)],
        "back_channel_by_endpoint": {k: round(v / len(samples), 2) for k, v in sorted(per_endpoint.items())},
    }


def phase(
    idp: IdpProcess, servers: dict[str, AirflowServer], *, latency_ms: int, warmup: int, logins: int
) -> dict[str, Any]:
    """Warm up, then measure ``logins`` interleaved logins per server at ``latency_ms``."""
    idp.set_faults(latency_ms=latency_ms or None)
    interleaved(idp, servers, warmup)
    before = {name: statements(statement_files(server.home.parent, name)) for name, server in servers.items()}
    measured = interleaved(idp, servers, logins, offset=warmup)
    result: dict[str, Any] = {"latency_ms": latency_ms, **{name: summarize(s) for name, s in measured.items()}}
    for name, server in servers.items():
        spent = statements(statement_files(server.home.parent, name)) - before[name]
        result[name]["sql_statements_per_login"] = round(spent / max(1, logins), 1)
    if "ours" in result and "builtin" in result:
        result["ratio_ours_builtin"] = round(
            result["ours"]["callback_ms_median"] / result["builtin"]["callback_ms_median"], 3
        )
    return result


def first_logins(idp: IdpProcess, servers: dict[str, AirflowServer]) -> dict[str, Any]:
    """Return the back-channel calls of each server's very first login (nothing cached yet)."""
    login, password, _group, _role = USERS[0]
    return {
        name: dict(timed_login(idp, name, server.base_url, login, password).back_channel)
        for name, server in servers.items()
    }


def roles_in_database(db_url: str, username: str) -> set[str]:
    """Return the role names of ``username`` in Airflow's database."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT r.name FROM ab_user u JOIN ab_user_role ur ON ur.user_id = u.id "
                    "JOIN ab_role r ON r.id = ur.role_id WHERE u.username = :u"
                ),
                {"u": username},
            )
            return {r[0] for r in rows}
    finally:
        engine.dispose()


def check_roles(servers: dict[str, AirflowServer]) -> dict[str, dict[str, list[str]]]:
    """Fail unless both servers gave every bench user the role of their group; return the roles."""
    found: dict[str, dict[str, list[str]]] = {}
    for name, server in servers.items():
        found[name] = {}
        for i, (login, _pw, group, role) in enumerate(USERS, start=1):
            # FAB's built-in provider names users okta_<sub>; okta_security uses the Okta login.
            username = login if name == "ours" else f"okta_00ubench{i:012d}"
            roles = roles_in_database(server.db_url, username)
            if role not in roles:
                raise RuntimeError(f"{name}: {username} (group {group}) has roles {sorted(roles)}, expected {role}")
            found[name][username] = sorted(roles)
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start everything, run the phases, stop everything; return the figures."""
    ports = {name: free_port() for name in CLIENTS}
    work = Path(tempfile.mkdtemp(prefix="bench_login_"))
    idp_yaml = work / "idp.yaml"
    idp_yaml.write_text(yaml.safe_dump(idp_config(ports), sort_keys=False))
    idp = IdpProcess(idp_yaml)
    figures: dict[str, Any] = {"machine": machine(), "db": args.db, "settings": vars(args)}
    try:
        with databases(args.db) as db_urls:
            servers = build_servers(work, idp.issuer, ports, db_urls)
            try:
                in_parallel([s.prepare for s in servers.values()])
                in_parallel([s.start for s in servers.values()])
                figures["first_login_back_channel"] = first_logins(idp, servers)
                figures["latency"] = phase(
                    idp, servers, latency_ms=args.latency_ms, warmup=args.warmup, logins=args.logins
                )
                figures["overhead"] = phase(idp, servers, latency_ms=0, warmup=args.warmup, logins=args.logins)
                if args.thin_logins:
                    idp.set_faults(id_token_groups=False)
                    figures["thin"] = phase(
                        idp, {"ours": servers["ours"]}, latency_ms=args.latency_ms, warmup=2, logins=args.thin_logins
                    )
                    idp.set_faults(id_token_groups=None)
                figures["roles"] = check_roles(servers)
            finally:
                for server in servers.values():
                    server.stop()
    finally:
        idp.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            figures["workdir"] = str(work)
    figures["machine"]["load_average_after"] = machine()["load_average"]
    return figures


@contextlib.contextmanager
def databases(kind: str) -> Iterator[dict[str, str | None]]:
    """Yield a fresh PostgreSQL database per server (dropped afterwards), or None each (SQLite)."""
    if kind != "postgres":
        yield {name: None for name in CLIENTS}
        return
    with postgres_database("okta_bench_ours") as ours, postgres_database("okta_bench_builtin") as builtin:
        yield {"ours": ours, "builtin": builtin}


def report(figures: dict[str, Any]) -> str:
    """Return the human-readable summary with targets."""
    lines = [f"machine: {json.dumps(figures['machine'])}", f"database: {figures['db']}"]
    lines.append(f"first login, back-channel calls: {json.dumps(figures['first_login_back_channel'])}")
    for key in ("latency", "overhead", "thin"):
        if key not in figures:
            continue
        result = figures[key]
        lines.append(f"\n[{key}] injected latency {result['latency_ms']} ms per back-channel call")
        lines.append(
            f"  {'server':8} {'logins':>6} {'median ms':>10} {'p90 ms':>8} {'calls/login':>12} {'SQL/login':>10}"
            "  by endpoint"
        )
        for name in ("builtin", "ours"):
            if name in result:
                r = result[name]
                lines.append(
                    f"  {name:8} {r['logins']:>6} {r['callback_ms_median']:>10} {r['callback_ms_p90']:>8} "
                    f"{r['back_channel_calls_per_login']:>12} {r.get('sql_statements_per_login', '-'):>10}  "
                    f"{json.dumps(r['back_channel_by_endpoint'])}"
                )
        if "ratio_ours_builtin" in result:
            target = TARGET_LATENCY_RATIO if key == "latency" else TARGET_OVERHEAD_RATIO
            verdict = "met" if result["ratio_ours_builtin"] <= target else "MISSED"
            lines.append(
                f"  ratio ours/builtin (median callback): {result['ratio_ours_builtin']} (target <= {target}: {verdict})"
            )
    calls = figures["latency"]["ours"]["back_channel_calls_min_max"]
    verdict = "met" if calls == [TARGET_CALLS, TARGET_CALLS] else "MISSED"
    lines.append(f"\nours: back-channel calls per steady-state login {calls} (target {TARGET_CALLS}: {verdict})")
    lines.append(f"roles: {json.dumps(figures['roles'])}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_login", description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=30, help="measured logins per server and phase (30)")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured logins per server before each phase (5)")
    parser.add_argument("--latency-ms", type=int, default=100, help="injected latency per back-channel call (100)")
    parser.add_argument("--thin-logins", type=int, default=10, help="logins of the thin-ID-token phase (10, 0 = skip)")
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres", help="metadata database (postgres)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (server logs)")
    args = parser.parse_args(argv)
    figures = run(args)
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
