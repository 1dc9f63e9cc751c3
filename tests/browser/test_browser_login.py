"""The main login path in a real browser: Playwright driving Debian's chromium (no download)."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.conftest import Stack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium") and not shutil.os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is required: `make test` installs it (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def test_admin_signs_in_with_okta_and_sees_the_airflow_ui(browser, af: Stack, tmp_path):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{af.url}/", wait_until="domcontentloaded")
    # Airflow sends an anonymous visitor to the login, which goes straight to Okta's sign-in form.
    page.wait_for_selector("#okta-signin-username", timeout=60_000)
    page.fill("#okta-signin-username", "alice.admin@example.com")
    page.fill("#okta-signin-password", "Admin-pass-1")
    page.click("#okta-signin-submit")
    page.wait_for_url(f"{af.url}/**", timeout=60_000)
    # The Airflow 3 React UI renders its navigation once the API accepts the session.
    page.get_by_role("link", name="Dags").first.wait_for(timeout=60_000)
    assert page.url.startswith(af.url)
    assert "/auth/" not in page.url
    page.screenshot(path=str(tmp_path / "airflow-home.png"))
    cookies = {c["name"] for c in context.cookies()}
    assert "_token" in cookies
    context.close()


def test_unmapped_user_sees_the_refusal_page_in_the_browser(browser, af: Stack):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{af.url}/auth/login/okta", wait_until="domcontentloaded")
    page.fill("#okta-signin-username", "carol.nobody@example.com")
    page.fill("#okta-signin-password", "Nobody-pass-1")
    page.click("#okta-signin-submit")
    page.wait_for_selector("#okta-refusal-message", timeout=60_000)
    assert "carol.nobody@example.com" in page.inner_text("#okta-username")
    assert "marketing" in page.inner_text("#okta-groups")
    assert "_token" not in {c["name"] for c in context.cookies()}
    context.close()


def test_okta_dashboard_tile_signs_in_and_a_foreign_iss_is_refused(browser, af: Stack):
    context = browser.new_context()
    page = context.new_page()
    # Signed in at Okta first, on its dashboard; then the Airflow tile (OIDC third-party initiated login).
    page.goto(f"{af.idp.base_url}/app/UserHome", wait_until="domcontentloaded")
    page.fill("#okta-signin-username", "alice.admin@example.com")
    page.fill("#okta-signin-password", "Admin-pass-1")
    page.click("#okta-signin-submit")
    page.click("#okta-tile-airflow-local")
    page.wait_for_url(f"{af.url}/**", timeout=60_000)
    page.get_by_role("link", name="Dags").first.wait_for(timeout=60_000)
    assert "/auth/" not in page.url
    assert "_token" in {c["name"] for c in context.cookies()}
    context.close()

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{af.url}/auth/login/okta?iss=https%3A%2F%2Fevil.example", wait_until="domcontentloaded")
    assert page.inner_text("#okta-reason") == "foreign_issuer"
    assert "evil.example" not in page.content()
    assert "_token" not in {c["name"] for c in context.cookies()}
    context.close()
