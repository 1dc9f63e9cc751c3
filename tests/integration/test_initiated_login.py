"""Sign-in started by Okta (the dashboard tile): OIDC third-party initiated login through a real api-server."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from tests.integration.helpers import FromAddress, _FormParser, user_roles

if TYPE_CHECKING:
    from tests.conftest import Stack

ALICE = ("alice.admin@example.com", "Admin-pass-1")


def _org(af: Stack) -> str:
    return af.idp.base_url  # what Okta's dashboard sends as iss: the org, not the authorization server


def _sign_in_at_okta(s: requests.Session, page: requests.Response, password: str) -> requests.Response:
    parser = _FormParser()
    parser.feed(page.text)
    assert parser.action is not None, page.text[:300]
    username = page.text.split('id="okta-signin-username" value="', 1)[1].split('"', 1)[0]
    return s.post(urljoin(page.url, parser.action), data={"username": username, "password": password}, timeout=60)


def test_initiated_login_starts_the_code_flow_with_pkce_state_nonce_and_the_hint(af: Stack):
    s = requests.Session()
    start = s.get(
        f"{af.url}/auth/login/okta",
        params={"iss": af.issuer, "login_hint": ALICE[0], "target_link_uri": f"{af.url}/dags?tags=x"},
        allow_redirects=False,
        timeout=30,
    )
    assert start.status_code == 302, start.text[:300]
    authorize = urlsplit(start.headers["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{af.issuer}/v1/authorize"
    query = parse_qs(authorize.query)
    assert query["login_hint"] == [ALICE[0]]
    assert query["code_challenge_method"] == ["S256"]
    assert all(query[name] for name in ("state", "nonce", "code_challenge"))
    # Okta pre-fills the hinted login; signing in lands on the target, not on the home page.
    page = s.get(start.headers["Location"], timeout=30)
    final = _sign_in_at_okta(s, page, ALICE[1])
    assert final.status_code == 200, final.text[:300]
    assert final.url == f"{af.url}/dags?tags=x"
    assert "_token" in s.cookies
    assert user_roles(af.db_url, ALICE[0]) == {"Admin"}


def test_tile_posted_as_a_form_with_the_org_as_iss_signs_in(af: Stack):
    # OIDC Core §4 allows the initiator to post the parameters; Okta's dashboard sends the org URL.
    s = requests.Session()
    s.mount(af.url, FromAddress("127.0.0.29"))
    page = s.post(f"{af.url}/auth/login/okta", data={"iss": _org(af), "login_hint": ALICE[0]}, timeout=30)
    assert page.status_code == 200, page.text[:300]
    assert page.url.startswith(f"{af.issuer}/v1/authorize")
    final = _sign_in_at_okta(s, page, ALICE[1])
    assert final.status_code == 200
    assert urlsplit(final.url).netloc == urlsplit(af.url).netloc
    assert "_token" in s.cookies


def test_a_foreign_iss_is_refused_on_the_refusal_page_and_okta_is_never_asked(af: Stack):
    s = requests.Session()
    evil = "https://evil.example/oauth2/default"
    page = s.get(f"{af.url}/auth/login/okta", params={"iss": evil, "target_link_uri": f"{af.url}/dags"}, timeout=30)
    assert page.status_code == 403
    assert page.url == f"{af.url}/auth/okta/refused/"
    assert 'id="okta-reason">foreign_issuer<' in page.text
    assert "evil.example" not in page.text  # the link's words never appear on Airflow's page
    assert all(af.idp.base_url not in r.headers.get("Location", "") for r in page.history)
    assert "_token" not in s.cookies


def test_a_foreign_target_is_ignored_and_the_sign_in_lands_home(af: Stack):
    s = requests.Session()
    query = urlencode({"iss": af.issuer, "login_hint": ALICE[0], "target_link_uri": "https://evil.example/"})
    page = s.get(f"{af.url}/auth/login/okta?{query}", timeout=30)
    final = _sign_in_at_okta(s, page, ALICE[1])
    assert final.status_code == 200
    assert urlsplit(final.url).netloc == urlsplit(af.url).netloc
    assert "_token" in s.cookies


def test_signed_in_person_following_the_tile_goes_straight_to_the_target(af: Stack):
    s = requests.Session()
    page = s.get(f"{af.url}/auth/login/okta", params={"iss": af.issuer, "login_hint": ALICE[0]}, timeout=30)
    _sign_in_at_okta(s, page, ALICE[1])
    again = s.get(
        f"{af.url}/auth/login/okta",
        params={"iss": _org(af), "target_link_uri": f"{af.url}/dags"},
        allow_redirects=False,
        timeout=30,
    )
    assert again.status_code in (302, 303)
    assert again.headers["Location"].endswith("/dags")
