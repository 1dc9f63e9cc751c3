"""Tests for okta_security.mapping.roles: the ``roles:`` section, DAG expansion and sync planning."""

from __future__ import annotations

import textwrap

import pytest

from okta_security.errors import MappingError, RoleSyncError
from okta_security.mapping.role_plan import RoleChange, desired_permissions, plan_changes, privileged_declared_roles
from okta_security.mapping.roles import ALL_DAGS_PERMISSIONS, DagGrant, resource_name
from okta_security.mapping.rules import RoleMapping, parse_mapping

SOURCE = "role_mapping.yaml"
KNOWN = frozenset({"Admin", "Op", "User", "Viewer", "Public"})
DAGS = ["finance_daily", "finance_monthly", "hr_payroll", "fin_1", "fin_x"]
VIEWER = frozenset(
    {
        ("can_read", "DAGs"),
        ("menu_access", "DAGs"),
        ("can_read", "DAG Runs"),
        ("can_read", "Website"),
        ("can_read", "Pools"),
    }
)
EXISTING = {
    "Viewer": VIEWER,
    "Admin": VIEWER | {("can_edit", "DAGs")},
    "Op": VIEWER,
    "User": VIEWER,
    "Public": frozenset(),
}

EXAMPLE = """\
roles:
  team-finance:
    based_on: Viewer
    dags:
      "finance_*": [can_read, can_edit]
      "re:^fin_\\\\d+$": can_read
      finance_close: {DAGs: [can_read], DAG Runs: [can_create, can_read]}
  team-finance-lead:
    based_on: team-finance
    all_dags: [can_read]
    permissions:
      - {action: can_read, resource: Connections}
  auditors: {}
mappings:
  airflow-team-finance: [team-finance]
  airflow-finance-leads: [team-finance-lead]
"""


def parse(text: str, known: frozenset[str] | None = KNOWN) -> RoleMapping:
    return parse_mapping(textwrap.dedent(text), source=SOURCE, known_roles=known)


def problems_of(text: str, known: frozenset[str] | None = KNOWN) -> list[str]:
    with pytest.raises(MappingError) as info:
        parse(text, known)
    return info.value.problems


def test_example_parses_into_specs() -> None:
    """Parse based_on, DAG grants (list, single action, per-resource), all_dags and permissions."""
    mapping = parse(EXAMPLE)
    specs = {spec.name: spec for spec in mapping.roles}
    assert mapping.declared_roles() == {"team-finance", "team-finance-lead", "auditors"}
    finance = specs["team-finance"]
    assert (finance.line, finance.based_on) == (2, "Viewer")
    assert [(g.pattern, g.kind, dict(g.actions), g.line) for g in finance.dags] == [
        ("finance_*", "glob", {"DAGs": {"can_read", "can_edit"}}, 5),
        (r"re:^fin_\d+$", "regex", {"DAGs": {"can_read"}}, 6),
        ("finance_close", "exact", {"DAGs": {"can_read"}, "DAG Runs": {"can_create", "can_read"}}, 7),
    ]
    lead = specs["team-finance-lead"]
    assert lead.based_on == "team-finance"
    assert lead.all_dags == {"can_read"}
    assert lead.permissions == {("can_read", "Connections")}
    assert specs["auditors"].grants_nothing()


def test_declared_roles_are_known_to_the_mappings() -> None:
    """Let mappings (and default_role) name roles the file declares, even against the database's role list."""
    mapping = parse("roles:\n  team-x: {based_on: Viewer}\ndefault_role: team-x\nmappings:\n  g: [team-x]\n")
    assert mapping.resolve(["g"]) == {"team-x"}
    assert mapping.resolve(["other"]) == {"team-x"}


def test_undeclared_role_is_still_unknown() -> None:
    """Declaring one role does not make every name known."""
    problems = problems_of("roles:\n  team-x: {based_on: Viewer}\nmappings:\n  g: [team-y]\n")
    assert len(problems) == 1
    assert "unknown role 'team-y'" in problems[0]


