"""Sessions: fresh per login, a hard lifetime that caps the API token, and logout that reaches Okta."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.helpers import okta_login

if TYPE_CHECKING:
    from tests.conftest import Stack

ALICE = ("alice.admin@example.com", "Admin-pass-1")


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_api_token_is_capped_by_the_default_12_hour_session_lifetime(af: Stack):
    session, final = okta_login(af.url, *ALICE)
    claims = jwt_claims(session.cookies["_token"])
    # [api_auth] jwt_expiration_time defaults to 24 h; our default session cap is 12 h.
    assert claims["exp"] - claims["iat"] <= 720 * 60
    assert claims["exp"] - claims["iat"] > 700 * 60


def test_logout_ends_the_okta_session_too(af: Stack):
    session, final = okta_login(af.url, *ALICE)
    assert session.get(f"{af.url}/api/v2/dags", timeout=30).status_code == 200
    first = session.get(f"{af.url}/auth/okta/logout/", allow_redirects=False, timeout=30)
    assert first.status_code == 302
    target = urlsplit(first.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{af.issuer}/v1/logout"
    params = parse_qs(target.query)
    assert params["post_logout_redirect_uri"] == [f"{af.url}/auth/login/"]
    assert params["id_token_hint"][0].count(".") == 2
    assert "state" in params
    # Following the redirects: Okta ends its session, so the next login shows Okta's form again.
    back = session.get(first.headers["Location"], timeout=30)
    assert "okta-signin-username" in back.text, back.url
    assert "_token" not in session.cookies
    assert session.get(f"{af.url}/api/v2/dags", timeout=30).status_code == 401


def test_logout_without_an_id_token_still_logs_out(af: Stack):
    import requests

    anonymous = requests.Session()
    first = anonymous.get(f"{af.url}/auth/okta/logout/", allow_redirects=False, timeout=30)
    assert first.status_code == 302
    params = parse_qs(urlsplit(first.headers["Location"]).query)
    assert "id_token_hint" not in params
    assert first.headers["Location"].startswith(f"{af.issuer}/v1/logout")


@pytest.fixture(scope="module")
def db_session_stack(tmp_path_factory):
    """A second api-server: server-side sessions ([fab] session_backend = database) and okta_security's auth manager."""
    from tests.stacks import StackSpec, running_stack

    spec = StackSpec(
        auth_manager="okta_security.auth_manager.OktaFabAuthManager",
        airflow_settings={"AIRFLOW__FAB__SESSION_BACKEND": "database"},
    )
    with running_stack(spec, tmp_path_factory.mktemp("db-sessions")) as stack:
        yield stack.airflow


def test_session_id_is_rotated_at_login_with_server_side_sessions(db_session_stack):
    import requests

    from tests.integration.helpers import _FormParser

    url = db_session_stack.base_url
    s = requests.Session()
    page = s.get(f"{url}/auth/login/okta", timeout=30)
    pre_login_sid = s.cookies.get("session", domain="127.0.0.1") or s.cookies.get("session")
    assert pre_login_sid, "the login start must have created a server-side session"
    parser = _FormParser()
    parser.feed(page.text)
    from urllib.parse import urljoin

    final = s.post(urljoin(page.url, parser.action), data={**parser.fields, "username": ALICE[0], "password": ALICE[1]})
    assert final.status_code == 200, final.text[:300]
    post_login_sid = s.cookies.get("session")
    assert post_login_sid
    assert post_login_sid != pre_login_sid
    # The pre-login id is dead: presenting it does not authenticate.
    fixated = requests.Session()
    fixated.cookies.set("session", pre_login_sid)
    assert fixated.get(f"{url}/auth/login/", allow_redirects=False, timeout=30).status_code in (302, 200)
    assert "_token" not in fixated.cookies


@pytest.mark.parametrize("logout_path", ["/api/v2/auth/logout", "/auth/logout"])
def test_airflow_3_logout_urls_end_the_okta_session(db_session_stack, logout_path):
    url = db_session_stack.base_url
    session, final = okta_login(url, *ALICE)
    assert final.status_code == 200
    assert session.get(f"{url}/api/v2/dags", timeout=30).status_code == 200
    first = session.get(f"{url}{logout_path}", allow_redirects=False, timeout=30)
    assert first.status_code in (302, 307)
    assert first.headers["Location"].endswith("/auth/okta/logout/")
    to_okta = session.get(
        first.headers["Location"]
        if first.headers["Location"].startswith("http")
        else f"{url}{first.headers['Location']}",
        allow_redirects=False,
        timeout=30,
    )
    assert to_okta.status_code == 302
    assert "/oauth2/default/v1/logout?" in to_okta.headers["Location"]
    assert "id_token_hint=" in to_okta.headers["Location"]
    back = session.get(to_okta.headers["Location"], timeout=30)
    assert "okta-signin-username" in back.text  # Okta's session ended: its form, not a silent re-login
    assert session.get(f"{url}/api/v2/dags", timeout=30).status_code == 401
