"""Airflow 2.11's refusal page in chromium: Airflow 2's look (its pin, Helvetica Neue, #017cee), no script."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.browser.test_browser_login import browser  # noqa: F401 - the module's chromium
from tests.browser.test_browser_pages import shot

if TYPE_CHECKING:
    from tests.airflow2.conftest import Stack2

CAROL = ("carol.nobody@example.com", "Nobody-pass-1")


def test_refusal_page_has_airflow_2_s_look_and_survives_a_reload(browser, af2: Stack2):  # noqa: F811
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{af2.url}/login/okta", wait_until="domcontentloaded")
    page.fill("#okta-signin-username", CAROL[0])
    page.fill("#okta-signin-password", CAROL[1])
    page.click("#okta-signin-submit")
    page.wait_for_selector("#okta-refusal-message", timeout=60_000)
    assert page.url == f"{af2.url}/okta/refused/"
    logo = page.locator("#airflow-logo")
    assert logo.is_visible()
    assert logo.evaluate("img => img.complete && img.naturalWidth") >= 32
    assert page.locator("body").evaluate("b => getComputedStyle(b).fontFamily").startswith('"Helvetica Neue"')
    retry = page.locator("#okta-retry").evaluate("a => getComputedStyle(a).backgroundColor")
    assert retry == "rgb(1, 124, 238)"  # Airflow 2's .btn-primary, #017cee
    assert page.inner_text("#okta-reason") == "no_mapped_role"
    assert page.inner_text("body").count(CAROL[0]) == 1
    shot(page, "refusal-airflow2")
    page.reload(wait_until="domcontentloaded")
    assert page.inner_text("#okta-reason") == "no_mapped_role"
    context.close()
