"""Tests for okta_security.mapping.lint: one table row per rule, plus the messages and error conversion."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from okta_security.errors import MappingError
from okta_security.mapping.lint import FINDINGS, Finding, findings_from_error, lint
from okta_security.mapping.rules import parse_mapping
from okta_security.mapping.store import load_mapping

SOURCE = "role_mapping.yaml"
EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "role_mapping.yaml"


def codes(text: str, dag_ids: list[str] | None = None) -> set[tuple[str, int]]:
    """Return (code, line) of every finding."""
    mapping = parse_mapping(textwrap.dedent(text), source=SOURCE)
    return {(f.code, f.line) for f in lint(mapping, dag_ids=dag_ids)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # broad grants of privileged roles
        ('mappings:\n  "airflow-admin-*": [Admin]\n', {("broad_privileged_grant", 2)}),
        ('mappings:\n  "re:^ops-.*$": [Viewer, Op]\n', {("broad_privileged_grant", 2)}),
        ("mappings:\n  airflow-admins: [Admin]\n", set()),  # exact names are fine
        ('mappings:\n  "team-*": [User]\n', set()),  # least privilege via a pattern is fine
        (
            'roles:\n  power: {based_on: Op}\nmappings:\n  "power-*": [power]\n',
            {("broad_privileged_grant", 4)},
        ),
        # Okta's Everyone group
        ('mappings:\n  "*": [Viewer]\n', {("matches_everyone", 2)}),
        ("mappings:\n  Everyone: [Viewer]\n", {("matches_everyone", 2)}),
        ('mappings:\n  "re:E.*": [Admin]\n', {("matches_everyone", 2), ("broad_privileged_grant", 2)}),
        # default role
        ("default_role: Admin\nmappings: {}\n", {("privileged_default_role", 1)}),
        ("mappings: {}\ndefault_role: Viewer\n", {("default_role_set", 2)}),
        # shadowed rules
        ('mappings:\n  "airflow-*": [User]\n  airflow-team-x: [User]\n', {("shadowed_rule", 3)}),
        ('mappings:\n  airflow-team-x: [User]\n  "airflow-*": [User]\n', {("shadowed_rule", 2)}),
        ('mappings:\n  "airflow-*": [User]\n  airflow-team-x: [User, Op]\n', set()),  # grants more
        ('mappings:\n  "airflow-*": [Viewer]\n  airflow-team-x: [User]\n', set()),
        # a glob or a regex that can match many names is not compared with others (no regex engine of ours)
        ('mappings:\n  "airflow-*": [User]\n  "airflow-team-*": [User]\n', set()),
        ('mappings:\n  "a-*": [User]\n  "b-*": [User]\n  "re:^(a|b)-x$": [User]\n', set()),
        ('mappings:\n  "x-*": [User]\n  x-a: [User]\n  x-b: [User]\n', {("shadowed_rule", 3), ("shadowed_rule", 4)}),
        ('mappings:\n  "re:^x$": [User]\n  "re:x": [User]\n', {("shadowed_rule", 3)}),  # same language: later one
        ('mappings:\n  "re:^abc$": [User]\n  abc: [User]\n', {("shadowed_rule", 3)}),
        ('mappings:\n  "re:(?i)team-.*": [User]\n  team-x: [User]\n', {("shadowed_rule", 3)}),  # exact: membership
        ('mappings:\n  "re:(?i)team-.*": [User]\n  "team-*": [User]\n', set()),
        ('mappings:\n  "re:\\\\Aabc\\\\Z": [User]\n  "re:^ab.$": [User]\n', {("shadowed_rule", 2)}),  # a plain name
        ('mappings:\n  "re:^a.c$": [User]\n  "re:^abc$": [User]\n', {("shadowed_rule", 3)}),
        # suspicious keys
        ('mappings:\n  "re:team-*": [User]\n', {("regex_looks_like_glob", 2)}),
        ('mappings:\n  "re:team-.*": [User]\n', set()),
        ('mappings:\n  "re:[a-z]*": [User]\n', set()),
        ('mappings:\n  "team-x ": [User]\n', {("group_name_whitespace", 2)}),
        ("mappings:\n  guests: [Public]\n", {("grants_only_public", 2)}),
        # declared roles
        ("roles:\n  empty: {}\nmappings:\n  g: [empty]\n", {("role_grants_nothing", 2)}),
        ("roles:\n  spare: {based_on: Viewer}\nmappings: {}\n", {("declared_role_unused", 2)}),
        ("roles:\n  base: {based_on: Viewer}\n  x: {based_on: base}\nmappings:\n  g: [x]\n", set()),
        ("roles:\n  x: {based_on: Viewer}\ndefault_role: x\nmappings: {}\n", {("default_role_set", 3)}),
        # agents: patterns that no person's role matches, privileged roles, agents that are bots too
        ("mappings:\n  a: [Viewer]\nagents:\n  ai: [Viewer]\n", set()),
        ('mappings:\n  a: [Viewer]\nagents:\n  ai: [Viewer, "team-*"]\n', {("agent_role_never_granted", 4)}),
        ("mappings:\n  a: [Viewer]\nagents:\n  ai: [User]\n", {("agent_role_never_granted", 4)}),
        ('mappings:\n  a: [Viewer, team-x]\nagents:\n  ai: ["team-*", "re:^V.*"]\n', set()),
        ("default_role: Viewer\nmappings: {}\nagents:\n  ai: [Viewer]\n", {("default_role_set", 1)}),
        ("mappings:\n  a: [Admin]\nagents:\n  ai: [Admin]\n", {("agent_privileged_role", 4)}),
        ('mappings:\n  a: [Op]\nagents:\n  ai: ["*"]\n', {("agent_privileged_role", 4)}),
        (
            "roles:\n  power: {based_on: Op}\nmappings:\n  a: [power]\nagents:\n  ai: [power]\n",
            {("agent_privileged_role", 6)},
        ),
        (
            "mappings:\n  a: [Viewer]\nclients:\n  ai: [Viewer]\nagents:\n  ai: [Viewer]\n",
            {("agent_is_also_client", 6)},
        ),
    ],
)
def test_lint_rules(text: str, expected: set[tuple[str, int]]) -> None:
    """Find exactly the expected problems (code and line)."""
    assert codes(text) == expected


DAG_ROLES = """\
roles:
  team-a:
    based_on: Viewer
    dags:
      "finance_*": [can_read]
      "hr_*": [can_read]
      "*": [can_read]
      finance_daily: [can_edit]
      not_there: [can_read]
