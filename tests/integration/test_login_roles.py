"""Role changes at login take effect at once, and a mapped role deleted from Airflow is a clean refusal."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import requests
import sqlalchemy as sa

from tests.conftest import MAPPING_SETTLE_SECONDS
from tests.integration.helpers import okta_login, rewrite, user_roles, user_row
from tests.integration.test_audit import audit_rows, last_log_id
from tests.integration.test_doctor import doctor

if TYPE_CHECKING:
    from tests.conftest import Stack

ALICE = ("alice.admin@example.com", "Admin-pass-1")
CAROL = ("carol.nobody@example.com", "Nobody-pass-1")
MAPPING_CHECK_INTERVAL = MAPPING_SETTLE_SECONDS  # after an edit: OKTA_ROLE_MAPPING_CHECK_SECONDS and a margin
TRANSIENT_ROLE = "TransientMarketing"


def event_logs_status(url: str, *, session=None, token: str | None = None) -> int:
    """GET /api/v2/eventLogs (Admin only among the built-in roles) with a session cookie or a bearer JWT."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    get = session.get if session is not None else requests.get
    return get(f"{url}/api/v2/eventLogs", params={"limit": 1}, headers=headers, timeout=30).status_code


def run_sql(db_url: str, *statements: tuple[str, dict]) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            for sql, params in statements:
                conn.execute(sa.text(sql), params)
    finally:
        engine.dispose()


def test_a_demotion_applies_to_the_very_first_api_request_after_the_login(af: Stack):
    admin_session, final = okta_login(af.url, *ALICE)
    assert final.status_code == 200, final.text[:300]
    old_jwt = admin_session.cookies["_token"]
    # This request puts Alice, as an Admin, in the auth manager's per-process user cache ([fab] cache_ttl).
    assert event_logs_status(af.url, session=admin_session) == 200

    rewrite(af.mapping, af.original_mapping.replace("airflow-admins: [Admin]", "airflow-admins: [Viewer]", 1))
    time.sleep(MAPPING_CHECK_INTERVAL)
    viewer_session, final = okta_login(af.url, *ALICE)
    assert final.status_code == 200, final.text[:300]
    assert user_roles(af.db_url, ALICE[0]) == {"Viewer"}

    # No waiting for the cache to expire: the login that demoted her dropped her from it.
    assert event_logs_status(af.url, session=viewer_session) == 403
    assert event_logs_status(af.url, token=old_jwt) == 403  # the JWT minted while she was Admin too
    assert viewer_session.get(f"{af.url}/api/v2/dags", timeout=30).status_code == 200  # still a Viewer

    af.reset_files()
    okta_login(af.url, *ALICE)  # Admin again for the tests that follow
    assert user_roles(af.db_url, ALICE[0]) == {"Admin"}


def test_a_person_whose_groups_map_to_nothing_is_refused_and_loses_earlier_access_until_mapped_again(af: Stack):
    admin_session, final = okta_login(af.url, *ALICE)
    assert final.status_code == 200, final.text[:300]
    old_jwt = admin_session.cookies["_token"]
    assert event_logs_status(af.url, token=old_jwt) == 200  # cached in this process as an Admin

    try:
        rewrite(af.mapping, af.original_mapping.replace("  airflow-admins: [Admin]\n", "", 1))
        time.sleep(MAPPING_CHECK_INTERVAL)
        since = last_log_id(af.db_url)
        _, final = okta_login(af.url, *ALICE)
        assert final.status_code == 403, final.text[:500]
        assert "no_mapped_role" in final.text

        # Refusing the new sign-in is not enough: the JWT she got as an Admin stops working at once.
        assert event_logs_status(af.url, token=old_jwt) in (401, 403)
        assert not user_row(af.db_url, ALICE[0])["active"]
        assert user_roles(af.db_url, ALICE[0]) == {"Admin"}  # kept, not stripped: nothing is lost
        [row] = audit_rows(af.db_url, event="user.deactivated", since_id=since)
        assert row["owner"] == ALICE[0]
        assert row["extra"]["reason"] == "no_mapped_role"
        assert row["extra"]["trigger"] == "login"
        assert row["extra"]["roles"] == ["Admin"]
    finally:
        af.reset_files()

    # Mapped again: her next sign-in reactivates the account okta_security deactivated.
    since = last_log_id(af.db_url)
    session, final = okta_login(af.url, *ALICE)
    assert final.status_code == 200, final.text[:300]
    assert user_row(af.db_url, ALICE[0])["active"]
    assert event_logs_status(af.url, session=session) == 200
    assert audit_rows(af.db_url, event="user.reactivated", since_id=since)


def test_a_mapped_role_deleted_from_airflow_refuses_with_its_code_and_is_audited(af: Stack):
    af.airflow_command("roles", "create", TRANSIENT_ROLE)
    role_id_sql = "(SELECT id FROM ab_role WHERE name = :n)"
    try:
        rewrite(
            af.mapping, af.original_mapping.replace("mappings:\n", f"mappings:\n  marketing: [{TRANSIENT_ROLE}]\n", 1)
        )
        time.sleep(MAPPING_CHECK_INTERVAL)
        okta_login(af.url, *ALICE)  # any request lets the store see the edit; the role exists, so it is accepted
        # An administrator deletes the role in Airflow while the mapping still names it.
        run_sql(
            af.db_url,
            (f"DELETE FROM ab_permission_view_role WHERE role_id = {role_id_sql}", {"n": TRANSIENT_ROLE}),
            (f"DELETE FROM ab_user_role WHERE role_id = {role_id_sql}", {"n": TRANSIENT_ROLE}),
            ("DELETE FROM ab_role WHERE name = :n", {"n": TRANSIENT_ROLE}),
        )
        since = last_log_id(af.db_url)
        carol_before = user_roles(
            af.db_url, CAROL[0]
        )  # an earlier test on this shared server may have left her account
        session, final = okta_login(af.url, *CAROL)
        assert final.status_code == 403, final.text[:500]  # a refusal page, not an HTTP 500
        assert "mapped_role_missing" in final.text
        assert TRANSIENT_ROLE in final.text
        assert "_token" not in session.cookies
        assert user_roles(af.db_url, CAROL[0]) == carol_before  # the refusal wrote nothing
        [row] = audit_rows(af.db_url, event="login.refused", since_id=since)
        assert row["owner"] == CAROL[0]
        assert row["extra"]["reason"] == "mapped_role_missing"
        assert row["extra"]["missing_roles"] == [TRANSIENT_ROLE]
        assert "marketing" in row["extra"]["groups"]
        assert row["extra"]["sub"] == "00unobody00000000003"

        # okta-airflow doctor, run with the webserver's environment, names the role that is gone.
        code, checks = doctor(af.airflow.env())
        assert code == 1
        assert checks["roles"]["status"] == "fail"
        assert f"unknown role '{TRANSIENT_ROLE}'" in checks["roles"]["detail"]
    finally:
        run_sql(af.db_url, ("DELETE FROM ab_role WHERE name = :n", {"n": TRANSIENT_ROLE}))
