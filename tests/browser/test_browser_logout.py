"""Logout in a real browser, where Chromium itself sets Sec-Fetch-Site: the UI's own logout goes straight
through to Okta; a link on another site ends the Airflow session and asks before ending Okta's.

Runs okta_security's auth manager (its ``get_url_logout()`` sends the UI's ``/api/v2/auth/logout`` to
``/auth/okta/logout/``). The other site is served on ``localhost``, another site than ``127.0.0.1``.
"""

from __future__ import annotations

import http.server
import re
import shutil
import threading
from typing import TYPE_CHECKING

import pytest
import yaml

from tests.browser.test_browser_login import ARGS, CHROMIUM
from tests.browser.test_browser_pages import assert_airflow_look, shot

if TYPE_CHECKING:
    from collections.abc import Iterator

OKTA_AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"
ALICE = ("alice.admin@example.com", "Admin-pass-1")


@pytest.fixture(scope="module")
def airflow(tmp_path_factory) -> Iterator[str]:
    """An api-server with okta_security's auth manager beside the local IdP; yields its URL."""
    from okta_devstack.airflow import REPO, AirflowServer, free_port
    from okta_local_idp.server import serve_in_thread

    root = tmp_path_factory.mktemp("browser-logout")
    port = free_port()
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    for client in data["clients"]:
        client["redirect_uris"] = [f"http://127.0.0.1:{port}/auth/oauth-authorized/okta"]
        client["post_logout_redirect_uris"] = [f"http://127.0.0.1:{port}/auth/login/"]
    (root / "idp.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    idp = serve_in_thread(str(root / "idp.yaml"), port=0)
    shutil.copy(REPO / "config" / "role_mapping.yaml", root / "map.yaml")
    server = AirflowServer(
        root / "airflow",
        port=port,
        auth_manager=OKTA_AUTH_MANAGER,
        okta_env={
            "OKTA_ISSUER": idp.issuer,
            "OKTA_CLIENT_ID": "airflow-local",
            "OKTA_CLIENT_SECRET": "airflow-local-secret",
            "OKTA_ROLE_MAPPING_FILE": str(root / "map.yaml"),
        },
    )
    try:
        server.prepare()
        server.start()
        yield server.base_url
    finally:
        server.stop()
        idp.shutdown()


@pytest.fixture(scope="module")
def other_site(airflow: str) -> Iterator[str]:
    """A page on another site (``localhost``) linking to Airflow's logout."""
    page = f'<!doctype html><a id="logout" href="{airflow}/auth/okta/logout/">Read the news</a>'.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def sign_in(browser, airflow: str):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{airflow}/", wait_until="domcontentloaded")
    page.wait_for_selector("#okta-signin-username", timeout=60_000)
    page.fill("#okta-signin-username", ALICE[0])
    page.fill("#okta-signin-password", ALICE[1])
    page.click("#okta-signin-submit")
    page.get_by_role("link", name="Dags").first.wait_for(timeout=60_000)
    return context, page


def test_the_ui_s_logout_ends_the_okta_session_without_asking(browser, airflow: str):
    context, page = sign_in(browser, airflow)
    # The UI's own logout: the user menu, then its confirmation dialog (-> /api/v2/auth/logout -> ours).
    page.get_by_role("button", name="User").first.click()
    page.get_by_role("menuitem", name="Logout").click()
    page.get_by_role("dialog").get_by_role("button", name=re.compile("^(confirm|logout|yes)", re.I)).last.click()
    page.wait_for_selector("#okta-signin-username", timeout=60_000)  # Okta asks for credentials again
    assert "okta-logout-form" not in page.content()
    assert "_token" not in {c["name"] for c in context.cookies()}
    context.close()


def test_a_link_on_another_site_asks_before_ending_the_okta_session(browser, airflow: str, other_site: str):
    context, page = sign_in(browser, airflow)
    page.goto(other_site, wait_until="domcontentloaded")
    page.click("#logout")
    page.wait_for_selector("#okta-logout-form", timeout=60_000)
    assert page.url.startswith(f"{airflow}/auth/okta/logout/")
    assert_airflow_look(page)  # Airflow's header, logo and card
    confirm = page.locator("#okta-logout-confirm").evaluate("b => getComputedStyle(b).backgroundColor")
    cancel = page.locator("#okta-logout-cancel").evaluate("a => getComputedStyle(a).backgroundColor")
    assert confirm != cancel
    shot(page, "logout-cross-site")
    assert "_token" not in {c["name"] for c in context.cookies()}  # Airflow's session ended
    # Going back to Airflow signs straight in again: the Okta session was left alone.
    page.click("#okta-logout-cancel")
    page.get_by_role("link", name="Dags").first.wait_for(timeout=60_000)
    # From the other site again, this time confirming.
    page.goto(other_site, wait_until="domcontentloaded")
    page.click("#logout")
    page.click("#okta-logout-confirm")
    page.wait_for_selector("#okta-signin-username", timeout=60_000)
    context.close()