mappings:
  g: [team-a]
"""


def test_dag_checks_need_the_dag_list() -> None:
    """Check DAG patterns only when the DAGs Airflow knows are given."""
    assert codes(DAG_ROLES) == set()
    assert codes(DAG_ROLES, dag_ids=["finance_daily", "ops_x"]) == {
        ("dag_pattern_matches_none", 6),
        ("dag_pattern_matches_all", 7),
        ("dag_id_unknown", 9),
    }


def test_the_shipped_example_is_clean() -> None:
    """Ship an example that passes its own lint."""
    assert lint(load_mapping(EXAMPLE)) == []


def test_finding_text_and_dict() -> None:
    """Render a finding as file:line: severity: message — fix [code], and as JSON-ready data."""
    finding = lint(parse_mapping('mappings:\n  "adm-*": [Admin]\n', source=SOURCE))[0]
    assert finding.text().startswith(f"{SOURCE}:2: warning: pattern 'adm-*' grants 'Admin'")
    assert finding.text().endswith("[broad_privileged_grant]")
    assert " — " in finding.text()
    assert finding.as_dict()["severity"] == "warning"
    assert set(finding.as_dict()) == {"severity", "code", "line", "message", "fix", "source"}


@pytest.mark.parametrize(
    ("text", "named", "not_named"),
    [
        ('mappings:\n  "a-*": [User]\n  a-b: [User]\n', ["line 2 ('a-*')"], []),
        ('mappings:\n  "?*": [Viewer]\n  "a-*": [User]\n  a-b: [User]\n', ["line 3 ('a-*')"], ["line 2"]),
    ],
)
def test_shadowed_message_names_only_the_rules_that_matter(text: str, named: list[str], not_named: list[str]) -> None:
    """Name the rules that already grant the roles, not every rule that matches."""
    findings = [f for f in lint(parse_mapping(text, source=SOURCE)) if f.code == "shadowed_rule"]
    assert len(findings) == 1
    for fragment in named:
        assert fragment in findings[0].message
    for fragment in not_named:
        assert fragment not in findings[0].message


def test_agent_messages_name_the_agent_and_what_to_do() -> None:
    """Say which agent, which pattern or role, and (for a bot too) its service user and the clients: line."""
    text = (
        "mappings:\n  a: [Admin]\nclients:\n  ai: {name: helper-bot, roles: [Viewer]}\n"
        'agents:\n  ai: {name: helper, roles: [Admin, "re:^Te.m$"]}\n'
    )
    found = {f.code: f.text() for f in lint(parse_mapping(text, source=SOURCE))}
    assert found["agent_role_never_granted"].startswith(
        f"{SOURCE}:6: warning: agent 'helper' (ai) is allowed 're:^Te.m$', which matches no role the mappings give"
    )
    assert "privileged role(s) 'Admin' of the people it acts for" in found["agent_privileged_role"]
    assert "least-privilege" in found["agent_privileged_role"]
    assert "under 'clients:' (line 4)" in found["agent_is_also_client"]
    assert "service user 'svc-helper-bot', not for a person" in found["agent_is_also_client"]


def test_findings_are_sorted_by_line_then_severity() -> None:
    """Order findings as an admin reads the file."""
    mapping = parse_mapping('default_role: Viewer\nmappings:\n  " x": [Public]\n  "*": [Admin]\n', source=SOURCE)
    lines = [(f.line, f.severity) for f in lint(mapping)]
    assert lines == sorted(lines, key=lambda item: (item[0], ("error", "warning", "info").index(item[1])))


def test_findings_from_error() -> None:
    """Turn parse_mapping's problems into located error findings."""
    with pytest.raises(MappingError) as info:
        parse_mapping("mappings:\n  a: [Admn]\n  b: []\n", source=SOURCE, known_roles={"Admin"})
    findings = findings_from_error(info.value)
    assert [(f.severity, f.code, f.line) for f in findings] == [
        ("error", "invalid_mapping", 2),
        ("error", "invalid_mapping", 3),
    ]
    assert "unknown role 'Admn'" in findings[0].message
    assert findings[0].fix
    assert " — " not in findings[0].message


def test_findings_from_error_without_location() -> None:
    """Keep problems that carry no file:line prefix whole, on line 1."""
    findings = findings_from_error(MappingError(["something odd"], source=SOURCE))
    assert findings == [Finding("error", "invalid_mapping", 1, "something odd", "fix the file", SOURCE)]


def test_the_cookbook_lists_every_finding() -> None:
    """Keep docs/mapping-cookbook.md's table of findings in step with the code's."""
    cookbook = (Path(__file__).resolve().parents[3] / "docs" / "mapping-cookbook.md").read_text()
    assert [code for code in FINDINGS if f"`{code}`" not in cookbook] == []
