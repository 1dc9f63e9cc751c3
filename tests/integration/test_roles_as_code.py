"""Roles-as-code against a real Airflow (SQLite and PostgreSQL): team users see their DAGs and no others.

The Airflow home holds real DAG files, serialized with ``airflow dags reserialize`` before the
API server starts; the mapping declares team roles whose DAG globs expand at start. Team users
sign in through the local IdP (a test-local copy of its config with two extra users), and the
REST API, called with their session cookie, is the judge of what they can see and do. The
``okta-airflow`` and ``airflow`` commands run in processes forked from one that has imported them
with this Airflow's environment (:mod:`tests.warm_cli`): each still a process of its own.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from tests.conftest import MAPPING_SETTLE_SECONDS
from tests.integration.helpers import okta_login, rewrite, user_roles
from tests.stacks import Stack, StackSpec, airflow_command, running_stack, warm_cli

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator

    from okta_devstack.airflow import AirflowServer

pytestmark = pytest.mark.integration

ALICE = ("alice.admin@example.com", "Admin-pass-1")
ERIN = ("erin.finance@example.com", "Finance-pass-1")
FRANK = ("frank.hr@example.com", "Hr-pass-1")
SYNC_CHECK_SECONDS = 1  # OKTA_ROLE_SYNC_CHECK_SECONDS: look at the DAG list often
FAB_CACHE_TTL = 1  # [fab] cache_ttl: Airflow re-reads a user's permissions after this many seconds
DAGS = ("finance_daily", "finance_monthly", "hr_payroll", "marketing_report")

MAPPING = """\
default_role: null
roles:
  team-finance:
    based_on: Viewer
    dags:
      "finance_*": [can_read, can_edit]
  team-hr:
    based_on: Viewer
    dags:
      hr_payroll: [can_read]
mappings:
  airflow-admins: [Admin]
  airflow-viewers: [Viewer]
  airflow-team-finance: [team-finance]
  airflow-team-hr: [team-hr]
"""

DAG_FILE = """\
from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(dag_id="{dag_id}", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None, catchup=False):
    EmptyOperator(task_id="noop")
"""


class TeamStack(Stack):
    def add_dag(self, dag_id: str) -> None:
        """Write a DAG file and serialize it, as the DAG processor would."""
        (self.airflow.home / "dags" / f"{dag_id}.py").write_text(DAG_FILE.format(dag_id=dag_id))
        reserialize(self.airflow)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``okta-airflow`` with this Airflow's environment."""
        return self.okta_airflow(*args)


def reserialize(airflow: AirflowServer) -> None:
    """Run ``airflow dags reserialize`` in the Airflow home (forked from the stack's warm process)."""
    airflow_command(airflow, "dags", "reserialize")


def _team_users(data: dict, airflow_url: str) -> None:
    data["groups"] += [
        {"name": "airflow-team-finance", "description": "Finance team"},
        {"name": "airflow-team-hr", "description": "HR team"},
    ]
    data["users"] += [
        {
            "id": "00uerinfinance000005",
            "login": ERIN[0],
            "password": ERIN[1],
            "given_name": "Erin",
            "family_name": "Finance",
            "email": ERIN[0],
            "status": "ACTIVE",
            "groups": ["airflow-team-finance", "Everyone"],
        },
        {
            "id": "00ufrankhr0000000006",
            "login": FRANK[0],
            "password": FRANK[1],
            "given_name": "Frank",
            "family_name": "Hr",
            "email": FRANK[0],
            "status": "ACTIVE",
            "groups": ["airflow-team-hr", "Everyone"],
        },
    ]


def _team_dags(airflow: AirflowServer) -> None:
    for dag_id in DAGS:
        (airflow.home / "dags" / f"{dag_id}.py").write_text(DAG_FILE.format(dag_id=dag_id))
    reserialize(airflow)  # the stack's warm process starts here, before the server, with its environment


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def teams(request, tmp_path_factory) -> Iterator[TeamStack]:
    spec = StackSpec(
        database=request.param,
        mapping=MAPPING,
        edit_idp=_team_users,
        before_start=_team_dags,
        settings={"OKTA_ROLE_SYNC_CHECK_SECONDS": str(SYNC_CHECK_SECONDS)},
        airflow_settings={"AIRFLOW__FAB__CACHE_TTL": str(FAB_CACHE_TTL)},
    )
    with running_stack(spec, tmp_path_factory.mktemp(f"teams-{request.param}")) as built:
        yield TeamStack(built.airflow, built.idp, built.mapping, built.idp_config)


# --------------------------------------------------------------------------- helpers


def visible_dags(session, url: str) -> set[str]:
    response = session.get(f"{url}/api/v2/dags", params={"limit": 100}, timeout=30)
    assert response.status_code == 200, response.text[:500]
    return {dag["dag_id"] for dag in response.json()["dags"]}


