"""The local IdP's end-user dashboard: a tile per app with an initiate login URI (OIDC Core 1.0 §4)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from okta_local_idp.config import ConfigError, load_config
from okta_local_idp.server import serve_in_thread
from okta_local_idp.testing import parse_form
from tests.idp.okta_contract import base_config, write_config

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.local_idp

INITIATE = "https://app.example/auth/login/okta"
TARGET = "https://app.example/dags"


def _config(tmp_path: Path, **tile: str) -> Path:
    data = base_config()
    data["clients"][0].update(name="Contract app", initiate_login_uri=INITIATE, **tile)
    return write_config(tmp_path / "idp.yaml", data)


def _user() -> tuple[str, str]:
    user = base_config()["users"][0]
    return user["login"], user["password"]


def _signed_in_dashboard(base_url: str, login: str, password: str) -> requests.Response:
    s = requests.Session()
    page = s.get(f"{base_url}/app/UserHome", timeout=10)
    assert page.status_code == 200
    form = parse_form(page.text, page.url)
    home = s.post(form.action, data={"username": login, "password": password}, timeout=10)
    assert home.status_code == 200, home.text[:300]
    return home


def test_tile_launches_the_initiate_login_uri_with_the_org_as_iss(tmp_path: Path) -> None:
    with serve_in_thread(_config(tmp_path, target_link_uri=TARGET)) as idp:
        home = _signed_in_dashboard(idp.base_url, *_user())
        assert 'id="okta-tile-contract-web"' in home.text
        href = home.text.split('id="okta-tile-contract-web" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        url = urlsplit(href)
        assert f"{url.scheme}://{url.netloc}{url.path}" == INITIATE
        # Okta's dashboard names the org, not an authorization server (OIDC Core §4 ``iss``).
        assert parse_qs(url.query) == {"iss": [idp.base_url], "target_link_uri": [TARGET]}
        assert "post-web" not in home.text  # no initiate login URI, no tile


def test_dashboard_refuses_wrong_credentials(tmp_path: Path) -> None:
    with serve_in_thread(_config(tmp_path)) as idp:
        login, _ = _user()
        page = requests.post(f"{idp.base_url}/app/UserHome", data={"username": login, "password": "nope"}, timeout=10)
        assert "Unable to sign in" in page.text
        assert "okta-app-tiles" not in page.text


def test_login_hint_prefills_the_sign_in_form(tmp_path: Path) -> None:
    with serve_in_thread(_config(tmp_path)) as idp:
        page = requests.get(
            f"{idp.issuer}/v1/authorize",
            params={
                "client_id": "contract-web",
                "redirect_uri": base_config()["clients"][0]["redirect_uris"][0],
                "response_type": "code",
                "scope": "openid",
                "state": "s",
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
                "login_hint": "someone@example.com",
            },
            timeout=10,
        )
        assert 'value="someone@example.com"' in page.text


def test_initiate_login_uri_must_be_absolute(tmp_path: Path) -> None:
    data = base_config()
    data["clients"][0]["initiate_login_uri"] = "/auth/login/okta"
    with pytest.raises(ConfigError, match="initiate_login_uri"):
        load_config(write_config(tmp_path / "idp.yaml", data))
