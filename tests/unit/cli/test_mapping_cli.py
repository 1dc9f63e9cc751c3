"""Tests for ``okta-airflow check-mapping`` and ``explain`` (sync-roles needs Airflow: tests/integration)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from okta_security.adapter import role_sync
from okta_security.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main
from okta_security.cli.mapping import EXIT_WARNINGS, mapping_path, parse_groups

if TYPE_CHECKING:
    from pathlib import Path

CLEAN = """\
default_role: null
mappings:
  airflow-admins: [Admin]
  airflow-viewers: [Viewer]
  "airflow-team-*": [User]
"""
WARNING = CLEAN + '  "ops-*": [Op]\n'
INVALID = CLEAN + "  airflow-ops: [Opp]\n  airflow-ops: [Op]\n"
TEAMS = """\
roles:
  team-finance:
    based_on: Viewer
    dags:
      "finance_*": [can_read]
      "hr_*": [can_read]
mappings:
  airflow-team-finance: [team-finance]
  airflow-custom: [Custom]
"""


def write(tmp_path: Path, text: str, name: str = "mapping.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def airflow_db(tmp_path: Path) -> str:
    """A database with Airflow's two tables check-mapping reads (ab_role, dag), via plain SQL."""
    url = f"sqlite:///{tmp_path / 'airflow.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE ab_role (id INTEGER PRIMARY KEY, name VARCHAR(64) UNIQUE)"))
        conn.execute(sa.text("CREATE TABLE dag (dag_id VARCHAR(250) PRIMARY KEY)"))
        for name in ("Admin", "Op", "User", "Viewer", "Public", "Custom"):
            conn.execute(sa.text("INSERT INTO ab_role (name) VALUES (:n)"), {"n": name})
        for dag_id in ("finance_daily", "marketing"):
            conn.execute(sa.text("INSERT INTO dag (dag_id) VALUES (:d)"), {"d": dag_id})
    engine.dispose()
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- check-mapping


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CLEAN, EXIT_OK),
        (WARNING, EXIT_WARNINGS),
        (INVALID, EXIT_FAILURE),
        (CLEAN + "default_role: Viewer\n", EXIT_FAILURE),
    ],
)
def test_check_mapping_exit_codes(tmp_path, capsys, text: str, expected: int) -> None:
    """Exit 0 clean, 1 errors, 3 warnings only."""
    code, out, _err = run(capsys, "check-mapping", write(tmp_path, text), "--no-db")
    assert code == expected, out


def test_check_mapping_reports_every_error_with_its_line(tmp_path, capsys) -> None:
    """Print each problem as file:line: severity: message — fix, and a verdict."""
    path = write(tmp_path, INVALID)
    code, out, _err = run(capsys, "check-mapping", path, "--no-db")
    assert code == EXIT_FAILURE
    assert f"{path}:7: error: duplicate key 'airflow-ops' (first at line 6)" in out
    assert f"{path}: INVALID — 1 error(s)" in out
    assert "role names NOT checked against Airflow's database (--no-db)" in out


def test_check_mapping_reports_a_regex_the_linear_engine_cannot_run(tmp_path, capsys) -> None:
    """Name file, line and the construct of a ``re:`` key RE2 cannot compile (here a backreference)."""
    path = write(tmp_path, CLEAN + '  "re:(eng|ops)-\\\\1": [Op]\n')
    code, out, _err = run(capsys, "check-mapping", path, "--no-db")
    assert code == EXIT_FAILURE, out
    assert f"{path}:6: error: regular expression '(eng|ops)-\\\\1' cannot be matched in linear time" in out
    assert "backreference" in out


def test_check_mapping_warnings_name_the_rule(tmp_path, capsys) -> None:
    """Warn about a pattern that grants Op, naming it."""
    path = write(tmp_path, WARNING)
    code, out, _err = run(capsys, "check-mapping", path, "--no-db")
    assert code == EXIT_WARNINGS
    assert f"{path}:6: warning: pattern 'ops-*' grants 'Op'" in out
    assert "[broad_privileged_grant]" in out
    assert "valid, with warnings" in out