def role_permissions(db_url: str, role: str) -> set[tuple[str, str]]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT p.name, v.name FROM ab_role r"
                    " JOIN ab_permission_view_role pvr ON pvr.role_id = r.id"
                    " JOIN ab_permission_view pv ON pv.id = pvr.permission_view_id"
                    " JOIN ab_permission p ON p.id = pv.permission_id"
                    " JOIN ab_view_menu v ON v.id = pv.view_menu_id"
                    " WHERE r.name = :role"
                ),
                {"role": role},
            )
            return {(action, resource) for action, resource in rows}
    finally:
        engine.dispose()


def signed_in(stack: TeamStack, user: tuple[str, str]):
    session, final = okta_login(stack.url, *user)
    assert final.status_code == 200, final.text[:500]
    return session


# --------------------------------------------------------------------------- tests


def test_team_roles_are_created_at_start_with_dag_level_permissions(teams: TeamStack):
    finance = role_permissions(teams.db_url, "team-finance")
    assert {
        ("can_read", "DAG:finance_daily"),
        ("can_edit", "DAG:finance_daily"),
        ("can_read", "DAG:finance_monthly"),
        ("can_edit", "DAG:finance_monthly"),
    } <= finance
    assert ("can_read", "DAGs") not in finance  # based_on Viewer, minus access to every DAG
    assert not {resource for _a, resource in finance if resource in ("DAG:hr_payroll", "DAG:marketing_report")}
    viewer = role_permissions(teams.db_url, "Viewer")
    assert ("can_read", "DAGs") in viewer  # the built-in role is untouched
    assert viewer - {("can_read", "DAGs")} >= {p for p in finance if not p[1].startswith("DAG:")}


def test_team_user_sees_its_dags_and_not_others(teams: TeamStack):
    erin = signed_in(teams, ERIN)
    assert user_roles(teams.db_url, ERIN[0]) == {"team-finance"}
    assert visible_dags(erin, teams.url) == {"finance_daily", "finance_monthly"}
    assert erin.get(f"{teams.url}/api/v2/dags/finance_daily", timeout=30).status_code == 200
    assert erin.get(f"{teams.url}/api/v2/dags/hr_payroll", timeout=30).status_code == 403
    # can_edit on its own DAGs: pausing works there, and only there.
    assert erin.patch(f"{teams.url}/api/v2/dags/finance_daily", json={"is_paused": True}, timeout=30).status_code == 200
    assert erin.patch(f"{teams.url}/api/v2/dags/hr_payroll", json={"is_paused": True}, timeout=30).status_code == 403

    frank = signed_in(teams, FRANK)
    assert visible_dags(frank, teams.url) == {"hr_payroll"}
    assert frank.patch(f"{teams.url}/api/v2/dags/hr_payroll", json={"is_paused": True}, timeout=30).status_code == 403

    alice = signed_in(teams, ALICE)
    assert visible_dags(alice, teams.url) >= set(DAGS)


def test_new_dag_matching_a_glob_is_picked_up_at_the_next_login(teams: TeamStack):
    erin = signed_in(teams, ERIN)
    teams.add_dag("finance_weekly")
    assert "finance_weekly" not in visible_dags(erin, teams.url)
    time.sleep(SYNC_CHECK_SECONDS + 0.5)
    signed_in(teams, FRANK)  # anyone's login notices the new DAG list and re-expands the globs
    time.sleep(FAB_CACHE_TTL + 0.5)
    assert "finance_weekly" in visible_dags(erin, teams.url)
    assert ("can_edit", "DAG:finance_weekly") in role_permissions(teams.db_url, "team-finance")


