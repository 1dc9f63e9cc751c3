"""Accounts are pinned to their Okta user: a reused login never signs into someone else's account.

The local IdP plays the Okta org: a user's id is changed under the same login (a deleted and
re-created user, or a login handed to a new person), and ``okta-airflow relink`` is the fix.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
import yaml

from tests.integration.helpers import okta_login, rewrite, user_roles, user_row

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from tests.conftest import Stack
    from tests.integration.conftest import NativeStack

SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)  # one database is enough here

FIRST_ID = "00upinned00000000001"
SECOND_ID = "00upinned00000000002"


def set_idp_user(config: Path, login: str, okta_id: str, password: str, groups: list[str]) -> None:
    """Create the IdP user ``login`` or give it a new id (as Okta does when the login goes to someone else)."""
    data = yaml.safe_load(config.read_text())
    data["users"] = [u for u in data["users"] if u["login"] != login]
    data["users"].append(
        {
            "id": okta_id,
            "login": login,
            "password": password,
            "given_name": "Pat",
            "family_name": "Pinned",
            "email": login,
            "status": "ACTIVE",
            "groups": groups,
        }
    )
    rewrite(config, yaml.safe_dump(data, sort_keys=False))


def link_of(db_url: str, username: str) -> tuple[str, str | None] | None:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT okta_sub, deactivated_by FROM okta_security_user WHERE username = :u"), {"u": username}
            ).first()
    finally:
        engine.dispose()
    return (row[0], row[1]) if row else None


def audit_rows(db_url: str, event: str, owner: str) -> list[dict]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT extra FROM log WHERE event = :e AND owner = :o"), {"e": event, "o": owner}
            ).all()
    finally:
        engine.dispose()
    return [json.loads(r[0]) for r in rows]


def relink(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return stack.okta_airflow("relink", *args, timeout=120)


@SQLITE
def test_a_reused_login_is_refused_until_the_administrator_relinks(af: Stack):
    login, password = "pat.reused@example.com", "Pinned-pass-1"
    set_idp_user(af.idp_config, login, FIRST_ID, password, ["airflow-admins"])
    _, first = okta_login(af.url, login, password)
    assert first.status_code == 200, first.text[:500]
    account = user_row(af.db_url, login)
    assert link_of(af.db_url, login) == (FIRST_ID, None)

    # The Okta user is deleted and the login given to a new Okta user (new id), now a mere viewer.
    set_idp_user(af.idp_config, login, SECOND_ID, password, ["airflow-viewers"])
    session, refused = okta_login(af.url, login, password)
    text = html.unescape(refused.text)
    assert refused.status_code == 403, text[:500]
    assert 'id="okta-reason">okta_user_changed<' in text
    assert f"okta-airflow relink {login} --to-okta-user {SECOND_ID}" in text  # what the administrator does
    assert FIRST_ID not in text  # the other person's Okta id stays in the log and the audit trail
    assert "_token" not in session.cookies
    assert link_of(af.db_url, login) == (FIRST_ID, None)  # the link is not overwritten
    assert user_roles(af.db_url, login) == {"Admin"}  # nor the account's roles
    [audited] = [e for e in audit_rows(af.db_url, "login.refused", login) if e.get("reason") == "okta_user_changed"]
    assert (audited["sub"], audited["linked_okta_sub"], audited["account"]) == (SECOND_ID, FIRST_ID, login)

    dry = relink(af, login, "--to-okta-user", SECOND_ID, "--dry-run")
    assert dry.returncode == 3, dry.stdout + dry.stderr
    assert f"Would link Airflow account '{login}' (id {account['id']}) to Okta user {SECOND_ID}" in dry.stdout
    assert link_of(af.db_url, login) == (FIRST_ID, None)

    done = relink(af, login, "--to-okta-user", SECOND_ID)
    assert done.returncode == 0, done.stdout + done.stderr
    assert link_of(af.db_url, login) == (SECOND_ID, None)
    [relinked] = audit_rows(af.db_url, "user.relinked", login)
    assert (relinked["before"], relinked["after"], relinked["user_id"]) == (FIRST_ID, SECOND_ID, account["id"])

    _, after = okta_login(af.url, login, password)
    assert after.status_code == 200, after.text[:500]
    assert user_row(af.db_url, login)["id"] == account["id"]  # the same account, now the new person's
    assert user_roles(af.db_url, login) == {"Viewer"}  # with the new person's roles


@SQLITE
def test_a_leaver_s_account_is_not_reactivated_for_the_next_holder_of_the_login(af: Stack):
    login, password = "pat.leaver@example.com", "Pinned-pass-2"
    set_idp_user(af.idp_config, login, "00upinned00000000003", password, ["airflow-admins"])
    okta_login(af.url, login, password)
    engine = sa.create_engine(af.db_url)
    with engine.begin() as conn:  # what sync-users does to a leaver
        conn.execute(sa.text("UPDATE ab_user SET active = :f WHERE username = :u"), {"f": False, "u": login})
        conn.execute(sa.text("UPDATE okta_security_user SET deactivated_by = 'sync' WHERE username = :u"), {"u": login})
    engine.dispose()
    set_idp_user(af.idp_config, login, "00upinned00000000004", password, ["airflow-admins"])
    _, refused = okta_login(af.url, login, password)
    assert refused.status_code == 403
    assert "okta_user_changed" in refused.text
    assert not user_row(af.db_url, login)["active"]
    assert link_of(af.db_url, login) == ("00upinned00000000003", "sync")


@SQLITE
@pytest.mark.parametrize(("args", "message"), [
    (["nobody@example.com", "--to-okta-user", SECOND_ID], "There is no Airflow user named 'nobody@example.com'"),
    (["admin", "--to-okta-user", "not-an-id!"], "is not an Okta user id"),
])  # fmt: skip
def test_relink_refuses_with_a_reason(af: Stack, args: list[str], message: str):
    result = relink(af, *args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[relink_refused]" in result.stderr
    assert message in result.stderr


def test_with_adoption_switched_off_an_account_made_before_okta_waits_for_relink(native: NativeStack):
    """The native stack sets [okta] adopt_unlinked_accounts = False."""
    login, password, okta_id = "pat.preokta@example.com", "Pinned-pass-5", "00upinned00000000005"
    set_idp_user(native.mapping.parent / "idp_users.yaml", login, okta_id, password, ["airflow-viewers"])
    native.airflow_command(
        "users", "create", "--username", login, "--email", login, "--role", "Op",
        "--firstname", "Pat", "--lastname", "Local", "--use-random-password",
    )  # fmt: skip
    before = user_row(native.db_url, login)
    _, refused = okta_login(native.url, login, password)
    assert refused.status_code == 403
    assert 'id="okta-reason">unlinked_account<' in refused.text
    assert user_roles(native.db_url, login) == {"Op"}
    assert link_of(native.db_url, login) is None

    done = relink(native, login, "--to-okta-user", okta_id)
    assert done.returncode == 0, done.stdout + done.stderr
    _, after = okta_login(native.url, login, password)
    assert after.status_code == 200, after.text[:500]
    assert user_row(native.db_url, login)["id"] == before["id"]
    assert user_roles(native.db_url, login) == {"Viewer"}