def test_check_mapping_json(tmp_path, capsys) -> None:
    """Print one JSON document for CI with the findings, the summary and the exit code."""
    path = write(tmp_path, WARNING)
    code, out, _err = run(capsys, "check-mapping", path, "--no-db", "--json")
    report = json.loads(out)
    assert code == EXIT_WARNINGS == report["exit_code"]
    assert report["ok"] is False
    assert report["summary"] == {"error": 0, "warning": 1, "info": 0}
    assert report["database"] == {
        "checked": False,
        "note": "role names NOT checked against Airflow's database (--no-db)",
        "roles": None,
        "dags": None,
    }
    (finding,) = report["findings"]
    assert finding["code"] == "broad_privileged_grant"
    assert finding["line"] == 6
    assert len(report["version"]) == 12


def test_check_mapping_checks_roles_and_dags_in_the_database(tmp_path, capsys, airflow_db) -> None:
    """Know the database's roles (custom ones too), refuse unknown ones, and lint DAG patterns."""
    path = write(tmp_path, TEAMS + "  airflow-x: [Nobody]\n")
    code, out, _err = run(capsys, "check-mapping", path, "--db-url", airflow_db)
    assert code == EXIT_FAILURE
    assert f"{path}:10: error: unknown role 'Nobody'" in out
    assert "'Custom'" not in out.split("error:")[1]  # a custom role from the database is known
    assert f"{path}:6: warning: role 'team-finance': DAG pattern 'hr_*' matches none of the 2 DAGs" in out
    assert "role names checked against Airflow's database (6 roles, 2 DAGs; from --db-url)" in out


def test_check_mapping_without_the_database_knows_only_what_it_can(tmp_path, capsys) -> None:
    """Without a database, a custom role can't be checked: say so, don't fail."""
    code, out, _err = run(capsys, "check-mapping", write(tmp_path, TEAMS), "--no-db")
    assert code == EXIT_OK, out


def test_check_mapping_says_when_the_database_is_unreachable(tmp_path, capsys) -> None:
    """Name the reason, never the URL; exit on the file's merits unless --require-db."""
    path = write(tmp_path, CLEAN)
    url = "postgresql+psycopg2://secret-user:secret-pass@127.0.0.1:1/airflow"
    code, out, _err = run(capsys, "check-mapping", path, "--db-url", url)
    assert code == EXIT_OK
    assert "role names NOT checked: cannot read Airflow's database" in out
    assert "secret-pass" not in out
    code, out, _err = run(capsys, "check-mapping", path, "--db-url", url, "--require-db")
    assert code == EXIT_FAILURE
    assert "[database_unreachable]" in out


def test_check_mapping_without_airflow_installed(tmp_path, capsys, monkeypatch) -> None:
    """Say that Airflow is not installed and how to check anyway."""

    def no_airflow() -> str:
        raise ImportError("No module named 'airflow'")

    monkeypatch.setattr(role_sync, "airflow_database_url", no_airflow)
    code, out, _err = run(capsys, "check-mapping", write(tmp_path, CLEAN))
    assert code == EXIT_OK
    assert "Airflow is not installed here (pass --db-url URL)" in out


def test_check_mapping_lints_even_when_role_names_are_wrong(tmp_path, capsys, airflow_db) -> None:
    """Report the unknown role and the warnings together."""
    code, out, _err = run(capsys, "check-mapping", write(tmp_path, WARNING + "  x: [Nobody]\n"), "--db-url", airflow_db)
    assert code == EXIT_FAILURE
    assert "unknown role 'Nobody'" in out
    assert "broad_privileged_grant" in out


def test_check_mapping_missing_file(tmp_path, capsys) -> None:
    """Exit 1 naming the file."""
    path = str(tmp_path / "nope.yaml")
    code, out, _err = run(capsys, "check-mapping", path, "--no-db")
    assert code == EXIT_FAILURE
    assert f"{path}:1: error: cannot read the role-mapping file" in out


def test_check_mapping_db_options_are_exclusive(tmp_path, capsys) -> None:
    """--db-url and --no-db together are a usage error."""
    with pytest.raises(SystemExit) as info:
        main(["check-mapping", write(tmp_path, CLEAN), "--no-db", "--db-url", "sqlite://"])
    assert info.value.code == EXIT_USAGE


