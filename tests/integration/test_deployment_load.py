"""The short run of bench/bench_replicas.py: two replicas behind a round-robin proxy, logins, bots, hooks, edits.

100 logins of 20 people over 30 s (with 2 leavers, 4 movers, 20 bot exchanges and two mapping
edits), then every correctness check of the benchmark: no 5xx, one account per person, roles as
the final groups map, leavers inactive, audit rows accounted for. About 90 s on 2 cores.
"""

from __future__ import annotations

import pytest

from bench.bench_replicas import Plan, report, run

pytestmark = pytest.mark.integration

SHORT = Plan(logins=100, users=20, duration=30, concurrency=6, bot_exchanges=20, leavers=2, movers=4)


def test_two_replicas_under_load_end_in_the_state_okta_describes() -> None:
    figures = run(SHORT, progress=False)
    summary = report(figures)
    failed = [name for name, check in figures["checks"].items() if not check["ok"]]
    assert not failed, summary
    assert figures["errors"] == 0, summary
    # Every login was signed in, but for any queued for a leaver just before they left.
    assert figures["logins_signed_in"] + figures["logins_skipped"] == SHORT.logins, summary
    assert len(figures["callbacks_per_replica"]) == 2, summary  # both replicas finished logins
