"""Airflow 2.11: FAB's self-registration views are never reachable (accounts come from Okta only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests

if TYPE_CHECKING:
    from tests.airflow2.conftest import Stack2


@pytest.mark.parametrize("path", ["/register/", "/register/form", "/register/activation/x"])
def test_fab_self_registration_is_not_served(af2: Stack2, path: str):
    assert requests.get(f"{af2.url}{path}", timeout=30, allow_redirects=False).status_code == 404
    assert requests.post(f"{af2.url}{path}", data={"username": "x"}, timeout=30, allow_redirects=False).status_code in (
        404,
        405,
    )