@pytest.mark.parametrize(
    ("arg", "env", "expected"),
    [
        ("given.yaml", {"OKTA_ROLE_MAPPING_FILE": "/env.yaml"}, "given.yaml"),
        (None, {"OKTA_ROLE_MAPPING_FILE": "/env.yaml", "AIRFLOW_HOME": "/af"}, "/env.yaml"),
        (None, {"AIRFLOW_HOME": "/af"}, "/af/okta_role_mapping.yaml"),
    ],
)
def test_mapping_path(arg: str | None, env: dict[str, str], expected: str) -> None:
    """Default to the file the webserver reads."""
    assert mapping_path(arg, env) == expected


# --------------------------------------------------------------------------- explain

EXPLAIN = """\
default_role: null
roles:
  team-finance: {based_on: Viewer, dags: {"finance_*": [can_read]}}
mappings:
  airflow-admins: [Admin]
  "airflow-team-*": [User]
  airflow-team-finance: [team-finance]
"""


def test_explain_lists_matches_and_roles(tmp_path, capsys) -> None:
    """Show which rule matched which group, and the union of roles."""
    path = write(tmp_path, EXPLAIN)
    code, out, _err = run(capsys, "explain", "--no-db", "--groups", "airflow-team-finance, marketing", path)
    assert code == EXIT_OK
    assert "airflow-team-finance  <- line 6: 'airflow-team-*' (glob) grants User" in out
    assert "airflow-team-finance  <- line 7: 'airflow-team-finance' (exact) grants team-finance" in out
    assert "no rule matches: marketing" in out
    assert "Result: roles User, team-finance" in out
    assert "team-finance is declared in the file: based on Viewer; DAGs: finance_*" in out


def test_explain_refusal(tmp_path, capsys) -> None:
    """Say the login would be refused, with the refusal code."""
    code, out, _err = run(capsys, "explain", "--no-db", "--groups", "marketing,Everyone", write(tmp_path, EXPLAIN))
    assert code == EXIT_OK
    assert "Result: login REFUSED [no_mapped_role]" in out


def test_explain_default_role(tmp_path, capsys) -> None:
    """Say when the default role applies."""
    path = write(tmp_path, EXPLAIN.replace("default_role: null", "default_role: Viewer"))
    code, out, _err = run(capsys, "explain", "--no-db", "--groups", "marketing", path)
    assert "Result: roles Viewer (default_role: no group matches a rule)" in out


def test_explain_json(tmp_path, capsys) -> None:
    """Return the explanation as data."""
    code, out, _err = run(
        capsys, "explain", "--no-db", "--group", "a,b", "--groups", "airflow-admins", write(tmp_path, EXPLAIN), "--json"
    )
    data = json.loads(out)
    assert data["groups"] == ["airflow-admins", "a,b"]
    assert data["matches"] == [
        {"group": "airflow-admins", "rule": "airflow-admins", "kind": "exact", "line": 5, "roles": ["Admin"]}
    ]
    assert data["unmatched_groups"] == ["a,b"]
    assert (data["roles"], data["refused"], data["refusal_code"]) == (["Admin"], False, None)


def test_explain_applies_the_groups_filter(tmp_path, capsys, monkeypatch) -> None:
    """Drop groups the webserver's OKTA_GROUPS_FILTER would drop, and say so."""
    monkeypatch.setenv("OKTA_GROUPS_FILTER", "airflow-team-")
    code, out, _err = run(
        capsys, "explain", "--no-db", "--groups", "airflow-admins,airflow-team-x", write(tmp_path, EXPLAIN)
    )
    assert "Ignored by the groups filter (prefix 'airflow-team-'): airflow-admins" in out
    assert "Result: roles User" in out
    code, out, _err = run(
        capsys, "explain", "--no-db", "--groups", "airflow-admins", "--groups-filter", "", write(tmp_path, EXPLAIN)
    )
    assert "Result: roles Admin" in out


def test_explain_bad_groups_filter_is_a_usage_error(tmp_path, capsys) -> None:
    """Reject an invalid filter regex with exit code 2."""
    code, _out, err = run(
        capsys, "explain", "--no-db", "--groups", "a", "--groups-filter", "re:(", write(tmp_path, EXPLAIN)
    )
    assert code == EXIT_USAGE
    assert "--groups-filter" in err