def test_roles_section_is_optional() -> None:
    """A file without 'roles:' declares no role."""
    assert parse("mappings:\n  g: [Viewer]\n").roles == ()


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        ("roles: [a]\nmappings: {}\n", 1, ["'roles' must be a mapping"]),
        ("roles:\n  Viewer: {based_on: Viewer}\nmappings: {}\n", 2, ["built-in role 'Viewer'", "declare a new role"]),
        ("roles:\n  viewer: {}\nmappings: {}\n", 2, ["built-in role 'Viewer'"]),
        ("roles:\n  x: [Viewer]\nmappings: {}\n", 2, ["must be a mapping"]),
        ("roles:\n  x: {base_on: Viewer}\nmappings: {}\n", 2, ["unknown key 'base_on'", "did you mean 'based_on'"]),
        ("roles:\n  x: {based_on: Veiwer}\nmappings: {}\n", 2, ["unknown role 'Veiwer'", "did you mean 'Viewer'"]),
        ("roles:\n  x: {based_on: x}\nmappings: {}\n", 2, ["based on itself"]),
        ("roles:\n  x: {based_on: [Viewer]}\nmappings: {}\n", 2, ["must be a role name"]),
        ("roles:\n  x:\n    dags: [a]\nmappings: {}\n", 3, ["dags of role 'x' must be a mapping"]),
        (
            "roles:\n  x:\n    dags:\n      a: [can_raed]\nmappings: {}\n",
            4,
            ["unknown action 'can_raed'", "did you mean 'can_read'"],
        ),
        ("roles:\n  x:\n    dags:\n      a: []\nmappings: {}\n", 4, ["non-empty list"]),
        ("roles:\n  x:\n    dags:\n      a: {DAG: [can_read]}\nmappings: {}\n", 4, ["unknown DAG resource 'DAG'"]),
        (
            "roles:\n  x:\n    dags:\n      a: {DAG Runs: [can_edit]}\nmappings: {}\n",
            4,
            ["unknown action 'can_edit'", "DAG Runs"],
        ),
        ('roles:\n  x:\n    dags:\n      "re:(": [can_read]\nmappings: {}\n', 4, ["invalid regular expression"]),
        ("roles:\n  x:\n    dags:\n      5: [can_read]\nmappings: {}\n", 4, ["is not a DAG id"]),
        ("roles:\n  x:\n    all_dags: [can_create]\nmappings: {}\n", 3, ["unknown action 'can_create'"]),
        ("roles:\n  x:\n    permissions: {a: b}\nmappings: {}\n", 3, ["must be a list"]),
        (
            "roles:\n  x:\n    permissions:\n      - [can_read, Pools]\nmappings: {}\n",
            4,
            ["exactly 'action' and 'resource'"],
        ),
        (
            "roles:\n  x:\n    permissions:\n      - {action: can_read, resource: DAGs}\nmappings: {}\n",
            4,
            ["DAG access is declared with dags/all_dags"],
        ),
        (
            "roles:\n  x:\n    permissions:\n      - {action: can_read, resource: 'DAG:a'}\nmappings: {}\n",
            4,
            ["DAG access is declared with dags/all_dags"],
        ),
        ("roles:\n  ' x': {}\nmappings: {}\n", 2, ["leading or trailing spaces"]),
        ("roles:\n  " + "r" * 65 + ": {}\nmappings: {}\n", 2, ["longer than 64"]),
        ("roles:\n  x: {}\n  x: {}\nmappings: {}\n", 3, ["duplicate key 'x'"]),
    ],
)
def test_invalid_roles(text: str, line: int, fragments: list[str]) -> None:
    """Report each problem with its line and a fix."""
    problems = problems_of(text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{SOURCE}:{line}: ")
    for fragment in fragments:
        assert fragment in problems[0]
    assert " — " in problems[0]


def test_based_on_cycles_are_reported() -> None:
    """Refuse roles based on each other in a loop."""
    problems = problems_of("roles:\n  a: {based_on: b}\n  b: {based_on: a}\nmappings: {}\n")
    assert len(problems) == 2
    assert all("based on itself" in p for p in problems)


def test_based_on_any_role_without_a_database() -> None:
    """Without known roles (no database), accept any based_on name; the sync checks it."""
    assert parse("roles:\n  x: {based_on: Custom}\nmappings: {}\n", known=None).roles[0].based_on == "Custom"


def test_based_on_a_database_role() -> None:
    """Accept a custom role that exists in the database."""
    assert (
        parse("roles:\n  x: {based_on: Custom}\nmappings: {}\n", known=KNOWN | {"Custom"}).roles[0].based_on == "Custom"
    )


@pytest.mark.parametrize(
    ("dag_id", "resource", "expected"),
    [
        ("finance", "DAGs", "DAG:finance"),
        ("finance", "DAG Runs", "DAG Run:finance"),
        ("DAG:finance", "DAGs", "DAG:finance"),  # already prefixed, as Airflow's resource_name does
        ("DAG Run:x", "DAGs", "DAG Run:x"),
    ],
)
def test_resource_name(dag_id: str, resource: str, expected: str) -> None:
    """Name DAG-level resources like airflow's permissions.resource_name."""
    assert resource_name(dag_id, resource) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("finance_*", ["finance_daily", "finance_monthly"]),
        (r"re:^fin_\d+$", ["fin_1"]),
        ("fin_?", ["fin_1", "fin_x"]),
        ("hr_payroll", ["hr_payroll"]),
        ("not_yet_there", ["not_yet_there"]),  # an exact id is granted even before the DAG exists
        ("Finance_*", []),  # case-sensitive
    ],
)
def test_dag_grant_expansion(pattern: str, expected: list[str]) -> None:
    """Expand patterns against the known DAG ids."""
    assert DagGrant(pattern, {"DAGs": frozenset({"can_read"})}, 1).expand(DAGS) == expected


