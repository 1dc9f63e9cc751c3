"""Behind a TLS-terminating proxy: with ``[fab] enable_proxy_fix`` the URIs Okta sees are ``https://`` on the public host.

Two real api-servers, each behind its own loopback proxy (:class:`okta_devstack.proxy.LoopbackProxy`)
that ends TLS with a throw-away certificate, sets ``X-Forwarded-Proto: https`` /
``X-Forwarded-Host`` / ``-Port`` / ``-For`` (dropping any the client sent) and, like nginx's plain
``proxy_pass``, sends the backend's own address as ``Host``. ``on`` runs with proxy fix on, ``off``
with it off. The IdP's Okta app registers only the public ``https://`` URIs, as it would in Okta.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
import yaml

from okta_devstack.airflow import AirflowServer, free_port
from okta_devstack.proxy import LoopbackProxy, self_signed_certificate
from okta_local_idp.server import IdpHandle, serve_in_thread
from okta_local_idp.testing import is_sign_in_page
from tests.integration.deployment import CALLBACK, finish_login, idp_config, login_name, okta_user, start_login

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"
OKTA_AIRFLOW = str(Path(sys.executable).with_name("okta-airflow"))
MAPPING = {"default_role": None, "mappings": {"staff": ["Viewer"]}}


@dataclass
class Proxied:
    server: AirflowServer
    proxy: LoopbackProxy

    @property
    def public(self) -> str:
        return self.proxy.url  # https://127.0.0.1:<proxy port>


@dataclass
class ProxyStack:
    on: Proxied
    off: Proxied
    idp: IdpHandle
    cert: str  # the proxy's certificate, which the "browser" trusts


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyStack]:
    home = tmp_path_factory.mktemp("proxy")
    cert, key = self_signed_certificate(home / "tls", "127.0.0.1")
    ports = {"on": free_port(), "off": free_port()}
    proxies = {
        name: LoopbackProxy([f"127.0.0.1:{port}"], tls=(cert, key), forwarded=True, backend_host=True)
        for name, port in ports.items()
    }
    config = idp_config(
        home / "idp.yaml",
        redirect_uris=[p.url + CALLBACK for p in proxies.values()],  # the public https URIs only
        post_logout_redirect_uris=[p.url + "/auth/login/" for p in proxies.values()],
        users=[okta_user("proxy", i, ["staff", "Everyone"]) for i in range(4)],
    )
    idp = serve_in_thread(str(config), host="127.0.0.1", port=0)
    mapping = home / "okta_role_mapping.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING, sort_keys=False))
    servers: dict[str, AirflowServer] = {}
    try:
        for name, port in ports.items():
            servers[name] = AirflowServer(
                home / name,
                port=port,
                auth_manager=AUTH_MANAGER,
                okta_env={
                    "OKTA_ISSUER": idp.issuer,
                    "OKTA_CLIENT_ID": "airflow-local",
                    "OKTA_CLIENT_SECRET": "airflow-local-secret",
                    "OKTA_ROLE_MAPPING_FILE": str(mapping),
                },
                airflow_env={
                    "AIRFLOW__API__BASE_URL": proxies[name].url + "/",  # the public URL
                    "AIRFLOW__FAB__ENABLE_PROXY_FIX": "True" if name == "on" else "False",
                },
            )
            servers[name].prepare()
        for server in servers.values():
            server.start()
        yield ProxyStack(Proxied(servers["on"], proxies["on"]), Proxied(servers["off"], proxies["off"]), idp, str(cert))
    finally:
        for server in servers.values():
            server.stop()
        for proxy in proxies.values():
            proxy.close()
        idp.shutdown()


def _redirect_uri_sent(stack: ProxyStack, side: Proxied, **headers: str) -> str:
    start = requests.get(
        f"{side.public}/auth/login/okta", allow_redirects=False, verify=stack.cert, headers=headers, timeout=60
    )
    assert start.status_code == 302, start.text[:300]
    return parse_qs(urlsplit(start.headers["Location"]).query)["redirect_uri"][0]


def test_with_proxy_fix_okta_gets_the_public_https_redirect_uri(stack: ProxyStack) -> None:
    assert _redirect_uri_sent(stack, stack.on) == stack.on.public + CALLBACK
    assert stack.on.public.startswith("https://")


def test_a_client_cannot_claim_another_scheme_or_host_through_the_proxy(stack: ProxyStack) -> None:
    spoofed = _redirect_uri_sent(stack, stack.on, **{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.test"})
    assert spoofed == stack.on.public + CALLBACK


def test_with_proxy_fix_the_login_completes_over_https(stack: ProxyStack) -> None:
    pending = start_login(stack.on.public, login_name("proxy", 0), verify=stack.cert)
    assert pending.callback_url.startswith(stack.on.public + CALLBACK)
    outcome = finish_login(pending)
    assert outcome.signed_in, (outcome.status, outcome.location, outcome.body[:500])
    assert urljoin(stack.on.public + "/", outcome.location).startswith(stack.on.public + "/")
    assert pending.browser.get(f"{stack.on.public}/api/v2/dags", timeout=60).status_code == 200


def test_with_proxy_fix_the_post_logout_redirect_uri_is_https(stack: ProxyStack) -> None:
    pending = start_login(stack.on.public, login_name("proxy", 1), verify=stack.cert)
    assert finish_login(pending).signed_in
    browser = pending.browser
    url = f"{stack.on.public}/auth/logout"
    visited = [url]
    for _ in range(8):
        response = browser.get(url, allow_redirects=False, timeout=60)
        if response.status_code not in (301, 302, 303, 307):
            break
        url = urljoin(url, response.headers["Location"])
        visited.append(url)
    end_session = next(u for u in visited if "/v1/logout" in u)
    assert parse_qs(urlsplit(end_session).query)["post_logout_redirect_uri"] == [f"{stack.on.public}/auth/login/"]
    assert visited[visited.index(end_session) + 1].startswith(f"{stack.on.public}/auth/login/"), visited
    assert all(u.startswith(("https://", stack.idp.base_url)) for u in visited), visited  # never plain http to Airflow
    assert is_sign_in_page(browser.get(f"{stack.on.public}/auth/login/okta", timeout=60))  # Okta session ended


def test_without_proxy_fix_airflow_sends_its_internal_http_uri_and_okta_refuses(stack: ProxyStack) -> None:
    sent = _redirect_uri_sent(stack, stack.off)
    assert sent == f"http://127.0.0.1:{stack.off.server.port}{CALLBACK}"  # what Airflow sees: plain http, inner host
    browser = requests.Session()
    browser.verify = stack.cert
    browser.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment wins over browser.verify
    start = browser.get(f"{stack.off.public}/auth/login/okta", allow_redirects=False, timeout=60)
    refused = browser.get(start.headers["Location"], allow_redirects=False, timeout=60)
    assert refused.status_code == 400
    assert "redirect_uri" in refused.text


def _doctor(stack: ProxyStack, side: Proxied) -> dict:
    env = {**side.server.env(), "REQUESTS_CA_BUNDLE": stack.cert}  # the doctor trusts the proxy's certificate
    proc = subprocess.run([OKTA_AIRFLOW, "doctor", "--json"], env=env, capture_output=True, text=True, timeout=180)
    assert proc.stdout, proc.stderr[-3000:]
    return {c["check"]: c for c in json.loads(proc.stdout)["checks"]}["redirect_uris"]


def test_doctor_explains_the_mismatch_it_sees_without_proxy_fix(stack: ProxyStack) -> None:
    check = _doctor(stack, stack.off)
    assert check["status"] == "fail", json.dumps(check, indent=1)
    inner = f"http://127.0.0.1:{stack.off.server.port}{CALLBACK}"
    assert (
        f"Airflow sends Okta redirect_uri={inner}, but its base URL gives {stack.off.public}{CALLBACK}"
        in (check["detail"])
    )
    assert "because [fab] enable_proxy_fix is off" in check["detail"]
    assert "AIRFLOW__FAB__ENABLE_PROXY_FIX=True" in check["fix"]


def test_doctor_sees_the_right_redirect_uri_with_proxy_fix(stack: ProxyStack) -> None:
    check = _doctor(stack, stack.on)
    assert check["status"] == "ok", json.dumps(check, indent=1)
    assert f"Airflow at {stack.on.public}/auth/login/okta sends this sign-in redirect URI" in check["detail"]