def test_explain_invalid_file(tmp_path, capsys) -> None:
    """Exit 1 and list the problems on stderr."""
    path = write(tmp_path, INVALID)
    code, out, err = run(capsys, "explain", "--no-db", "--groups", "a", path)
    assert code == EXIT_FAILURE
    assert "duplicate key 'airflow-ops'" in err
    assert "keep its last good version" in err
    assert "Result:" not in out


def test_explain_refuses_a_role_airflow_does_not_have(tmp_path, capsys, airflow_db) -> None:
    """A file the webserver rejects (unknown role 'Viewr') is reported and explains nothing."""
    path = write(tmp_path, "default_role: null\nmappings:\n  airflow-viewers: [Viewr]\n")
    code, out, err = run(capsys, "explain", "--groups", "airflow-viewers", "--db-url", airflow_db, path)
    assert code == EXIT_FAILURE
    assert f"{path}:3: error: unknown role 'Viewr'" in err
    assert "[invalid_mapping]" in err
    assert "Result:" not in out
    assert "Viewr" not in out


def test_explain_says_whether_role_names_were_checked(tmp_path, capsys, airflow_db) -> None:
    path = write(tmp_path, CLEAN)
    code, out, _err = run(capsys, "explain", "--groups", "airflow-viewers", "--db-url", airflow_db, path)
    assert code == EXIT_OK
    assert "Result: roles Viewer" in out
    assert "Role names checked against Airflow's database (6 roles, 2 DAGs; from --db-url)" in out
    code, out, _err = run(capsys, "explain", "--groups", "airflow-viewers", "--no-db", path, "--json")
    assert json.loads(out)["database"] == {
        "checked": False,
        "note": "role names NOT checked against Airflow's database (--no-db)",
    }


@pytest.mark.parametrize(
    "text",
    [CLEAN, WARNING, INVALID, TEAMS, TEAMS + "  airflow-x: [Nobody]\n", CLEAN + "  x: [Viewr]\n", "mappings: [\n"],
)
def test_explain_fails_exactly_when_check_mapping_finds_errors(tmp_path, capsys, airflow_db, text: str) -> None:
    """One validation for both commands: explain exits 1 if and only if check-mapping does."""
    path = write(tmp_path, text)
    checked, _out, _err = run(capsys, "check-mapping", path, "--db-url", airflow_db)
    explained, _out, _err = run(capsys, "explain", "--groups", "airflow-admins", path, "--db-url", airflow_db)
    assert (explained == EXIT_FAILURE) is (checked == EXIT_FAILURE)


@pytest.mark.parametrize(
    ("groups", "extra", "expected"),
    [("a, b ,,c", [], ["a", "b", "c"]), ("a,a", ["a", "x,y"], ["a", "x,y"]), ("", [], [])],
)
def test_parse_groups(groups: str, extra: list[str], expected: list[str]) -> None:
    """Split, trim and de-duplicate group names."""
    assert parse_groups(groups, extra) == expected


STEP_UP = """\
mappings:
  airflow-admins: [Admin]
  airflow-viewers: [Viewer]
step_up:
  roles: [Admin, Op]
  max_age_minutes: 30
"""


def test_check_mapping_and_explain_show_step_up_roles(tmp_path, capsys) -> None:
    path = write(tmp_path, STEP_UP)
    code, out, _err = run(capsys, "check-mapping", "--no-db", path)
    assert code == EXIT_WARNINGS
    assert "'Admin' needs a multi-factor sign-in of at most 30 minutes ago" in out
    assert "[step_up_role]" in out
    assert (
        "'Op' needs a multi-factor sign-in of at most 30 minutes ago (amr, auth_time), but no mapping grants it" in out
    )
    code, out, _err = run(capsys, "explain", "--no-db", "--groups", "airflow-admins,airflow-viewers", path)
    assert "step-up: Admin only with a multi-factor sign-in of at most 30 minutes ago; without one: Viewer" in out
    code, out, _err = run(capsys, "explain", "--no-db", "--json", "--groups", "airflow-admins", path)
    data = json.loads(out)
    assert (data["step_up_roles"], data["step_up_max_age_minutes"]) == (["Admin"], 30)
    _code, out, _err = run(capsys, "explain", "--no-db", "--groups", "airflow-admins", path)
    assert "without one: refused [step_up_required], offered the step-up" in out


