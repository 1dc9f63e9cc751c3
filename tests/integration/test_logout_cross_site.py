"""A logout another site starts ends Airflow's session at most; the Okta session ends only once the person confirms.

The browser's word on who started a request is ``Sec-Fetch-Site``; older browsers are judged by
``Origin`` or ``Referer``. ``requests`` sends none of them unless told, like a script or a bookmark.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from okta_local_idp.testing import is_sign_in_page
from tests.integration.helpers import _FormParser, okta_login, own_address

if TYPE_CHECKING:
    import requests

    from tests.conftest import Stack

ALICE = ("alice.admin@example.com", "Admin-pass-1")
LOGOUT = "/auth/okta/logout/"
EVIL = "https://evil.example"
pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)  # no database in this path


def signed_in(af: Stack) -> requests.Session:
    session, final = okta_login(af.url, *ALICE)
    own_address(session, af.url, str(uuid.uuid4()))  # its logout POSTs spend no other test's rate-limit budget
    assert final.status_code == 200, final.text[:500]
    assert session.get(f"{af.url}/api/v2/dags", timeout=30).status_code == 200
    return session


def okta_session_alive(af: Stack, session: requests.Session) -> bool:
    """Return whether Okta signs the browser straight back in (no sign-in form)."""
    page = session.get(f"{af.url}/auth/login/okta", timeout=30)
    return not is_sign_in_page(page)


def assert_goes_to_okta_logout(af: Stack, response: requests.Response) -> None:
    assert response.status_code == 302, response.text[:500]
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{af.issuer}/v1/logout"
    assert parse_qs(target.query)["id_token_hint"][0].count(".") == 2


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Sec-Fetch-Site": "cross-site", "Referer": f"{EVIL}/"}, id="sec-fetch-site"),
        pytest.param({"Sec-Fetch-Site": "same-site"}, id="sibling-subdomain"),
        pytest.param({"Referer": f"{EVIL}/page"}, id="old-browser-referer"),
        pytest.param({"Origin": "null"}, id="old-browser-opaque-origin"),
    ],
)
def test_a_cross_site_logout_ends_airflow_s_session_and_asks_before_okta_s(af: Stack, headers: dict) -> None:
    session = signed_in(af)
    page = session.get(f"{af.url}{LOGOUT}", headers=headers, allow_redirects=False, timeout=30)
    assert page.status_code == 200, page.headers.get("Location")
    assert 'id="okta-logout-form" method="post"' in page.text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"].startswith("no-store")
    assert "_token" not in session.cookies  # Airflow's session: ended
    assert session.get(f"{af.url}/api/v2/dags", timeout=30).status_code == 401
    assert okta_session_alive(af, session)  # Okta's: untouched until the person confirms


def test_confirming_ends_the_okta_session(af: Stack) -> None:
    session = signed_in(af)
    page = session.get(f"{af.url}{LOGOUT}", headers={"Sec-Fetch-Site": "cross-site"}, timeout=30)
    form = _FormParser()
    form.feed(page.text)
    assert form.fields.get("csrf_token")
    confirmed = session.post(
        urljoin(page.url, form.action or ""),
        data=form.fields,
        headers={"Sec-Fetch-Site": "same-origin", "Origin": af.url},
        allow_redirects=False,
        timeout=30,
    )
    assert_goes_to_okta_logout(af, confirmed)
    back = session.get(confirmed.headers["Location"], timeout=30)
    assert is_sign_in_page(back), back.url  # Okta's session ended: its form, not a silent sign-in


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_a_confirmation_without_the_page_s_csrf_token_ends_nothing(af: Stack, token: str | None) -> None:
    session = signed_in(af)
    session.get(f"{af.url}{LOGOUT}", headers={"Sec-Fetch-Site": "cross-site"}, timeout=30)
    forged = session.post(
        f"{af.url}{LOGOUT}", data={"csrf_token": token} if token else {}, allow_redirects=False, timeout=30
    )
    assert forged.status_code == 400
    assert "Location" not in forged.headers
    assert okta_session_alive(af, session)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Sec-Fetch-Site": "same-origin"}, id="the-ui-and-the-refusal-page"),
        pytest.param({"Sec-Fetch-Site": "none"}, id="typed-or-bookmarked"),
        pytest.param({}, id="no-browser-headers"),
        pytest.param({"Referer": "{url}/home"}, id="old-browser-own-referer"),
    ],
)
def test_airflow_s_own_logout_goes_straight_to_okta(af: Stack, headers: dict) -> None:
    session = signed_in(af)
    headers = {k: v.format(url=af.url) for k, v in headers.items()}
    first = session.get(f"{af.url}{LOGOUT}", headers=headers, allow_redirects=False, timeout=30)
    assert_goes_to_okta_logout(af, first)
    assert not re.search(r"okta-logout-form", first.text)