def test_sync_roles_cli_re_expands_on_demand_and_is_idempotent(teams: TeamStack):
    teams.add_dag("finance_quarterly")
    dry = teams.cli("sync-roles", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr[-2000:]
    plan = {role["role"]: role for role in json.loads(dry.stdout)["roles"]}
    assert ["can_read", "DAG:finance_quarterly"] in plan["team-finance"]["add"]
    assert not json.loads(dry.stdout)["applied"]
    assert ("can_read", "DAG:finance_quarterly") not in role_permissions(teams.db_url, "team-finance")

    done = teams.cli("sync-roles")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "+ can_read on DAG:finance_quarterly" in done.stdout
    assert ("can_read", "DAG:finance_quarterly") in role_permissions(teams.db_url, "team-finance")

    again = teams.cli("sync-roles", "--json")
    assert again.returncode == 0
    assert not json.loads(again.stdout)["applied"]
    assert all(not r["add"] and not r["remove"] and not r["create"] for r in json.loads(again.stdout)["roles"])


def test_mapping_edit_resyncs_roles_and_a_failed_sync_keeps_them(teams: TeamStack):
    original = teams.mapping.read_text()
    before = role_permissions(teams.db_url, "team-hr")
    try:
        # 1. A new DAG grant for team-hr, applied at the next login (mapping reload).
        rewrite(
            teams.mapping,
            original.replace("hr_payroll: [can_read]", "hr_payroll: [can_read]\n      marketing_report: [can_read]"),
        )
        time.sleep(MAPPING_SETTLE_SECONDS)
        signed_in(teams, ALICE)
        assert ("can_read", "DAG:marketing_report") in role_permissions(teams.db_url, "team-hr")
        # 2. A declared permission on a resource Airflow doesn't have: the sync fails, nothing changes.
        current = role_permissions(teams.db_url, "team-hr")
        broken = original.replace(
            "hr_payroll: [can_read]",
            "hr_payroll: [can_read]\n    permissions:\n      - {action: can_read, resource: No Such Thing}",
        )
        rewrite(teams.mapping, broken)
        time.sleep(MAPPING_SETTLE_SECONDS)
        frank = signed_in(teams, FRANK)  # the login still works
        assert role_permissions(teams.db_url, "team-hr") == current
        assert "NOT synced" in teams.airflow.log_tail(200_000)
        assert "Airflow has no resource 'No Such Thing'" in teams.airflow.log_tail(200_000)
        assert "hr_payroll" in visible_dags(frank, teams.url)
    finally:
        rewrite(teams.mapping, original)
        time.sleep(MAPPING_SETTLE_SECONDS)
        signed_in(teams, ALICE)
    assert role_permissions(teams.db_url, "team-hr") == before


def test_check_mapping_reads_the_airflow_database(teams: TeamStack):
    clean = teams.cli("check-mapping", str(teams.mapping), "--json")
    report = json.loads(clean.stdout)
    assert clean.returncode == 0, clean.stdout
    assert report["database"]["checked"] is True
    assert report["database"]["dags"] >= len(DAGS)

    bad = teams.mapping.parent / "bad.yaml"
    bad.write_text(
        MAPPING.replace("airflow-viewers: [Viewer]", 'airflow-viewers: [Viewer]\n  "x-*": [Op]\n  z: [Nobody]')
    )
    result = teams.cli("check-mapping", str(bad))
    assert result.returncode == 1
    assert "bad.yaml:15: error: unknown role 'Nobody'" in result.stdout
    assert "bad.yaml:14: warning: pattern 'x-*' grants 'Op'" in result.stdout
    assert "role names checked against Airflow's database" in result.stdout


@pytest.mark.parametrize("attempts", [4])
def test_concurrent_syncs_converge(teams: TeamStack, attempts: int):
    if not teams.db_url.startswith("postgresql"):
        pytest.skip("concurrency is tested on PostgreSQL only")
    teams.add_dag("finance_race")
    # `attempts` processes forked at the same moment, each with its own connections: a real race.
    done = warm_cli(teams.airflow).run_together(
        [(("sync-roles", "--json"), teams.airflow.env())] * attempts, timeout=300
    )
    results = [(proc.returncode, proc.stdout, proc.stderr) for proc in done]
    for code, _out, err in results:
        assert code == 0, err[-2000:]
    assert sum(json.loads(out)["applied"] for _c, out, _e in results) >= 1
    finance = role_permissions(teams.db_url, "team-finance")
    assert {("can_read", "DAG:finance_race"), ("can_edit", "DAG:finance_race")} <= finance
    final = teams.cli("sync-roles", "--json")
    assert not json.loads(final.stdout)["applied"]


def test_builtin_roles_stay_untouched(teams: TeamStack):
    names = ("Admin", "Op", "User", "Viewer", "Public")
    before = {name: role_permissions(teams.db_url, name) for name in names}
    teams.add_dag("finance_builtin_check")  # give the sync something to write
    done = teams.cli("sync-roles")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "+ can_read on DAG:finance_builtin_check" in done.stdout
    assert {name: role_permissions(teams.db_url, name) for name in names} == before


def test_dag_resources_mirror_airflows_own_definitions():
    """roles_as_code (pure) must name DAG-level resources and actions exactly as the FAB provider does."""
    from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride
    from airflow.providers.fab.www.security import permissions

    from okta_security.mapping.roles import ALL_DAGS_PERMISSIONS, BUILTIN_ROLES, DAG_RESOURCES, resource_name

    assert set(DAG_RESOURCES) == set(permissions.RESOURCE_DETAILS_MAP)
    for resource, spec in DAG_RESOURCES.items():
        assert spec.prefix == permissions.RESOURCE_DETAILS_MAP[resource]["prefix"]
        assert set(spec.actions) == set(permissions.RESOURCE_DETAILS_MAP[resource]["actions"])
    assert {action for action, _resource in ALL_DAGS_PERMISSIONS} == set(permissions.DAG_ACTIONS)
    assert {resource for _action, resource in ALL_DAGS_PERMISSIONS} == {permissions.RESOURCE_DAG}
    for dag_id in ("finance", "DAG:finance", "DAG Run:x", "with space"):
        for resource in DAG_RESOURCES:
            assert resource_name(dag_id, resource) == permissions.resource_name(dag_id, resource)
    assert set(BUILTIN_ROLES) == {config["role"] for config in FabAirflowSecurityManagerOverride.ROLE_CONFIGS}
