"""Limits that hold whatever a caller sends: the event hook's body size, FAB's self-registration (real api-server)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests

from tests.conftest import EVENT_HOOK_SECRET

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.conftest import Stack

EVENTS = "/auth/okta/events"
MAX_BODY_BYTES = 1_000_000  # okta_security.adapter.event_hook_view.MAX_BODY_BYTES
pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)  # HTTP limits: no database in this path


def chunked(total: int) -> Iterator[bytes]:
    """Yield a JSON delivery of about ``total`` bytes in chunks, with no Content-Length (chunked encoding)."""
    yield b'{"data": {"events": []}, "padding": "'
    for _ in range(total // 10_000):
        yield b"x" * 10_000
    yield b'"}'


def test_a_chunked_body_over_the_limit_is_refused(af: Stack):
    response = requests.post(
        f"{af.url}{EVENTS}",
        data=chunked(3 * MAX_BODY_BYTES),
        headers={"Authorization": EVENT_HOOK_SECRET, "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.request.headers
    assert response.status_code == 413, response.text[:300]


def test_a_chunked_body_within_the_limit_is_read(af: Stack):
    response = requests.post(
        f"{af.url}{EVENTS}",
        data=chunked(10_000),
        headers={"Authorization": EVENT_HOOK_SECRET, "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert response.status_code == 200, response.text[:300]
    assert response.json()["received"] == 0


def test_a_declared_body_over_the_limit_is_refused_unread(af: Stack):
    response = requests.post(
        f"{af.url}{EVENTS}",
        data=b"{" + b" " * (2 * MAX_BODY_BYTES) + b"}",
        headers={"Authorization": EVENT_HOOK_SECRET, "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 413


@pytest.mark.parametrize("path", ["/auth/register/", "/auth/register/form", "/auth/register/activation/x"])
def test_fab_self_registration_is_not_served(af: Stack, path: str):
    """Accounts come from Okta only: FAB's registration views are never reachable."""
    assert requests.get(f"{af.url}{path}", timeout=30, allow_redirects=False).status_code == 404
    assert requests.post(f"{af.url}{path}", data={"username": "x"}, timeout=30, allow_redirects=False).status_code in (
        404,
        405,
    )
