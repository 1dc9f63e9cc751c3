"""``okta-airflow sync-users``: exit codes, plan and summary output, progress (runner replaced by a fixed report)."""

from __future__ import annotations

import argparse
import io
import json
from typing import Any

import pytest

from okta_security.adapter import user_sync_runner
from okta_security.adapter.account_changes import AppliedChange
from okta_security.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main
from okta_security.cli.sync_users import EXIT_CHANGED, EXIT_GUARD, Progress, _run, print_plan, print_summary
from okta_security.errors import TooManyDeactivations
from okta_security.lifecycle.changes import UserSyncReport
from okta_security.lifecycle.user_sync import AirflowAccount, OktaSnapshot, plan_sync
from okta_security.mapping.rules import parse_mapping

MAPPING = parse_mapping("default_role: null\nmappings:\n  airflow-ops: [Op]\n  airflow-viewers: [Viewer]\n", source="m")
ACCOUNTS = [
    AirflowAccount(1, "alice", "00u1", True, frozenset({"Op"})),
    AirflowAccount(2, "bob", "00u2", True, frozenset({"Op"})),
    AirflowAccount(3, "carol", "00u3", True, frozenset({"Op"})),
]


def report(*, okta: OktaSnapshot, dry_run: bool = False, outcome: str = "applied") -> UserSyncReport:
    plan = plan_sync(ACCOUNTS, okta, MAPPING, unmanaged=1)
    results = [] if dry_run else [AppliedChange(c, outcome) for c in plan.changes]  # type: ignore[arg-type]
    return UserSyncReport(plan=plan, dry_run=dry_run, okta_calls=7, seconds=0.5, results=results)


IN_SYNC = OktaSnapshot(
    statuses={s: "ACTIVE" for s in ("00u1", "00u2", "00u3")},
    groups={s: frozenset({"airflow-ops"}) for s in ("00u1", "00u2", "00u3")},
)
CHANGED = OktaSnapshot(
    statuses={"00u1": "ACTIVE", "00u2": "SUSPENDED", "00u3": "ACTIVE"},
    groups={"00u1": frozenset({"airflow-ops"}), "00u3": frozenset({"airflow-viewers"})},
)


def args(**kw: Any) -> argparse.Namespace:
    base = {
        "dry_run": False,
        "json": False,
        "force": False,
        "max_deactivations": None,
        "strategy": "auto",
        "no_progress": True,
    }
    return argparse.Namespace(**{**base, **kw})


@pytest.fixture
def fake_runner(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {}

    def run_from_env(**kwargs: Any) -> UserSyncReport:
        state["kwargs"] = kwargs
        if isinstance(state.get("result"), Exception):
            raise state["result"]
        return state["result"]

    monkeypatch.setattr(user_sync_runner, "run_from_env", run_from_env)
    return state


@pytest.mark.parametrize(
    ("result", "code"),
    [
        (report(okta=IN_SYNC), EXIT_OK),
        (report(okta=CHANGED), EXIT_CHANGED),
        (report(okta=CHANGED, dry_run=True), EXIT_CHANGED),
        (report(okta=CHANGED, outcome="failed"), EXIT_FAILURE),
        (report(okta=CHANGED, outcome="conflict"), EXIT_CHANGED),
        (TooManyDeactivations("too many"), EXIT_GUARD),
    ],
)
def test_exit_codes(fake_runner: dict[str, Any], result: Any, code: int, capsys: pytest.CaptureFixture[str]):
    fake_runner["result"] = result
    assert _run(args(), io.StringIO()) == code


def test_json_report_goes_to_the_report_stream_and_summary_to_stderr(
    fake_runner: dict[str, Any], capsys: pytest.CaptureFixture[str]
):
    fake_runner["result"] = report(okta=CHANGED)
    out = io.StringIO()
    _run(args(json=True, max_deactivations=5, strategy="list"), out)
    data = json.loads(out.getvalue())
    assert data["summary"]["deactivate"] == 1
    assert data["summary"]["set_roles"] == 1
    assert {e["username"]: e.get("outcome") for e in data["entries"]} == {
        "alice": None,
        "bob": "applied",
        "carol": "applied",
    }
    assert "sync-users: 2 change(s) applied" in capsys.readouterr().err
    assert fake_runner["kwargs"]["max_deactivations"] == 5
    assert fake_runner["kwargs"]["strategy"] == "list"


def test_plan_lines_name_each_change():
    out = io.StringIO()
    print_plan(report(okta=CHANGED, dry_run=True), out)
    lines = out.getvalue().splitlines()
    assert lines == [
        "would deactivate     bob (okta SUSPENDED, okta_suspended)",
        "would set_roles      carol (okta ACTIVE, groups_changed) roles ['Op'] -> ['Viewer']",
    ]


def test_summary_counts():
    out = io.StringIO()
    print_summary(report(okta=CHANGED), out)
    text = out.getvalue()
    assert "3 Okta account(s): 1 to deactivate, 0 to reactivate, 1 with new roles, 1 unchanged" in text
    assert "1 Airflow user(s) not from Okta left alone; 7 Okta API call(s)" in text


def test_negative_limit_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    assert main(["sync-users", "--max-deactivations", "-1"]) == EXIT_USAGE
    assert "--max-deactivations" in capsys.readouterr().err


def test_progress_is_silent_off_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream, enabled=True)
    progress.fetch("listing Okta users", 3, 600)
    progress.apply(1, 2)
    progress.done()
    assert stream.getvalue() == ""


def test_progress_on_a_terminal_redraws_one_line():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    progress = Progress(stream, enabled=True)
    progress.fetch("listing Okta users", 3, 600)
    progress.apply(1, 2)
    progress.done()
    assert "\rlisting Okta users: page 3, 600 objects" in stream.getvalue()
    assert "applying [###############...............] 1/2" in stream.getvalue()
    assert "\n" not in stream.getvalue()
