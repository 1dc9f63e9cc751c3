"""Legacy ``okta_<sub>`` accounts (FAB's built-in provider): adopted at login, or renamed in bulk."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import sqlalchemy as sa
import yaml

from tests.integration.helpers import okta_login, rewrite, user_roles, user_row

if TYPE_CHECKING:
    import subprocess

    from tests.conftest import Stack

FRANK_ID = "00ulegacy00000000005"


def add_idp_user(af: Stack, okta_id: str, login: str, password: str) -> None:
    data = yaml.safe_load(af.idp_config.read_text())
    data["users"].append(
        {
            "id": okta_id,
            "login": login,
            "password": password,
            "given_name": "Legacy",
            "family_name": "Person",
            "email": login,
            "status": "ACTIVE",
            "groups": ["airflow-admins"],
        }
    )
    rewrite(af.idp_config, yaml.safe_dump(data, sort_keys=False))


def create_legacy_user(af: Stack, username: str, email: str) -> int:
    af.airflow_command(
        "users",
        "create",
        "--username",
        username,
        "--email",
        email,
        "--role",
        "Viewer",
        "--firstname",
        "Legacy",
        "--lastname",
        "User",
        "--use-random-password",
    )
    return user_row(af.db_url, username)["id"]


def test_login_adopts_the_same_persons_legacy_account(af: Stack):
    add_idp_user(af, FRANK_ID, "frank.legacy@example.com", "Legacy-pass-1")
    legacy_id = create_legacy_user(af, f"okta_{FRANK_ID}", "frank.legacy@example.com")
    session, final = okta_login(af.url, "frank.legacy@example.com", "Legacy-pass-1")
    assert final.status_code == 200, final.text[:400]
    row = user_row(af.db_url, "frank.legacy@example.com")
    assert row["id"] == legacy_id  # same row: id, history and audit trail kept
    assert user_row(af.db_url, f"okta_{FRANK_ID}") is None
    assert user_roles(af.db_url, "frank.legacy@example.com") == {"Admin"}


def test_other_email_collision_is_refused_naming_the_account(af: Stack):
    add_idp_user(af, "00uhenry000000000007", "henry@example.com", "Henry-pass-1")
    create_legacy_user(af, "henry-local-account", "henry@example.com")
    session, final = okta_login(af.url, "henry@example.com", "Henry-pass-1")
    assert final.status_code == 403
    assert "email_conflict" in final.text
    assert "henry-local-account" in final.text
    assert "_token" not in session.cookies
    assert user_row(af.db_url, "henry@example.com") is None


def run_cli(af: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return af.okta_airflow(*args, timeout=120)


def test_migrate_usernames_dry_run_then_apply(af: Stack):
    grace_id = create_legacy_user(af, "okta_00ugrace0000000000006", "Grace.Hopper@example.com")
    dry = run_cli(af, "migrate-usernames", "--dry-run", "--json", "--no-okta")
    assert dry.returncode == 3, dry.stderr
    report = json.loads(dry.stdout)
    change = next(c for c in report["changes"] if c["user_id"] == grace_id)
    assert (change["new"], change["status"], change["source"]) == ("grace.hopper@example.com", "rename", "email")
    assert user_row(af.db_url, "okta_00ugrace0000000000006") is not None  # dry run changed nothing
    applied = run_cli(af, "migrate-usernames", "--no-okta")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "grace.hopper@example.com (email)" in applied.stdout
    assert user_row(af.db_url, "grace.hopper@example.com")["id"] == grace_id
    engine = sa.create_engine(af.db_url)
    with engine.connect() as conn:
        audited = conn.execute(
            sa.text("SELECT owner, extra FROM log WHERE event = 'user.renamed' AND owner = 'grace.hopper@example.com'")
        ).all()
    engine.dispose()
    assert audited
    assert "okta_00ugrace0000000000006" in audited[0][1]
    again = run_cli(af, "migrate-usernames", "--no-okta")
    assert again.returncode == 0
    assert "nothing to migrate" in again.stdout
