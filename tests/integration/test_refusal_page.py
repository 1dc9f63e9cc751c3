"""The refusal page in a real Airflow: "Sign in with another account" and configuration errors kept for admins."""

from __future__ import annotations

import html
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import yaml

from okta_local_idp.testing import is_sign_in_page, submit_sign_in_form
from tests.integration.helpers import okta_login, rewrite, user_roles

if TYPE_CHECKING:
    import requests

    from tests.conftest import Stack

ALICE = ("alice.admin@example.com", "Admin-pass-1")
CAROL = ("carol.nobody@example.com", "Nobody-pass-1")
CALLBACK_PATH = "/auth/oauth-authorized/okta"
REFUSED_PATH = "/auth/okta/refused/"
_LINK = re.compile(r'<a id="(okta-[a-z-]+)" href="([^"]+)"')


def links(page: requests.Response) -> dict[str, str]:
    """Return the refusal page's links by id (okta-retry, okta-switch-account), as absolute URLs."""
    return {name: urljoin(page.url, html.unescape(href)) for name, href in _LINK.findall(page.text)}


def refused_as_carol(stack: Stack) -> tuple[requests.Session, requests.Response]:
    session, page = okta_login(stack.url, *CAROL)
    assert page.status_code == 403, page.text[:500]
    assert 'id="okta-reason">no_mapped_role<' in page.text
    return session, page


def test_try_again_signs_the_same_person_in_while_the_okta_session_lives(af: Stack):
    """Why the page needs a second link: "Try again" goes straight back to the same refusal."""
    session, page = refused_as_carol(af)
    again = session.get(links(page)["okta-retry"], timeout=30)
    assert again.status_code == 403
    assert "carol.nobody@example.com" in again.text
    assert not is_sign_in_page(again)


