"""The demo's files: sample data from one source (the banner and the README agree), a valid mapping, a usable env file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from okta_devstack import demo, demo_files
from okta_security.mapping.lint import lint
from okta_security.mapping.roles import BUILTIN_ROLES
from okta_security.mapping.rules import parse_mapping

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def _banner_text(data: dict, tmp_path: Path) -> str:
    b = demo.Banner(
        url="http://127.0.0.1:8080",
        issuer="http://127.0.0.1:9000/oauth2/default",
        data=data,
        mapping=tmp_path / "okta_role_mapping.yaml",
        idp_config=tmp_path / "idp_users.yaml",
        env_file=tmp_path / "okta.env",
        bot_script=tmp_path / "bot.sh",
        dags=["finance_daily", "marketing_weekly", "okta_sync_users"],
        logs=[tmp_path / "idp.log"],
        seconds=42,
    )
    return "\n".join(demo.banner_lines(b))


def test_banner_prints_every_sample_user_with_password_and_groups(tmp_path):
    data = demo_files.demo_idp_data()
    text = _banner_text(data, tmp_path)
    users = demo_files.sample_users(data)
    assert {u.login for u in users} >= {"alice.admin@example.com", "dave.suspended@example.com"}
    for user in users:
        line = next(line for line in text.splitlines() if user.login in line)
        assert user.password in line
        assert ", ".join(user.groups) in line
    assert "SUSPENDED: Okta refuses the sign-in" in text
    assert "(set -a; . " in text
    assert "okta-airflow doctor)" in text


def test_readme_names_the_demo_ports_bot_env_file_and_components():
    # The sample users themselves: tests/unit/test_docs.py checks them against demo_files.demo_idp_data().
    section = README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    for setting in demo.PORTS:
        assert f"`{setting.variable}` ({setting.default})" in section
    for name, _, _ in demo.COMPONENTS:
        assert name in section
    assert ".demo/okta.env" in section
    assert "okta-airflow doctor" in section
    assert ".demo/bot.sh" in section
    assert "SIGTERM" in section


def test_demo_mapping_is_valid_and_lint_clean():
    text = demo_files.DEMO_MAPPING.read_text()
    mapping = parse_mapping(text, source=str(demo_files.DEMO_MAPPING), known_roles=BUILTIN_ROLES)
    findings = [f for f in lint(mapping) if f.severity in ("error", "warning")]
    assert not findings, findings
    assert mapping.default_role is None


def test_demo_mapping_names_only_dags_and_clients_the_demo_has():
    raw = yaml.safe_load(demo_files.DEMO_MAPPING.read_text())
    dag_ids = {
        m.group(1)
        for path in demo_files.EXAMPLE_DAGS.glob("*.py")
        for m in re.finditer(r'dag_id="([^"]+)"', path.read_text())
    }
    granted = {dag for role in raw["roles"].values() for dag in role["dags"]}
    assert granted <= dag_ids, f"the team role grants DAGs no example defines: {granted - dag_ids}"
    idp_clients = {c["client_id"] for c in demo_files.demo_idp_data()["clients"]}
    assert set(raw["clients"]) <= idp_clients
    groups = {g["name"] for g in demo_files.demo_idp_data()["groups"]}
    assert "airflow-team-finance" in groups
    assert "airflow-team-finance" in raw["mappings"]


def test_merge_keeps_edited_entries_and_adds_missing_ones():
    data = {
        "server": {"custom_scopes": ["other"]},
        "users": [{"id": "00uerinfinance000005", "login": "erin.finance@example.com", "groups": ["edited"]}],
        "clients": [],
    }
    additions = yaml.safe_load(demo_files.IDP_ADDITIONS.read_text())
    merged = demo_files.merge_additions(data, additions)
    assert merged["server"]["custom_scopes"] == ["other", "airflow.api"]
    assert [u["groups"] for u in merged["users"]] == [["edited"]]
    assert [c["client_id"] for c in merged["clients"]] == ["demo-bot"]
    assert demo_files.merge_additions(merged, additions) == merged  # idempotent across restarts


def test_idp_accepts_the_demo_config(tmp_path):
    from okta_local_idp.config import load_config

    path = tmp_path / "idp.yaml"
    path.write_text(yaml.safe_dump(demo_files.demo_idp_data(8080), sort_keys=False))
    load_config(str(path))  # raises listing every problem if the IdP would refuse to start


def test_write_mapping_replaces_only_an_unedited_old_copy(tmp_path):
    (tmp_path / "okta_role_mapping.yaml").write_text(demo_files.OLD_DEMO_MAPPING.read_text())
    path = demo_files.write_mapping(tmp_path)
    assert path.read_text() == demo_files.DEMO_MAPPING.read_text()
    path.write_text("default_role: Viewer\n")
    assert demo_files.write_mapping(tmp_path).read_text() == "default_role: Viewer\n"


def test_env_file_sources_back_to_the_same_values(tmp_path):
    env = {
        "OKTA_EVENT_HOOK_SECRET": "Bearer demo-event-hook-secret",
        "AIRFLOW_HOME": "/tmp/with space/airflow",
        "OKTA_CLIENT_SECRET": "it's $quoted",
        "PATH": "/not/written",
    }
    path = tmp_path / "okta.env"
    demo_files.write_env_file(path, env)
    assert "PATH=" not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    shown = subprocess.run(
        ["bash", "-c", f'set -a; . "{path}"; set +a; env -0'], capture_output=True, check=True
    ).stdout.split(b"\0")
    sourced = dict(item.decode().split("=", 1) for item in shown if item)
    for name in ("OKTA_EVENT_HOOK_SECRET", "AIRFLOW_HOME", "OKTA_CLIENT_SECRET"):
        assert sourced[name] == env[name]


def _agent(data: dict) -> dict:
    return next(c for c in data["clients"] if c["client_id"] == "airflow-assistant")


def test_the_agent_may_ask_for_id_jags_naming_the_demos_airflow_on_its_port():
    agent = _agent(demo_files.demo_idp_data(8123))
    assert agent["cross_app_access"]["audiences"] == [
        "http://127.0.0.1:8123/auth/token",
        "http://localhost:8123/auth/token",
    ]
    assert agent["redirect_uris"] == ["http://127.0.0.1:8765/callback"]  # the agent's own, not Airflow's


def test_test_stacks_point_the_agent_at_their_airflow_and_leave_its_callback():
    from tests.stacks import idp_data

    data = idp_data("http://127.0.0.1:8124")
    agent = _agent(data)
    assert agent["cross_app_access"]["audiences"] == ["http://127.0.0.1:8124/auth/token"]
    assert agent["redirect_uris"] == ["http://127.0.0.1:8765/callback"]
    assert "initiate_login_uri" not in agent  # no dashboard tile: people do not open the agent from Okta
    web = next(c for c in data["clients"] if c["client_id"] == "airflow-local")
    assert web["redirect_uris"] == ["http://127.0.0.1:8124/auth/oauth-authorized/okta"]
