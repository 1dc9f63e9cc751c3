"""Helpers for tests that drive the local IdP's sign-in page with ``requests``."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from .context import AUTH_SERVER_PATH
from .cross_app_access import ID_JAG_TOKEN_TYPE, ID_TOKEN_TYPE
from .models import TOKEN_EXCHANGE_GRANT_TYPE

_TIMEOUT = 10


def pkce_pair() -> tuple[str, str]:
    """Return a fresh PKCE ``(code_verifier, S256 code_challenge)``."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class HtmlForm:
    """The first form of a page: its action, method and input values."""

    action: str
    method: str = "get"
    fields: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    """Collect the first <form> and its <input> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.form: HtmlForm | None = None
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form" and self.form is None:
            self.form = HtmlForm(action=values.get("action", ""), method=values.get("method", "get").lower())
            self._inside = True
        elif tag == "input" and self._inside and self.form is not None:
            name = values.get("name")
            if name and values.get("type") != "submit":
                self.form.fields[name] = values.get("value", "")
            if values.get("id"):
                self.form.ids[values["id"]] = name or values.get("type", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def parse_form(html: str, page_url: str) -> HtmlForm:
    """Return the first form of ``html`` with its action made absolute."""
    parser = _FormParser()
    parser.feed(html)
    if parser.form is None:
        raise AssertionError("the page has no <form>")
    parser.form.action = urljoin(page_url, parser.form.action)
    return parser.form


def is_sign_in_page(response: requests.Response) -> bool:
    """Return whether ``response`` is the IdP's sign-in form."""
    return response.status_code == 200 and 'id="okta-signin-submit"' in response.text


def submit_sign_in_form(
    session: requests.Session,
    page: requests.Response,
    username: str,
    password: str,
    **kwargs: Any,
) -> requests.Response:
    """Fill in and post the sign-in form shown in ``page`` (redirects not followed)."""
    form = parse_form(page.text, page.url)
    data = {**form.fields, "username": username, "password": password}
    kwargs.setdefault("allow_redirects", False)
    return session.post(form.action, data=data, **kwargs)


def decide_device(
    session: requests.Session,
    verification_uri_complete: str,
    username: str,
    password: str,
    *,
    allow: bool = True,
) -> requests.Response:
    """Approve (or deny) a device's user code on the activation page, signing in first if asked."""
    page = session.get(verification_uri_complete, timeout=10)
    if is_sign_in_page(page):
        submit_sign_in_form(session, page, username, password, timeout=10)
        page = session.get(verification_uri_complete, timeout=10)
    if 'id="okta-device-consent"' not in page.text:
        raise AssertionError(f"no consent form at {verification_uri_complete}: HTTP {page.status_code}")
    form = parse_form(page.text, page.url)
    return session.post(form.action, data={**form.fields, "decision": "allow" if allow else "deny"}, timeout=10)


def is_second_factor_page(response: requests.Response) -> bool:
    """Return whether ``response`` is the IdP's second step (the one-time code a step-up asks for)."""
    return response.status_code == 200 and 'id="okta-otp-code"' in response.text


def submit_second_factor(session: requests.Session, page: requests.Response, **kwargs: Any) -> requests.Response:
    """Type the one-time code the second-step page shows back into it (redirects not followed)."""
    code = page.text.split('id="okta-otp-code">', 1)[1].split("<", 1)[0]
    form = parse_form(page.text, page.url)
    kwargs.setdefault("allow_redirects", False)
    return session.post(form.action, data={**form.fields, "otp": code}, **kwargs)


# -- an AI agent's way in (Okta's Cross App Access) ---------------------------------------------


def _token(url: str, data: dict[str, str], client_id: str, client_secret: str, step: str) -> dict[str, Any]:
    response = requests.post(url, data=data, auth=(client_id, client_secret), timeout=_TIMEOUT)
    if response.status_code != 200:
        raise AssertionError(f"{step} at {url} failed: HTTP {response.status_code} {response.text[:500]}")
    return response.json()


