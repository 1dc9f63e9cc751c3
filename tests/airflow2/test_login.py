"""The same webserver_config.py on Airflow 2.11 with the FAB provider 1.5 (``airflow webserver``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import requests
import sqlalchemy as sa

from okta_local_idp.testing import parse_form
from tests.integration.helpers import rewrite, user_roles

if TYPE_CHECKING:
    from tests.airflow2.conftest import Stack2

ALICE = ("alice.admin@example.com", "Admin-pass-1")
BOB = ("bob.viewer@example.com", "Viewer-pass-1")
CAROL = ("carol.nobody@example.com", "Nobody-pass-1")
MAPPING_CHECK_INTERVAL = 1.1  # MappingStore stats the file at most once a second


def okta_login(url: str, username: str, password: str) -> tuple[requests.Session, requests.Response]:
    """Sign in through Airflow 2's /login/okta and the IdP's form, as a browser would."""
    s = requests.Session()
    page = s.get(f"{url}/login/okta", timeout=60)
    assert page.status_code == 200, page.text[:500]
    assert page.url.startswith(url) is False, "expected to land on the IdP's sign-in page"
    form = parse_form(page.text, page.url)
    final = s.post(form.action, data={**form.fields, "username": username, "password": password}, timeout=60)
    return s, final


def audit_events(db_url: str, owner: str) -> set[str]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT event FROM log WHERE owner = :o"), {"o": owner})
            return {r[0] for r in rows}
    finally:
        engine.dispose()


def api_status(session: requests.Session, url: str) -> int:
    return session.get(f"{url}/api/v1/dags", timeout=30).status_code


def test_the_airflow_2_webserver_runs_our_webserver_config(af2: Stack2):
    login = requests.get(f"{af2.url}/login/", timeout=30, allow_redirects=False)
    assert login.status_code == 302
    assert login.headers["Location"].endswith("/login/okta")  # straight to Okta, no chooser page
    version = af2.airflow.airflow("version").stdout.strip().splitlines()[-1]
    assert version.startswith("2.11."), version


def test_admin_signs_in_with_okta_and_gets_admin(af2: Stack2):
    session, final = okta_login(af2.url, *ALICE)
    assert final.status_code == 200, final.text[:500]
    assert final.url.rstrip("/").endswith("/home")
    assert user_roles(af2.db_url, "alice.admin@example.com") == {"Admin"}
    assert api_status(session, af2.url) == 200  # Airflow 2's session auth backend accepts the login
    assert "login.succeeded" in audit_events(af2.db_url, "alice.admin@example.com")  # Airflow 2's Audit Log too
    assert "audit sink airflow_log_table failed" not in af2.airflow.log_tail(500_000)


def test_viewer_gets_exactly_the_mapped_role_without_public(af2: Stack2):
    _session, final = okta_login(af2.url, *BOB)
    assert final.status_code == 200
    assert user_roles(af2.db_url, "bob.viewer@example.com") == {"Viewer"}


def test_unmapped_user_is_refused_with_an_explanation_and_no_session(af2: Stack2):
    session, final = okta_login(af2.url, *CAROL)
    assert final.status_code == 403
    assert final.url == f"{af2.url}/okta/refused/"  # post/redirect/get from the callback
    assert final.history[-1].url.startswith(f"{af2.url}/oauth-authorized/okta")
    assert "carol.nobody@example.com" in final.text
    assert "marketing" in final.text
    assert "None of these groups is mapped to an Airflow role" in final.text
    assert "no_mapped_role" in final.text
    assert 'id="airflow-logo" src="data:image/png;base64,' in final.text  # Airflow 2.11's own pin
    assert "font-family:'Helvetica Neue'" in final.text  # Airflow 2's theme, not Airflow 3's Inter
    assert api_status(session, af2.url) in (401, 403)
    assert user_roles(af2.db_url, "carol.nobody@example.com") is None


def test_mapping_edit_applies_at_next_login_without_restart(af2: Stack2):
    okta_login(af2.url, *ALICE)  # any login primes the store's check clock
    rewrite(af2.mapping, af2.original_mapping.replace("mappings:\n", "mappings:\n  marketing: [Viewer]\n", 1))
    time.sleep(MAPPING_CHECK_INTERVAL)
    session, final = okta_login(af2.url, *CAROL)
    assert final.status_code == 200, final.text[:500]
    assert user_roles(af2.db_url, "carol.nobody@example.com") == {"Viewer"}
    assert api_status(session, af2.url) == 200


def test_airflow_2_logout_ends_the_okta_session_too(af2: Stack2):
    session, final = okta_login(af2.url, *ALICE)
    assert final.status_code == 200
    first = session.get(f"{af2.url}/logout/", allow_redirects=False, timeout=30)
    assert first.status_code == 302
    location = first.headers["Location"]
    assert "/oauth2/default/v1/logout?" in location
    assert "id_token_hint=" in location
    assert "post_logout_redirect_uri=" in location
    assert api_status(session, af2.url) in (401, 403)  # the Airflow session is gone at once


def test_okta_dashboard_tile_signs_in_on_airflow_2_and_a_foreign_iss_is_refused(af2: Stack2):
    # OIDC third-party initiated login at Airflow 2.11's /login/okta: iss, login_hint, target_link_uri.
    s = requests.Session()
    org = af2.issuer.rsplit("/oauth2/", 1)[0]  # Okta's dashboard sends the org URL
    params = {"iss": org, "login_hint": ALICE[0], "target_link_uri": f"{af2.url}/variable/list/"}
    page = s.get(f"{af2.url}/login/okta", params=params, timeout=60)
    assert 'value="alice.admin@example.com"' in page.text  # the hint reached Okta's form
    form = parse_form(page.text, page.url)
    final = s.post(form.action, data={**form.fields, "username": ALICE[0], "password": ALICE[1]}, timeout=60)
    assert final.status_code == 200, final.text[:300]
    assert final.url == f"{af2.url}/variable/list/"
    refused = requests.get(f"{af2.url}/login/okta", params={"iss": "https://evil.example"}, timeout=60)
    assert refused.status_code == 403
    assert 'id="okta-reason">foreign_issuer<' in refused.text
