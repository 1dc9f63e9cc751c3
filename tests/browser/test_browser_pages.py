"""okta_security's own pages in a real browser, with JavaScript off: Airflow's look, each fact once.

Screenshots of every page go to ``tmp/artifacts/`` (``OKTA_TEST_ARTIFACTS`` moves them) for a person
to look at; the assertions check what a screenshot shows: the logo drawn, the reason code visible,
the refusal's facts once each, and a reload that shows the same refusal.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from tests.browser.test_browser_login import browser  # noqa: F401 - the module's chromium

if TYPE_CHECKING:
    from tests.conftest import Stack

ARTIFACTS = Path(os.environ.get("OKTA_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "tmp" / "artifacts")
CAROL = ("carol.nobody@example.com", "Nobody-pass-1")
ALICE = ("alice.admin@example.com", "Admin-pass-1")


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000  # a rendered page, not a blank one
    return path


def assert_airflow_look(page) -> None:
    """Airflow's header with its logo drawn (a decoded image, on screen) and the card around the content."""
    logo = page.locator("#airflow-logo")
    assert logo.is_visible()
    box = logo.bounding_box()
    assert box is not None
    assert box["width"] >= 24
    assert box["height"] >= 24
    assert logo.evaluate("img => img.complete && img.naturalWidth") >= 32
    assert page.locator("header.af-header").inner_text().strip() == "Airflow"
    assert page.locator("#okta-card").is_visible()
    family = page.locator("body").evaluate("b => getComputedStyle(b).fontFamily")
    assert family.startswith("Inter"), family  # Airflow 3's UI font, not the browser default


def test_refusal_page_looks_like_airflow_and_survives_a_reload(browser, af: Stack):  # noqa: F811
    context = browser.new_context(java_script_enabled=False)  # the page needs no script
    page = context.new_page()
    page.goto(f"{af.url}/auth/login/okta", wait_until="domcontentloaded")
    page.fill("#okta-signin-username", CAROL[0])
    page.fill("#okta-signin-password", CAROL[1])
    page.click("#okta-signin-submit")
    page.wait_for_selector("#okta-refusal-message", timeout=60_000)
    # Post/redirect/get: the callback's code and state are gone from the address bar.
    assert page.url == f"{af.url}/auth/okta/refused/"
    assert_airflow_look(page)
    assert page.locator("#okta-reason").is_visible()
    assert page.inner_text("#okta-reason") == "no_mapped_role"
    text = page.inner_text("body")
    assert text.count(CAROL[0]) == 1, text
    assert text.count("marketing") == 1, text
    assert text.count("no_mapped_role") == 1, text
    # The primary and the secondary action differ in look, as in Airflow's UI.
    retry = page.locator("#okta-retry").evaluate("a => getComputedStyle(a).backgroundColor")
    switch = page.locator("#okta-switch-account").evaluate("a => getComputedStyle(a).backgroundColor")
    assert retry != switch
    shot(page, "refusal")
    request_id = page.inner_text("#okta-request-id")

    page.reload(wait_until="domcontentloaded")
    assert page.inner_text("#okta-reason") == "no_mapped_role"  # not invalid_state
    assert page.inner_text("#okta-request-id") == request_id  # the same refusal, not a new one
    assert page.inner_text("body").count(CAROL[0]) == 1
    shot(page, "refusal-reloaded")
    context.close()


def test_the_refused_address_shows_nothing_to_another_browser(browser, af: Stack):  # noqa: F811
    """The page reads the session, not the URL: a stranger's link shows no one's refusal."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    response = page.goto(f"{af.url}/auth/okta/refused/?code=no_mapped_role&username=mallory", wait_until="load")
    assert response is not None
    assert response.status == 404
    assert "mallory" not in page.content()
    assert_airflow_look(page)
    shot(page, "refusal-none")
    context.close()


def test_outage_page_looks_like_airflow(browser):  # noqa: F811
    """The database-down page: rendered by the same call as adapter/outage.py's 503 (a live database
    outage is driven in tests/integration/test_deployment_faults.py), drawn by chromium here."""
    from flask import Flask

    from okta_security.adapter.outage import MESSAGE
    from okta_security.adapter.pages import render_refusal
    from okta_security.errors import DatabaseUnavailable
    from okta_security.login.refusal import refusal_facts

    with Flask(__name__).test_request_context("/auth/oauth-authorized/okta"):
        html, status = render_refusal(refusal_facts(DatabaseUnavailable(MESSAGE), retry_url="/auth/login/okta"))
    assert status == 503
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_content(html, wait_until="load")
    assert_airflow_look(page)
    assert page.inner_text("#okta-reason") == "database_unavailable"
    assert page.inner_text("body").count("not answering") == 2  # the title and the one sentence
    assert page.locator("#okta-switch-account").count() == 0
    shot(page, "outage")
    context.close()


def test_device_approval_shows_deny_as_the_secondary_choice(browser, af: Stack):  # noqa: F811
    """The local IdP's consent page keeps Okta's look: Allow is the primary button, Deny a secondary one."""
    started = requests.post(
        f"{af.issuer}/v1/device/authorize", data={"client_id": "airflow-cli", "scope": "openid profile"}, timeout=30
    )
    assert started.status_code == 200, started.text
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(started.json()["verification_uri_complete"], wait_until="domcontentloaded")
    page.fill("#okta-signin-username", ALICE[0])
    page.fill("#okta-signin-password", ALICE[1])
    page.click("#okta-signin-submit")
    if page.locator("#okta-activate-submit").count():
        page.click("#okta-activate-submit")
    page.wait_for_selector("#okta-device-deny", timeout=60_000)
    allow = page.locator("#okta-device-allow").evaluate("b => getComputedStyle(b).backgroundColor")
    deny = page.locator("#okta-device-deny").evaluate("b => getComputedStyle(b).backgroundColor")
    assert allow == "rgb(22, 98, 221)"  # Okta's primary blue
    assert deny == "rgb(255, 255, 255)"
    shot(page, "device-approval")
    context.close()


@pytest.fixture(autouse=True)
def _artifacts_dir() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
