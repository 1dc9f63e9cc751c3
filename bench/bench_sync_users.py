"""How many Okta API calls ``sync-users`` makes, against the local IdP with up to 10,000 users.

``python -m bench.bench_sync_users [--users 1000 5000 10000] [--baseline-sample 1000] [--full-baseline]``

For each directory size the script starts the local IdP in its own process, then reads Okta's
view of *every* user the way ``sync-users`` does (statuses by listing, members of the mapped
groups only) and, as the baseline measured in the same run, the naive way: per user, ``GET
/api/v1/users/{id}`` plus ``GET /api/v1/users/{id}/groups``. Calls are counted twice: by the
client (pages requested) and by the IdP (``/__idp/stats``, every HTTP request that reached it,
429 retries included). The baseline runs on a sample (``--baseline-sample``) and is scaled to
the directory size unless ``--full-baseline``; its call count per user is exact (2), its time is
an estimate. Also timed: planning (pure) for that many Airflow accounts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench._support import IdpProcess
from okta_security.lifecycle.okta_directory import OktaDirectory
from okta_security.lifecycle.user_sync import AirflowAccount, plan_sync
from okta_security.mapping.rules import parse_mapping
from okta_security.okta_api.auth import SswsAuth
from okta_security.okta_api.client import HttpPolicy, OktaApiClient, OktaHttp

API_TOKEN = "00bench-sync-token"
MAPPING = parse_mapping(
    "default_role: null\n"
    "mappings:\n"
    "  airflow-admins: [Admin]\n"
    "  airflow-ops: [Op]\n"
    "  airflow-viewers: [Viewer]\n"
    '  "airflow-team-*": [User]\n',
    source="bench_mapping.yaml",
)
UNRELATED_GROUPS = 300  # departments etc.: listed (2 pages) but never paged through


def user_id(i: int) -> str:
    return f"00ubench{i:012d}"


def directory_config(users: int) -> dict[str, Any]:
    """Return an IdP config with ``users`` users spread over mapped and unrelated groups."""
    people = []
    for i in range(users):
        groups = ["Everyone", f"dept-{i % UNRELATED_GROUPS:03d}"]
        if i % 2 == 0:
            groups.append("airflow-viewers")
        if i % 3 == 0:
            groups.append("airflow-ops")
        if i % 97 == 0:
            groups.append("airflow-admins")
        if i % 10 == 1:
            groups.append(f"airflow-team-{i % 7}")
        person: dict[str, Any] = {
            "id": user_id(i),
            "login": f"user{i:05d}@example.com",
            "password": "x",
            "groups": groups,
        }
        if i % 50 == 7:
            person["status"] = "DEPROVISIONED"
        elif i % 50 == 11:
            person["status"] = "SUSPENDED"
        people.append(person)
    return {
        "server": {"api_token": API_TOKEN, "api_rate_limit": 1_000_000},  # no 429s: count calls, not waits
        "clients": [{"client_id": "bench", "client_secret": "s", "redirect_uris": ["http://127.0.0.1:1/cb"]}],
        "users": people,
    }


def client(base_url: str) -> OktaApiClient:
    policy = HttpPolicy(connect_timeout=5, read_timeout=60, max_retries=5, max_wait=120)
    return OktaApiClient(base_url, SswsAuth(lambda: API_TOKEN), OktaHttp(policy))


def idp_calls(idp: IdpProcess) -> int:
    return int(idp.stats()["back_channel"].get("management_api", 0))


def measure(users: int, baseline_sample: int, full_baseline: bool) -> dict[str, Any]:
    """Return the figures for one directory size."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "idp.yaml"
        config.write_text(yaml.safe_dump(directory_config(users)))
        idp = IdpProcess(config)
        try:
            api = client(idp.base_url)
            subs = [user_id(i) for i in range(users)]

            before = idp_calls(idp)
            started = time.perf_counter()
            directory = OktaDirectory(api)
            view = directory.snapshot(subs, MAPPING, strategy="list")
            batch_seconds = time.perf_counter() - started
            batch_client_calls, batch_idp_calls = directory.calls, idp_calls(idp) - before

            accounts = [
                AirflowAccount(i, f"user{i:05d}", sub, True, frozenset({"Viewer"})) for i, sub in enumerate(subs)
            ]
            started = time.perf_counter()
            plan = plan_sync(accounts, view, MAPPING)
            plan_seconds = time.perf_counter() - started

            sample = subs if full_baseline else subs[:: max(1, users // max(1, baseline_sample))][:baseline_sample]
            before = idp_calls(idp)
            per_user: list[float] = []
            naive_statuses: dict[str, str] = {}
            for sub in sample:
                t0 = time.perf_counter()
                found = list(OktaDirectory(api).users(search=f'id eq "{sub}"'))  # GET by id, any status
                api.user_group_names(sub)
                per_user.append(time.perf_counter() - t0)
                if found:
                    naive_statuses[sub] = found[0]["status"]
            baseline_idp_calls = idp_calls(idp) - before
            agree = all(view.statuses.get(s) == naive_statuses.get(s) for s in sample)
        finally:
            idp.stop()
    scale = users / len(sample)
    baseline_seconds = sum(per_user) * scale
    return {
        "users": users,
        "batch": {
            "client_calls": batch_client_calls,
            "idp_calls": batch_idp_calls,
            "seconds": round(batch_seconds, 3),
            "calls_per_1000_users": round(1000 * batch_idp_calls / users, 2),
        },
        "baseline_per_user": {
            "sampled_users": len(sample),
            "calls_per_user": round(baseline_idp_calls / len(sample), 3),
            "calls": round(baseline_idp_calls * scale),
            "seconds": round(baseline_seconds, 3),
            "seconds_estimated": not full_baseline and len(sample) < users,
            "median_ms_per_user": round(1000 * statistics.median(per_user), 2),
        },
        "ratio_calls": round(baseline_idp_calls * scale / batch_idp_calls, 1),
        "ratio_seconds": round(baseline_seconds / batch_seconds, 1),
        "plan_seconds": round(plan_seconds, 4),
        "plan_counts": dict(plan.counts),
        "statuses_agree_with_baseline": agree,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--baseline-sample", type=int, default=1000)
    parser.add_argument("--full-baseline", action="store_true", help="time the baseline on every user")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    results = [measure(n, args.baseline_sample, args.full_baseline) for n in args.users]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print("sync-users: Okta Management API calls to read every user's status and mapped groups")
    print(
        f"{'users':>7} {'batch calls':>12} {'per 1k users':>13} {'batch s':>8} "
        f"{'per-user calls':>15} {'per-user s':>11} {'calls ratio':>12} {'time ratio':>11} {'plan s':>7}"
    )
    for r in results:
        b, n = r["batch"], r["baseline_per_user"]
        est = "~" if n["seconds_estimated"] else ""
        print(
            f"{r['users']:>7} {b['idp_calls']:>12} {b['calls_per_1000_users']:>13} {b['seconds']:>8} "
            f"{n['calls']:>15} {est + str(n['seconds']):>11} {r['ratio_calls']:>11}x {r['ratio_seconds']:>10}x "
            f"{r['plan_seconds']:>7}"
        )
    first, last = results[0], results[-1]
    growth_users = last["users"] / first["users"]
    growth_calls = last["batch"]["idp_calls"] / first["batch"]["idp_calls"]
    print(
        f"\n{growth_users:.0f}x the users -> {growth_calls:.1f}x the batch calls (pages of 200), "
        f"vs {growth_users:.0f}x for the per-user baseline; client and IdP counts agree: "
        f"{all(r['batch']['client_calls'] == r['batch']['idp_calls'] for r in results)}; "
        f"statuses agree with the baseline: {all(r['statuses_agree_with_baseline'] for r in results)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
