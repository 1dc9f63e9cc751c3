"""Drive a login the way a browser does, with ``requests``, and read roles from Airflow's database."""

from __future__ import annotations

import hashlib
import os
import time
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import requests
import sqlalchemy as sa
from requests.adapters import HTTPAdapter

if TYPE_CHECKING:
    from pathlib import Path


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action") or ""
        if tag == "input" and a.get("name") and a.get("type") == "hidden":
            self.fields[a["name"] or ""] = a.get("value") or ""


def okta_login(
    airflow_url: str, username: str, password: str, *, next_path: str | None = None
) -> tuple[requests.Session, requests.Response]:
    """Sign in through /auth/login/okta and the IdP's form; return the session and the last response."""
    s = requests.Session()
    url = f"{airflow_url}/auth/login/okta" + (f"?next={requests.utils.quote(next_path)}" if next_path else "")
    page = s.get(url, timeout=30)
    assert page.status_code == 200, page.text[:500]
    parser = _FormParser()
    parser.feed(page.text)
    assert parser.action is not None, f"no sign-in form at {page.url}: {page.text[:300]}"
    data = {**parser.fields, "username": username, "password": password}
    final = s.post(urljoin(page.url, parser.action), data=data, timeout=60)
    return s, final


def user_roles(db_url: str, username: str) -> set[str] | None:
    """Return the user's role names from Airflow's database, or None if there is no such user."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            uid = conn.execute(sa.text("SELECT id FROM ab_user WHERE username = :u"), {"u": username}).scalar()
            if uid is None:
                return None
            rows = conn.execute(
                sa.text(
                    "SELECT r.name FROM ab_user_role ur JOIN ab_role r ON r.id = ur.role_id WHERE ur.user_id = :id"
                ),
                {"id": uid},
            )
            return {r[0] for r in rows}
    finally:
        engine.dispose()


def user_row(db_url: str, username: str) -> dict | None:
    """Return the user's ab_user row as a dict."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT * FROM ab_user WHERE username = :u"), {"u": username}).mappings().first()
            return dict(row) if row else None
    finally:
        engine.dispose()


def rewrite(path: Path, text: str) -> None:
    """Replace a file's content and move its mtime forward so watchers notice at once."""
    path.write_text(text)
    st = os.stat(path)
    bump = max(st.st_mtime_ns, time.time_ns()) + 2_000_000_000
    os.utime(path, ns=(bump, bump))


class FromAddress(HTTPAdapter):
    """Connect from another loopback address. FAB limits POSTs to its auth views per client address
    (``[fab] auth_rate_limit``, 5 per 40 s by default), and the tests of a shared stack all come from
    127.0.0.1: a test that posts there takes an address of its own, so it never spends another's budget."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **{**kwargs, "source_address": (self._address, 0)})


def own_address(session: requests.Session, url: str, name: str) -> None:
    """Send ``session``'s requests to ``url`` from a loopback address that is ``name``'s own (see FromAddress)."""
    digest = hashlib.sha256(name.encode()).digest()
    session.mount(url, FromAddress(f"127.{digest[0] % 200 + 30}.{digest[1]}.{digest[2] % 250 + 1}"))
