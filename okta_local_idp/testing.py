"""Helpers for tests that drive the local IdP's sign-in page with ``requests``."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

if TYPE_CHECKING:
    import requests


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
