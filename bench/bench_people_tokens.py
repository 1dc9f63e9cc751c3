"""How many people's and bots' Okta tokens Airflow exchanges per second, next to FAB's username/password
``POST /auth/token`` in the same run (``python -m bench.bench_people_tokens``).

One local IdP in its own process and one real ``airflow api-server`` (``OktaFabAuthManager``, one
worker). A person signs in on a device once (the activation page driven by ``requests``); then
the two kinds of ``POST /auth/token`` alternate in blocks (A-B-B-A, so drift of the machine hits
both alike), each from one client on a keep-alive connection:

- people: ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` with the person's Okta access
  token (form body): signature with cached keys, the login decision, the account's roles written
  and the sign-in audited — the whole browser pipeline bar the Okta round trips;
- bots: ``Authorization: Bearer`` with a client-credentials token of a client the mapping's
  ``clients:`` lists: signature with cached keys, the client's grant, its service user read (and
  written only when its roles change) — target p50 <= 15 ms;
- password: FAB's ``{"username", "password"}`` for an Airflow database user (FAB hashes the password
  to compare it, then records the login).

Both mint the same Airflow JWT. Okta is called during neither (the keys are cached after the
first exchange; the token carries the groups claim): the IdP's request counters prove it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
import yaml

from bench._support import IdpProcess, count_statements, machine, postgres_database, statements
from okta_devstack.airflow import REPO, AirflowServer
from okta_local_idp.testing import decide_device

if TYPE_CHECKING:
    from collections.abc import Callable

AUDIENCE = "api://airflow"
SCOPE = "airflow.api"
CLI = "airflow-cli"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PERSON = ("alice.admin@example.com", "Admin-pass-1")
STATEMENT_SAMPLE = 20  # exchanges per kind whose SQL statements are counted
DB_USER = ("bench-db-user", "Bench-pass-1")
BOT = ("bench-bot", "bench-bot-secret")
KINDS = ("people", "bots", "password")


def idp_config() -> dict[str, Any]:
    """Return the sample IdP data with the API server's audience, scope and a groups claim in access tokens."""
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    data["server"].update(
        custom_scopes=[SCOPE], audience=AUDIENCE, access_token_groups_claim=True, device_poll_interval=1
    )
    data.pop("event_hooks", None)
    data["clients"].append({"client_id": BOT[0], "client_secret": BOT[1], "grant_types": ["client_credentials"]})
    return data