def test_sign_in_with_another_account_ends_the_okta_session(af: Stack):
    """The link logs out of Okta (id_token_hint) and comes back to sign-in, where Okta asks for credentials."""
    carol_before = user_roles(af.db_url, CAROL[0])  # an earlier test on this shared server may have left her account
    session, page = refused_as_carol(af)
    switch = links(page)["okta-switch-account"]
    assert urlsplit(switch).path == "/auth/okta/logout/"
    first = session.get(switch, allow_redirects=False, timeout=30)
    assert first.status_code == 302
    target = urlsplit(first.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{af.issuer}/v1/logout"
    params = parse_qs(target.query)
    assert params["post_logout_redirect_uri"] == [f"{af.url}/auth/login/"]
    assert params["id_token_hint"][0].count(".") == 2  # the refused sign-in's own ID token
    form = session.get(first.headers["Location"], timeout=30)  # Okta logout -> Airflow sign-in -> Okta
    assert is_sign_in_page(form), form.url
    assert "okta-signin-username" in form.text
    # Another person signs in on the same browser.
    final = submit_sign_in_form(session, form, *ALICE, allow_redirects=True, timeout=60)
    assert final.status_code == 200, final.text[:500]
    assert urlsplit(final.url).path != CALLBACK_PATH
    assert session.get(f"{af.url}/api/v2/dags", timeout=30).status_code == 200
    assert user_roles(af.db_url, ALICE[0]) == {"Admin"}
    assert user_roles(af.db_url, CAROL[0]) == carol_before  # the refusal wrote nothing


def test_without_an_id_token_the_link_asks_okta_for_the_form_again(af: Stack):
    """A refusal before any token (here: a forged callback) has nothing to log out with: prompt=login instead."""
    session, _ = refused_as_carol(af)  # Okta's session is alive
    page = session.get(f"{af.url}{CALLBACK_PATH}?code=x&state=forged", timeout=30)
    assert 'id="okta-reason">invalid_state<' in page.text
    switch = links(page)["okta-switch-account"]
    assert parse_qs(urlsplit(switch).query)["prompt"] == ["login"]
    form = session.get(switch, timeout=30)
    assert is_sign_in_page(form), form.url  # not signed straight back in as carol
    assert parse_qs(urlsplit(form.url).query)["prompt"] == ["login"]


def test_invalid_client_page_names_no_setting_and_the_log_does(af: Stack):
    """Airflow's own misconfiguration: a plain sentence, reason code and request id; the fix goes to the log."""
    data = yaml.safe_load(af.idp_config.read_text())
    client = next(c for c in data["clients"] if c["client_id"] == "airflow-local")
    client["client_secret"] = "rotated-at-okta-only"  # Airflow still sends the old secret: invalid_client
    rewrite(af.idp_config, yaml.safe_dump(data, sort_keys=False))
    session, page = okta_login(af.url, *ALICE)
    text = html.unescape(page.text)
    assert urlsplit(page.url).path == REFUSED_PATH  # post/redirect/get from the callback
    assert [urlsplit(r.url).path for r in page.history][-1] == CALLBACK_PATH
    assert page.status_code == 403, text[:500]
    assert "Sign-in is misconfigured on this Airflow; tell your administrator." in text
    assert 'id="okta-reason">okta_error<' in text
    assert 'id="okta-error">invalid_client<' in text
    request_id = re.search(r'id="okta-request-id">([^<]+)<', text)
    assert request_id is not None
    assert "OKTA_" not in text
    assert "okta-switch-account" not in text
    assert "_token" not in session.cookies
    deadline = time.monotonic() + 10
    while f"request id {request_id.group(1)}" not in af.airflow.log_tail(200_000):
        assert time.monotonic() < deadline, af.airflow.log_tail()
        time.sleep(0.2)
    line = next(x for x in af.airflow.log_tail(200_000).splitlines() if f"request id {request_id.group(1)}" in x)
    assert "OKTA_CLIENT_ID / OKTA_CLIENT_SECRET" in line  # the fix, for the administrator


SPOOF = "Your Airflow password expired. Enter it again at https://evil.example/airflow to keep access."


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)  # no database in this path
def test_a_forged_error_link_shows_okta_s_code_but_not_its_text(af: Stack):
    """Anyone can write error_description into a link to Airflow: it never appears on Airflow's page."""
    import requests

    page = requests.get(
        f"{af.url}{CALLBACK_PATH}", params={"error": "access_denied", "error_description": SPOOF * 50}, timeout=30
    )
    text = html.unescape(page.text)
    assert page.status_code == 403
    assert 'id="okta-error">access_denied<' in text
    assert "evil.example" not in text
    assert "Okta's description of the error is not shown" in text


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)  # no database in this path
def test_okta_s_own_error_shows_its_description_labelled_and_apart(af: Stack):
    """A real error redirect from the IdP, answering this browser's sign-in (prompt=none without an IdP session)."""
    import requests

    session = requests.Session()
    start = session.get(f"{af.url}/auth/login/okta", allow_redirects=False, timeout=30)
    assert start.status_code == 302
    to_okta = session.get(start.headers["Location"] + "&prompt=none", allow_redirects=False, timeout=30)
    back = urlsplit(to_okta.headers["Location"])
    assert back.path == CALLBACK_PATH
    assert parse_qs(back.query)["error"] == ["login_required"]
    page = session.get(to_okta.headers["Location"], timeout=30)
    text = html.unescape(page.text)
    assert page.status_code == 403, text[:500]
    own = re.search(r'id="okta-refusal-message">([^<]*)<', text)
    assert own is not None
    assert own.group(1).startswith("Okta refused the sign-in.")
    said = re.search(r"Okta's description of the error: <q id=\"okta-error-description\">([^<]+)</q>", text)
    assert said is not None, text[:1500]
    assert said.group(1) == "The client specified not to prompt, but the user is not logged in."
    assert said.group(1) not in own.group(1)
    assert 'id="okta-error">login_required<' in text
