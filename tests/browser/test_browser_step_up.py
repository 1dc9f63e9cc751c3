"""Step-up in chromium: a password sign-in gets Viewer and the offer; "Get Admin" asks Okta for the second
factor and comes back with Admin (the stack of tests/integration/test_step_up.py, OktaFabAuthManager)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser.test_browser_login import browser  # noqa: F401 - the chromium fixture
from tests.integration.test_step_up import ADMIN_ONLY, ALICE, ANYONE, stepup  # noqa: F401 - the stack fixture

if TYPE_CHECKING:
    from tests.stacks import Stack

pytestmark = pytest.mark.parametrize("stepup", ["sqlite"], indirect=True)  # the flow, not the database


def test_admin_is_withheld_then_granted_after_the_second_factor(browser, stepup: Stack):  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{stepup.url}/auth/login/okta", wait_until="domcontentloaded")
    page.fill("#okta-signin-username", ALICE[0])
    page.fill("#okta-signin-password", ALICE[1])
    page.click("#okta-signin-submit")
    page.wait_for_selector("#okta-step-up", timeout=60_000)
    assert page.inner_text("#okta-step-up") == "Get Admin"
    assert "single factor" in page.inner_text("#okta-step-up-message")
    assert page.request.get(f"{stepup.url}{ANYONE}").status == 200
    assert page.request.get(f"{stepup.url}{ADMIN_ONLY}").status == 403

    page.click("#okta-step-up")
    page.wait_for_selector("#okta-otp-code", timeout=60_000)
    page.fill("#okta-otp-input", page.inner_text("#okta-otp-code"))
    page.click("#okta-otp-submit")
    page.wait_for_url(f"{stepup.url}/**", timeout=60_000)
    page.get_by_role("link", name="Dags").first.wait_for(timeout=60_000)
    assert page.request.get(f"{stepup.url}{ADMIN_ONLY}").status == 200
    context.close()
