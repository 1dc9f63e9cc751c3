"""Okta logins through a real Airflow API server and the local IdP (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import yaml
from werkzeug.security import check_password_hash

from okta_security.adapter.login_accounts import NO_PASSWORD
from tests.conftest import MAPPING_SETTLE_SECONDS
from tests.integration.helpers import okta_login, rewrite, user_roles, user_row

if TYPE_CHECKING:
    from tests.conftest import Stack

ALICE = ("alice.admin@example.com", "Admin-pass-1")
BOB = ("bob.viewer@example.com", "Viewer-pass-1")
CAROL = ("carol.nobody@example.com", "Nobody-pass-1")
MAPPING_CHECK_INTERVAL = MAPPING_SETTLE_SECONDS  # after an edit: OKTA_ROLE_MAPPING_CHECK_SECONDS and a margin


def api_status(session, url: str) -> int:
    return session.get(f"{url}/api/v2/dags", timeout=30).status_code


def edit_idp(stack: Stack, change) -> None:
    data = yaml.safe_load(stack.idp_config.read_text())
    change(data)
    rewrite(stack.idp_config, yaml.safe_dump(data, sort_keys=False))


def user(data: dict, login_prefix: str) -> dict:
    return next(u for u in data["users"] if u["login"].startswith(login_prefix))


def test_admin_gets_admin_and_the_api_accepts_the_session(af: Stack):
    session, final = okta_login(af.url, *ALICE)
    assert final.status_code == 200, final.text[:500]
    assert "_token" in session.cookies
    assert api_status(session, af.url) == 200
    assert user_roles(af.db_url, "alice.admin@example.com") == {"Admin"}
    row = user_row(af.db_url, "alice.admin@example.com")
    assert (row["first_name"], row["last_name"], row["email"]) == ("Alice", "Admin", "alice.admin@example.com")
    assert row["password"] == NO_PASSWORD  # no password at all: not a hash of the empty one
    assert not check_password_hash(row["password"], "")


def test_viewer_gets_exactly_the_mapped_roles_without_public(af: Stack):
    session, final = okta_login(af.url, *BOB)
    assert final.status_code == 200
    assert user_roles(af.db_url, "bob.viewer@example.com") == {"Viewer", "Op"}


def test_unmapped_user_is_refused_with_an_explanation_and_no_session(af: Stack):
    session, final = okta_login(af.url, *CAROL)
    assert final.status_code == 403
    # Post/redirect/get: the callback answers 303 to a stable address, where a reload shows the same page.
    assert final.url == f"{af.url}/auth/okta/refused/"
    assert final.history[-1].status_code == 303
    assert "/auth/oauth-authorized/okta" in final.history[-1].url
    again = session.get(final.url, timeout=30)
    assert again.status_code == 403
    assert 'id="okta-reason">no_mapped_role<' in again.text
    assert "carol.nobody@example.com" in final.text
    assert "marketing" in final.text
    assert "None of these groups is mapped to an Airflow role" in final.text
    assert "no_mapped_role" in final.text
    assert "_token" not in session.cookies
    assert api_status(session, af.url) == 401
    assert user_roles(af.db_url, "carol.nobody@example.com") is None


def test_mapping_edit_applies_at_next_login_without_restart(af: Stack):
    okta_login(af.url, *ALICE)  # any request primes the store's check clock
    rewrite(af.mapping, af.original_mapping.replace("mappings:\n", "mappings:\n  marketing: [Viewer]\n", 1))
    time.sleep(MAPPING_CHECK_INTERVAL)
    session, final = okta_login(af.url, *CAROL)
    assert final.status_code == 200, final.text[:500]
    assert user_roles(af.db_url, "carol.nobody@example.com") == {"Viewer"}
    assert api_status(session, af.url) == 200


def test_broken_mapping_edit_keeps_the_last_good_mapping(af: Stack):
    rewrite(af.mapping, "default_role: null\nmappings:\n  airflow-admins: [Admn]\n  - broken\n")
    time.sleep(MAPPING_CHECK_INTERVAL)
    session, final = okta_login(af.url, *ALICE)
    assert final.status_code == 200
    assert user_roles(af.db_url, "alice.admin@example.com") == {"Admin"}
    log = af.airflow.log_tail(200_000)
    assert "okta_role_mapping.yaml rejected; still using version" in log
    assert "okta_role_mapping.yaml:4: YAML syntax error" in log


def test_group_removed_in_okta_removes_the_role_at_next_login(af: Stack):
    okta_login(af.url, *BOB)
    assert user_roles(af.db_url, "bob.viewer@example.com") == {"Viewer", "Op"}
    edit_idp(af, lambda d: user(d, "bob")["groups"].remove("airflow-ops"))
    session, final = okta_login(af.url, *BOB)
    assert final.status_code == 200
    assert user_roles(af.db_url, "bob.viewer@example.com") == {"Viewer"}


def test_profile_is_updated_from_okta_at_every_login(af: Stack):
    okta_login(af.url, *ALICE)

    def rename(d):
        alice = user(d, "alice")
        alice["given_name"], alice["family_name"], alice["email"] = "Alicia", "Adminova", "alicia@example.com"

    edit_idp(af, rename)
    okta_login(af.url, *ALICE)
    row = user_row(af.db_url, "alice.admin@example.com")
    assert (row["first_name"], row["last_name"], row["email"]) == ("Alicia", "Adminova", "alicia@example.com")


def test_groups_come_from_userinfo_when_the_id_token_has_none(af: Stack):
    # A "thin" ID token (Okta: claim included only for userinfo requests): groups only at userinfo.
    edit_idp(af, lambda d: d["server"].update(faults={"id_token_groups": False}))
    session, final = okta_login(af.url, *BOB)
    assert final.status_code == 200, final.text[:500]
    assert user_roles(af.db_url, "bob.viewer@example.com") == {"Viewer", "Op"}


def test_userinfo_naming_another_user_is_refused(af: Stack):
    edit_idp(
        af, lambda d: d["server"].update(faults={"id_token_groups": False, "userinfo_sub": "00uadmin000000000001"})
    )
    before = user_roles(af.db_url, "bob.viewer@example.com")
    session, final = okta_login(af.url, *BOB)
    assert final.status_code == 403
    assert "userinfo_sub_mismatch" in final.text
    assert user_roles(af.db_url, "bob.viewer@example.com") == before
    assert "_token" not in session.cookies


def test_next_is_honoured_when_same_origin(af: Stack):
    session, final = okta_login(af.url, *ALICE, next_path="/dags")
    assert final.status_code == 200
    assert final.url == f"{af.url}/dags"
    session, final = okta_login(af.url, *ALICE, next_path="//evil.example/x")
    assert "evil.example" not in final.url
