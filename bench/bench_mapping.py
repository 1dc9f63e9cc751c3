"""Role-mapping evaluation at scale: 1,000 groups per user x 1,000 rules (budget: < 2 ms per evaluation).

``python -m bench.bench_mapping [--rules 1000] [--groups 1000] [--users 200] [--seed 3] [--json]``

For each workload the script writes a mapping file with ``--rules`` rules, parses it the way
the webserver does, and times ``RoleMapping.resolve`` for ``--users`` users of ``--groups``
groups each:

- cold: every user's groups are new to the mapping version (nothing memoised): one dict
  lookup and one RE2 set pass per group do the work;
- warm: the same users again on the shared mapping (an org's group names repeat across logins
  and users; each version memoises what it matched per group name);
- naive: the baseline measured in the same run on the same users — for every group, try every
  rule (``Rule.matches``, regexes pre-compiled), i.e. what matching costs without the set.

Workloads: ``typical`` (70% exact names, 20% globs, 10% regexes, as mappings are written) and
``scan-heavy`` (a third of the patterns start with a wildcard, e.g. ``*-admins`` or
``re:.*-ops-.*``, which have no literal prefix). Every cold
result is checked against the naive result before any figure is printed.

Then one hostile group name: ``re:([a-z0-9]+-?)+-admins`` against ``"a" * n + "-admins!"``.
``RoleMapping.resolve`` (RE2) is timed for growing ``n`` next to the standard library's ``re``
(the engine ``re:`` patterns used before), measured in the same run; ``re`` is timed only up to
``--max-backtracking-length`` because each 2 more characters multiply its time by about 4.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import string
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from okta_security.mapping.rules import RoleMapping, parse_mapping

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

TARGET_MS = 2.0
ORG_GROUPS_PER_USER_GROUP = 20  # the directory holds 20x as many groups as one user is in
ROLES = ("Admin", "Op", "User", "Viewer", "Public")


def _word(rnd: random.Random, low: int = 3, high: int = 10) -> str:
    return "".join(rnd.choice(string.ascii_lowercase) for _ in range(rnd.randint(low, high)))


@dataclass(frozen=True)
class Workload:
    """A mapping and the users to evaluate against it."""

    name: str
    mapping_text: str
    users: list[list[str]]
    rule_mix: dict[str, int]


def build_workload(name: str, *, rules: int, groups: int, users: int, seed: int) -> Workload:
    """Return a mapping of ``rules`` rules and ``users`` users of ``groups`` groups each."""
    rnd = random.Random(seed)
    scan_share = 0.33 if name == "scan-heavy" else 0.0
    n_exact = int(rules * 0.7)
    n_patterns = rules - n_exact
    n_scan = int(n_patterns * scan_share)
    n_regex = int((n_patterns - n_scan) * 0.34)
    n_glob = n_patterns - n_scan - n_regex
    mappings: dict[str, list[str]] = {}
    departments = [f"{_word(rnd, 3, 8)}{i}" for i in range(max(10, rules // 20))]
    while len(mappings) < n_exact:
        mappings[f"airflow-{rnd.choice(departments)}-{_word(rnd, 2, 6)}"] = [rnd.choice(ROLES[2:])]
    globs = 0
    while globs < n_glob:
        key = f"{rnd.choice(['airflow', 'team', 'app'])}-{rnd.choice(departments)}-{_word(rnd, 1, 4)}*"
        if key not in mappings:
            mappings[key] = [rnd.choice(("User", "Viewer"))]
            globs += 1
    regexes = 0
    while regexes < n_regex:
        key = f"re:^data-{rnd.choice(departments)}-{_word(rnd, 2, 4)}-(dev|stage|prod)-[0-9]{{1,3}}$"
        if key not in mappings:
            mappings[key] = [rnd.choice(("User", "Viewer"))]
            regexes += 1
    scans = 0
    while scans < n_scan:
        dept = rnd.choice(departments)
        key = f"*-{dept}-{_word(rnd, 2, 5)}" if scans % 2 else f"re:.*-{dept}-{_word(rnd, 2, 4)}-.*"
        if key not in mappings:
            mappings[key] = ["Viewer"]
            scans += 1
    text = yaml.safe_dump({"default_role": None, "mappings": mappings}, sort_keys=False)
    exact_names = [key for key in mappings if not key.startswith("re:") and "*" not in key]
    # The org's other groups (other apps, teams, distribution lists), some with look-alike prefixes;
    # users share them, as in a real directory, so the same names come back login after login.
    org: set[str] = set()
    while len(org) < ORG_GROUPS_PER_USER_GROUP * groups:
        prefix = rnd.choice(["app", "okta", "airflow", "team", "data", "dept", "sso"])
        org.add(f"{prefix}-{_word(rnd, 3, 9)}-{rnd.randint(0, 99999)}")
    org_groups = sorted(org)
    user_groups = []
    for _ in range(users):
        own: set[str] = set(rnd.sample(exact_names, 5))  # a few groups that map
        own.add(f"team-{rnd.choice(departments)}-{_word(rnd, 4, 8)}")  # may hit a glob
        own.add(f"data-{rnd.choice(departments)}-{_word(rnd, 2, 4)}-prod-{rnd.randint(0, 999)}")  # may hit a regex
        own.update(rnd.sample(org_groups, groups - len(own)))
        user_groups.append(sorted(own))
    mix = {"exact": n_exact, "glob": n_glob + n_scan // 2 + n_scan % 2, "regex": n_regex + n_scan // 2}
    return Workload(name, text, user_groups, mix)


FIRST_LOGINS = 10  # freshly compiled versions timed on their first login


def fresh(mapping: RoleMapping) -> RoleMapping:
    """Return a newly compiled copy of ``mapping`` (nothing memoised, RE2's automaton empty)."""
    return RoleMapping(
        rules=mapping.rules, default_role=mapping.default_role, source=mapping.source, digest=mapping.digest
    )


def naive_resolve(mapping: RoleMapping, groups: Sequence[str]) -> frozenset[str]:
    """The baseline: try every rule on every group."""
    roles: set[str] = set()
    for group in groups:
        for rule in mapping.rules:
            if rule.matches(group):
                roles.update(rule.roles)
    if not roles and mapping.default_role is not None:
        return frozenset((mapping.default_role,))
    return frozenset(roles)


def _time_each(calls: Sequence[Callable[[], object]]) -> list[float]:
    """Return the duration of each call in milliseconds."""
    durations = []
    for call in calls:
        start = time.perf_counter()
        call()
        durations.append((time.perf_counter() - start) * 1000)
    return durations


def run(workload: Workload, *, naive_users: int) -> dict[str, object]:
    """Measure one workload; return its figures."""
    start = time.perf_counter()
    mapping = parse_mapping(workload.mapping_text, source=f"bench-{workload.name}.yaml")
    parse_ms = (time.perf_counter() - start) * 1000
    # Cold: the version forgets the group names it has matched before each user, so nothing this
    # user has is memoised (RE2's automaton, built as names come, is kept: it belongs to the version).
    first = [_time_each([lambda g=groups: fresh(mapping).resolve(g)])[0] for groups in workload.users[:FIRST_LOGINS]]
    cold_results: list[frozenset[str]] = []

    def cold_resolve(groups: Sequence[str]) -> None:
        mapping._index._memo.clear()
        cold_results.append(mapping.resolve(groups))

    cold = _time_each([lambda g=groups: cold_resolve(g) for groups in workload.users])
    for groups in workload.users:  # prime the shared mapping, then time it warm
        mapping.resolve(groups)
    warm = _time_each([lambda g=groups: mapping.resolve(g) for groups in workload.users])
    sample = workload.users[:naive_users]
    naive_results: list[frozenset[str]] = []
    naive = _time_each([lambda g=groups: naive_results.append(naive_resolve(mapping, g)) for groups in sample])
    if cold_results[: len(sample)] != naive_results:
        raise AssertionError(f"{workload.name}: the pattern set and the naive loop disagree")
    cold_ms, warm_ms, naive_ms = statistics.median(cold), statistics.median(warm), statistics.median(naive)
    return {
        "workload": workload.name,
        "rules": len(mapping.rules),
        "rule_mix": workload.rule_mix,
        "groups_per_user": len(workload.users[0]),
        "users": len(workload.users),
        "roles_per_user_median": statistics.median(len(r) for r in cold_results),
        "parse_and_compile_ms": round(parse_ms, 1),
        "first_login_after_reload_ms_median": round(statistics.median(first), 3),
        "cold_ms_median": round(cold_ms, 3),
        "cold_ms_p95": round(_p95(cold), 3),
        "warm_ms_median": round(warm_ms, 3),
        "naive_ms_median": round(naive_ms, 2),
        "naive_users_timed": len(sample),
        "speedup_cold": round(naive_ms / cold_ms, 1),
        "speedup_warm": round(naive_ms / warm_ms, 1),
        "meets_target_cold": cold_ms < TARGET_MS,
    }


PATHOLOGICAL = "([a-z0-9]+-?)+-admins"  # nested quantifiers: exponential for a backtracking engine


def hostile_name(length: int) -> str:
    """Return a group name that almost matches PATHOLOGICAL, so a backtracking engine tries every split."""
    return "a" * length + "-admins!"


def pathological(*, max_backtracking_length: int) -> list[dict[str, object]]:
    """Time one hostile group through resolve() (RE2) and through Python's re, in the same run."""
    import re

    mapping = parse_mapping(f'mappings:\n  "re:{PATHOLOGICAL}": [Admin]\n', source="bench-pathological.yaml")
    backtracking = re.compile(PATHOLOGICAL)
    rows: list[dict[str, object]] = []
    for length in (12, 14, 16, 18, 20, 24, 1_000, 100_000):
        name = hostile_name(length)
        compiled = fresh(mapping)
        [linear_ms] = _time_each([lambda m=compiled, n=name: m.resolve([n])])
        row: dict[str, object] = {"length": len(name), "re2_resolve_ms": round(linear_ms, 3), "stdlib_re_ms": None}
        if length <= max_backtracking_length:
            [stdlib_ms] = _time_each([lambda n=name: backtracking.fullmatch(n)])
            row["stdlib_re_ms"] = round(stdlib_ms, 1)
        rows.append(row)
    return rows


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=1000, help="groups per user")
    parser.add_argument("--users", type=int, default=200, help="users (evaluations) per measurement")
    parser.add_argument("--naive-users", type=int, default=20, help="users timed with the naive loop (it is slow)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--max-backtracking-length",
        type=int,
        default=18,
        help="longest hostile name timed with Python's re (18: about a second; 24: about a minute)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = []
    for name in ("typical", "scan-heavy"):
        workload = build_workload(name, rules=args.rules, groups=args.groups, users=args.users, seed=args.seed)
        results.append(run(workload, naive_users=min(args.naive_users, args.users)))
    hostile = pathological(max_backtracking_length=args.max_backtracking_length)
    if args.json:
        print(
            json.dumps(
                {
                    "python": platform.python_version(),
                    "target_ms": TARGET_MS,
                    "results": results,
                    "pathological": {"pattern": f"re:{PATHOLOGICAL}", "rows": hostile},
                },
                indent=2,
            )
        )
        return 0
    print(f"Role mapping: {args.groups} groups per user x {args.rules} rules (Python {platform.python_version()})")
    print(
        f"{'workload':<11} {'rules exact/glob/regex':<23} {'cold ms':>8} {'p95':>7} {'warm ms':>8} "
        f"{'naive ms':>9} {'x cold':>7} {'x warm':>7}"
    )
    for r in results:
        mix = r["rule_mix"]
        filed = "/".join(str(mix[k]) for k in ("exact", "glob", "regex"))  # type: ignore[index]
        print(
            f"{r['workload']:<11} {filed:<23} {r['cold_ms_median']:>8} {r['cold_ms_p95']:>7} {r['warm_ms_median']:>8} "
            f"{r['naive_ms_median']:>9} {r['speedup_cold']:>7} {r['speedup_warm']:>7}"
        )
    for r in results:
        verdict = "meets" if r["meets_target_cold"] else "MISSES"
        print(
            f"{r['workload']}: cold evaluation {r['cold_ms_median']} ms (median of {r['users']}) {verdict} the "
            f"{TARGET_MS} ms target; {r['speedup_cold']}x faster than the naive loop measured in the same run "
            f"({r['naive_ms_median']} ms, {r['naive_users_timed']} users); parse+compile {r['parse_and_compile_ms']} ms; "
            f"first login on a freshly compiled version {r['first_login_after_reload_ms_median']} ms"
        )
    print(f"\nOne hostile group against re:{PATHOLOGICAL} (name = 'a' * n + '-admins!'):")
    print(f"{'name length':>11} {'RE2 resolve() ms':>17} {'Python re ms':>13}")
    for row in hostile:
        stdlib = "(not timed)" if row["stdlib_re_ms"] is None else row["stdlib_re_ms"]
        print(f"{row['length']:>11} {row['re2_resolve_ms']:>17} {stdlib:>13}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