def test_desired_permissions() -> None:
    """Inherit without access to all DAGs; add per-DAG, all_dags and extra permissions; follow declared bases."""
    mapping = parse(EXAMPLE)
    desired = desired_permissions(mapping.roles, DAGS, EXISTING)
    finance = desired["team-finance"]
    assert not finance & ALL_DAGS_PERMISSIONS
    assert VIEWER - ALL_DAGS_PERMISSIONS <= finance
    assert {
        ("can_read", "DAG:finance_daily"),
        ("can_edit", "DAG:finance_daily"),
        ("can_edit", "DAG:finance_monthly"),
        ("can_read", "DAG:fin_1"),
        ("can_read", "DAG:finance_close"),
        ("can_create", "DAG Run:finance_close"),
        ("can_read", "DAG Run:finance_close"),
    } <= finance
    assert ("can_read", "DAG:hr_payroll") not in finance
    assert ("can_edit", "DAG:fin_1") not in finance
    lead = desired["team-finance-lead"]
    assert finance <= lead
    assert {("can_read", "DAGs"), ("can_read", "Connections")} <= lead
    assert desired["auditors"] == frozenset()


def test_desired_permissions_needs_the_base_role() -> None:
    """Refuse to sync a role based on a role the database does not have."""
    mapping = parse("roles:\n  x: {based_on: Custom}\nmappings: {}\n", known=None)
    with pytest.raises(RoleSyncError, match="based on 'Custom', which is not in Airflow's database"):
        desired_permissions(mapping.roles, DAGS, EXISTING)


def test_plan_changes_is_a_diff() -> None:
    """Create missing roles, add and remove exactly the difference; nothing when in sync."""
    desired = {"a": frozenset({("can_read", "DAG:x")}), "b": frozenset({("can_read", "DAG:y")})}
    existing = {"b": frozenset({("can_read", "DAG:z")}), "Viewer": VIEWER}
    assert plan_changes(desired, existing) == [
        RoleChange("a", create=True, add=frozenset({("can_read", "DAG:x")}), remove=frozenset()),
        RoleChange(
            "b", create=False, add=frozenset({("can_read", "DAG:y")}), remove=frozenset({("can_read", "DAG:z")})
        ),
    ]
    again = plan_changes(desired, {**existing, **desired})
    assert not any(change.changed for change in again)


def test_plan_never_mentions_undeclared_roles() -> None:
    """Leave roles the file does not declare alone (built-in or custom)."""
    changes = plan_changes({"a": frozenset()}, {"Viewer": VIEWER, "Custom": frozenset(), "a": frozenset()})
    assert [change.role for change in changes] == ["a"]


def test_privileged_declared_roles() -> None:
    """Find declared roles that inherit Admin or Op, directly or through other declared roles."""
    mapping = parse(
        "roles:\n  ops-x: {based_on: Op}\n  ops-y: {based_on: ops-x}\n"
        "  view-x: {based_on: Viewer}\n  c: {based_on: Custom}\n"
        "mappings: {}\n",
        known=None,
    )
    assert privileged_declared_roles(mapping.roles) == {"ops-x": "Op", "ops-y": "Op"}


def test_based_on_null_means_no_base_role() -> None:
    """Keep a role whose based_on is null, with no base (it was dropped without a word)."""
    mapping = parse("roles:\n  x:\n    based_on: null\n    all_dags: [can_read]\nmappings:\n  g: [x]\n")
    assert [(spec.name, spec.based_on, spec.all_dags) for spec in mapping.roles] == [("x", None, {"can_read"})]