def bot_token(idp: IdpProcess) -> str:
    """Return the bot's Okta access token (client credentials, client_secret_basic)."""
    response = requests.post(
        f"{idp.issuer}/v1/token", data={"grant_type": "client_credentials", "scope": SCOPE}, auth=BOT, timeout=10
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def person_token(idp: IdpProcess) -> str:
    """Return the person's Okta access token from a device sign-in approved on the activation page."""
    device = requests.post(
        f"{idp.issuer}/v1/device/authorize", data={"client_id": CLI, "scope": SCOPE}, timeout=10
    ).json()
    decide_device(requests.Session(), device["verification_uri_complete"], *PERSON)
    time.sleep(device["interval"])
    data = {"grant_type": DEVICE_GRANT, "device_code": device["device_code"], "client_id": CLI}
    response = requests.post(f"{idp.issuer}/v1/token", data=data, timeout=10)
    response.raise_for_status()
    return str(response.json()["access_token"])


def timed(call: Callable[[], requests.Response], count: int) -> list[float]:
    """Return the latencies of ``count`` calls, each of which must answer 201."""
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        response = call()
        latencies.append(time.perf_counter() - started)
        if response.status_code != 201:
            raise RuntimeError(f"POST /auth/token answered {response.status_code}: {response.text[:300]}")
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    """Return exchanges per second and latency percentiles of one kind."""
    ordered = sorted(latencies)
    return {
        "exchanges": len(ordered),
        "per_second": round(len(ordered) / sum(ordered), 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the IdP and Airflow, measure both kinds alternately, stop everything; return the figures."""
    work = Path(tempfile.mkdtemp(prefix="bench_people_"))
    idp_yaml = work / "idp.yaml"
    idp_yaml.write_text(yaml.safe_dump(idp_config(), sort_keys=False))
    idp = IdpProcess(idp_yaml)
    figures: dict[str, Any] = {"machine": machine(), "db": args.db, "settings": vars(args)}
    counts = count_statements(work)
    try:
        with postgres_database("okta_bench_people") if args.db == "postgres" else _no_database() as db_url:
            mapping = work / "okta_role_mapping.yaml"
            mapping.write_text(
                (REPO / "config" / "role_mapping.yaml").read_text()
                + f"\nclients:\n  {BOT[0]}:\n    name: bench-bot\n    roles: [Viewer]\n"
            )
            airflow = AirflowServer(
                work / "airflow",
                db_url=db_url,
                auth_manager="okta_security.auth_manager.OktaFabAuthManager",
                okta_env={
                    "OKTA_ISSUER": idp.issuer,
                    "OKTA_CLIENT_ID": "airflow-local",
                    "OKTA_CLIENT_SECRET": "airflow-local-secret",
                    "OKTA_ROLE_MAPPING_FILE": str(mapping),
                    "OKTA_BOT_AUDIENCE": AUDIENCE,
                    "OKTA_CLI_CLIENT_ID": CLI,
                    "OKTA_AUDIT_LOG_HANDLER": str(work / "audit.jsonl"),
                    # The bench exchanges one token hundreds of times a minute on purpose.
                    "OKTA_PERSON_SIGN_INS_PER_MINUTE": "10000",
                },
            )
            try:
                airflow.prepare()
                airflow.airflow(
                    "users", "create", "--username", DB_USER[0], "--password", DB_USER[1], "--role", "Admin",
                    "--firstname", "Bench", "--lastname", "User", "--email", "bench-db-user@example.com",
                )  # fmt: skip
                airflow.start()
                figures.update(measure(airflow.base_url, idp, args, counts))
            finally:
                airflow.stop()
    finally:
        idp.stop()
    figures["machine"]["load_average_after"] = machine()["load_average"]
    return figures


class _no_database:  # noqa: N801 - a context manager standing in for postgres_database
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def measure(url: str, idp: IdpProcess, args: argparse.Namespace, counts: Path) -> dict[str, Any]:
    """Alternate blocks of both kinds; return their figures and the Okta calls made while measuring."""
    okta_token, bots_token = person_token(idp), bot_token(idp)
    people, bots, password = requests.Session(), requests.Session(), requests.Session()

    def person() -> requests.Response:
        return people.post(f"{url}/auth/token", data={"grant_type": JWT_BEARER, "assertion": okta_token}, timeout=60)

    def bot() -> requests.Response:
        return bots.post(f"{url}/auth/token", headers={"Authorization": f"Bearer {bots_token}"}, json={}, timeout=60)

    def database_user() -> requests.Response:
        body = {"username": DB_USER[0], "password": DB_USER[1]}
        return password.post(f"{url}/auth/token", json=body, timeout=60)

    calls_of = {"people": person, "bots": bot, "password": database_user}
    for call in calls_of.values():
        timed(call, args.warmup)  # keys fetched, account created, connections open
    before = idp.stats()
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    blocks = max(1, args.exchanges // args.block)
    for i in range(blocks):
        for kind in KINDS if i % 2 == 0 else KINDS[::-1]:  # A-B-C-C-B-A: drift hits every kind alike
            samples[kind] += timed(calls_of[kind], args.block)
    after = idp.stats()
    calls = {k: v - before.get("back_channel", {}).get(k, 0) for k, v in after.get("back_channel", {}).items()}
    result = {kind: summary(latencies) for kind, latencies in samples.items()}
    for kind, call in calls_of.items():  # after timing: counting costs a little
        start = statements(counts)
        timed(call, STATEMENT_SAMPLE)
        result[kind]["statements_per_exchange"] = round((statements(counts) - start) / STATEMENT_SAMPLE, 1)
    return {
        **result,
        "ratio_people_password": round(result["people"]["per_second"] / result["password"]["per_second"], 2),
        "ratio_bots_password": round(result["bots"]["per_second"] / result["password"]["per_second"], 2),
        "okta_calls_while_measuring": {k: v for k, v in calls.items() if v},
    }


def report(f: dict[str, Any]) -> str:
    """Return the figures as a table."""
    lines = [
        f"POST /auth/token, one client at a time, one api-server worker ({f['db']}); "
        f"{f['machine']['cores']} cores, load average {f['machine']['load_average'][0]} -> "
        f"{f['machine']['load_average_after'][0]}",
        f"{'':44} {'exchanges/s':>12} {'p50 ms':>8} {'p95 ms':>8} {'n':>6} {'SQL/exchange':>13}",
    ]
    names = {
        "people": "person's Okta token (jwt-bearer grant)",
        "bots": "bot's Okta token (client credentials)",
        "password": "FAB username/password",
    }
    for kind, name in names.items():
        m = f[kind]
        lines.append(
            f"{name:44} {m['per_second']:>12,.1f} {m['p50_ms']:>8} {m['p95_ms']:>8} {m['exchanges']:>6} "
            f"{m.get('statements_per_exchange', '-'):>13}"
        )
    lines.append(f"people / password: {f['ratio_people_password']}x (target >= 10x, p50 <= 25 ms)")
    lines.append(f"bots / password: {f['ratio_bots_password']}x (target: bot p50 <= 15 ms)")
    lines.append(f"Okta calls while measuring: {f['okta_calls_while_measuring'] or 'none'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table (or JSON)."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_people_tokens", description=__doc__.split("\n\n")[0])
    parser.add_argument("--exchanges", type=int, default=200, help="measured exchanges per kind (200)")
    parser.add_argument("--block", type=int, default=20, help="exchanges per block; kinds alternate A-B-B-A (20)")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured exchanges per kind first (5)")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite", help="metadata database (sqlite)")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args)
    print(json.dumps(figures, indent=2, default=str) if args.json else report(figures))
    return 0 if not figures["okta_calls_while_measuring"] else 1


if __name__ == "__main__":
    sys.exit(main())
