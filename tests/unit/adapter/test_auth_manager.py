"""OktaFabAuthManager's logout URL: always under ``[api] base_url``, path included."""

from __future__ import annotations

import pytest

from okta_security.adapter.auth_manager import OktaFabAuthManager


@pytest.mark.parametrize(
    ("base_url", "logout"),
    [
        ("https://example.com/airflow/", "https://example.com/airflow/auth/okta/logout/"),
        ("https://example.com/airflow", "https://example.com/airflow/auth/okta/logout/"),
        ("https://example.com/a/b/", "https://example.com/a/b/auth/okta/logout/"),
        ("https://example.com/", "https://example.com/auth/okta/logout/"),
        ("https://example.com", "https://example.com/auth/okta/logout/"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/auth/okta/logout/"),
    ],
)
def test_the_logout_url_keeps_the_base_urls_path(monkeypatch, base_url, logout):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    assert OktaFabAuthManager().get_url_logout() == logout