AGENTS = """\
mappings:
  airflow-admins: [Admin]
  airflow-viewers: [Viewer]
  "airflow-team-*": [User]
agents:
  0oa8f5j3ecb5w3dF85d7:
    name: assistant
    roles: [Viewer, "Us*"]
  0oa8admin00000000000: [Admin]
  0oa8typo000000000000: ["team-*"]
"""


@pytest.mark.parametrize(
    ("groups", "agent", "expected"),
    [
        (
            "airflow-admins,airflow-team-x",
            "0oa8f5j3ecb5w3dF85d7",
            [
                "Result: roles Admin, User",
                "Agent 'assistant' (0oa8f5j3ecb5w3dF85d7), line 6, may use: Viewer, Us*",
                "Result for the agent: roles User (the person's roles it may use)",
            ],
        ),
        (
            "airflow-admins",
            "0oa8f5j3ecb5w3dF85d7",
            [
                "Result: roles Admin",
                "Result for the agent: REFUSED [agent_no_common_role] — The AI agent 'assistant' "
                "(0oa8f5j3ecb5w3dF85d7) may use only the roles Viewer, Us* for a person, and this person has none "
                "of them (their roles: Admin).",
            ],
        ),
        (
            "airflow-viewers",
            "0oa8stranger00000000",
            [
                "Agent '0oa8stranger00000000': not under 'agents:'",
                "Result for the agent: REFUSED [agent_not_mapped] — The AI agent with Okta client ID "
                "'0oa8stranger00000000' may not act for people in Airflow",
            ],
        ),
    ],
)
def test_explain_agent(tmp_path, capsys, groups: str, agent: str, expected: list[str]) -> None:
    """Show the person's roles, the agent's patterns, and what it may use for the person (or why not)."""
    code, out, _err = run(capsys, "explain", "--no-db", "--groups", groups, "--agent", agent, write(tmp_path, AGENTS))
    assert code == EXIT_OK
    for line in expected:
        assert line in out, out


def test_explain_agent_json(tmp_path, capsys) -> None:
    path = write(tmp_path, AGENTS)
    argv = ("explain", "--no-db", "--json", "--groups", "airflow-team-a,airflow-admins", path, "--agent")
    _code, out, _err = run(capsys, *argv, "0oa8admin00000000000")
    assert json.loads(out)["agent"] == {
        "client_id": "0oa8admin00000000000",
        "name": "0oa8admin00000000000",
        "label": "'0oa8admin00000000000'",
        "line": 9,
        "allowed": ["Admin"],
        "roles": ["Admin"],
        "refused": False,
        "refusal_code": None,
        "refusal_message": None,
    }
    _code, out, _err = run(capsys, *argv, "stranger")
    agent = json.loads(out)["agent"]
    assert (agent["refused"], agent["refusal_code"], agent["line"], agent["roles"]) == (
        True,
        "agent_not_mapped",
        None,
        [],
    )
    _code, out, _err = run(capsys, "explain", "--no-db", "--json", "--groups", "airflow-admins", path)
    assert "agent" not in json.loads(out)  # no --agent, no agent part


def test_check_mapping_lints_agents(tmp_path, capsys) -> None:
    code, out, _err = run(capsys, "check-mapping", "--no-db", write(tmp_path, AGENTS))
    assert code == EXIT_WARNINGS
    assert ":9: warning: agent '0oa8admin00000000000' may use the privileged role(s) 'Admin'" in out
    assert "[agent_privileged_role]" in out
    assert ":10: warning: agent '0oa8typo000000000000' is allowed 'team-*', which matches no role" in out
    code, _out, err = run(
        capsys, "explain", "--no-db", "--groups", "a", write(tmp_path, AGENTS + '  0oa8bad: ["re:(a"]\n', "bad.yaml")
    )
    assert code == EXIT_FAILURE
    assert "bad.yaml:11: error: invalid regular expression '(a'" in err