def org_sign_in_tokens(
    idp_url: str,
    client_id: str,
    client_secret: str,
    username: str,
    password: str,
    redirect_uri: str,
    scope: str = "openid profile",
) -> dict[str, Any]:
    """Sign ``username`` in to the app ``client_id`` through the org server (code + PKCE); return the token response.

    The redirect to ``redirect_uri`` is not followed: the code is read from its ``Location``.
    """
    org = idp_url.rstrip("/")
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    params = {
        "client_id": client_id,
        "response_type": "code",
        "scope": scope,
        "redirect_uri": redirect_uri,
        "state": state,
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    browser = requests.Session()
    page = browser.get(f"{org}/oauth2/v1/authorize", params=params, timeout=_TIMEOUT)
    if not is_sign_in_page(page):
        raise AssertionError(f"no sign-in page at {org}/oauth2/v1/authorize: HTTP {page.status_code} {page.text[:300]}")
    answer = submit_sign_in_form(browser, page, username, password, timeout=_TIMEOUT)
    location = answer.headers.get("Location", "")
    query = parse_qs(urlsplit(location).query)
    if answer.status_code != 302 or not location.startswith(redirect_uri) or "code" not in query:
        raise AssertionError(f"sign-in of {username} to {client_id} gave no code: HTTP {answer.status_code} {location}")
    if query.get("state") != [state]:
        raise AssertionError(f"sign-in of {username} to {client_id} came back with another state")
    data = {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": redirect_uri}
    data["code_verifier"] = verifier
    return _token(f"{org}/oauth2/v1/token", data, client_id, client_secret, "redeeming the code")


def org_id_token_for(
    idp_url: str, client_id: str, client_secret: str, username: str, password: str, redirect_uri: str
) -> str:
    """Return the org ID token of ``username`` signed in to the app ``client_id`` (see :func:`org_sign_in_tokens`)."""
    tokens = org_sign_in_tokens(idp_url, client_id, client_secret, username, password, redirect_uri)
    return str(tokens["id_token"])


def exchange_for_id_jag(
    idp_url: str,
    client_id: str,
    client_secret: str,
    id_token: str,
    audience: str,
    scope: str | None = None,
    resource: str | None = None,
) -> str:
    """Trade an org ID token for an ID-JAG naming ``audience`` at the org token endpoint (RFC 8693); return it."""
    data = {
        "grant_type": TOKEN_EXCHANGE_GRANT_TYPE,
        "requested_token_type": ID_JAG_TOKEN_TYPE,
        "subject_token": id_token,
        "subject_token_type": ID_TOKEN_TYPE,
        "audience": audience,
        **({"scope": scope} if scope else {}),
        **({"resource": resource} if resource else {}),
    }
    url = f"{idp_url.rstrip('/')}/oauth2/v1/token"
    return str(_token(url, data, client_id, client_secret, "the ID-JAG exchange")["access_token"])


def id_jag_for(
    idp_url: str,
    client_id: str,
    client_secret: str,
    username: str,
    password: str,
    audience: str,
    redirect_uri: str,
    scope: str | None = None,
    resource: str | None = None,
) -> str:
    """Return an ID-JAG for ``username`` and the agent app ``client_id``, got over HTTP as a real agent gets it.

    ``idp_url`` is the org URL (the IdP's base URL, not the ``/oauth2/default`` issuer).
    """
    id_token = org_id_token_for(idp_url, client_id, client_secret, username, password, redirect_uri)
    return exchange_for_id_jag(idp_url, client_id, client_secret, id_token, audience, scope, resource)


def agent_client_token(server_url: str, client_id: str, client_secret: str, scope: str = "airflow.api") -> str:
    """Return the app's own client-credentials access token (RFC 8693's actor token), as a bot gets one.

    ``server_url`` is a token endpoint (``.../v1/token``), an authorization server's issuer
    (``{org}/oauth2/default``), or the org URL (then the ``default`` server's).
    """
    url = server_url.rstrip("/")
    if not url.endswith("/v1/token"):
        url += "/v1/token" if "/oauth2/" in url else f"{AUTH_SERVER_PATH}/v1/token"
    data = {"grant_type": "client_credentials", "scope": scope}
    return str(_token(url, data, client_id, client_secret, "the client credentials request")["access_token"])
