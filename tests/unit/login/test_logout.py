"""Tests for okta_security.login.logout: which logout requests may end the Okta session without asking."""

from __future__ import annotations

import pytest

from okta_security.login.logout import is_cross_site, origin_of

OWN = "https://airflow.example.com"


@pytest.mark.parametrize(
    ("sec_fetch_site", "origin", "referer", "cross"),
    [
        # Fetch Metadata (every current browser): the browser's own word decides.
        pytest.param("same-origin", None, None, False, id="ui-logout-same-origin"),
        pytest.param("none", None, None, False, id="typed-url-or-bookmark"),
        pytest.param("cross-site", None, None, True, id="link-on-another-site"),
        pytest.param("same-site", None, None, True, id="sibling-subdomain"),
        pytest.param("Cross-Site ", None, None, True, id="case-and-spaces"),
        pytest.param("cross-site", None, f"{OWN}/home", True, id="header-beats-a-same-origin-referer"),
        pytest.param("bogus", None, None, True, id="unknown-value-asks"),
        # Without it (older browsers): Origin, else Referer, compared with Airflow's own origin.
        pytest.param(None, "https://evil.example", None, True, id="origin-of-another-site"),
        pytest.param(None, OWN, None, False, id="own-origin"),
        pytest.param(None, "null", None, True, id="opaque-origin"),
        pytest.param(None, None, "https://evil.example/page?x=1", True, id="referer-of-another-site"),
        pytest.param(None, None, f"{OWN}/dags", False, id="own-referer"),
        pytest.param(None, None, "https://AIRFLOW.example.com:443/dags", False, id="default-port-and-case"),
        pytest.param(None, None, "http://airflow.example.com/dags", True, id="other-scheme"),
        pytest.param(None, None, "https://airflow.example.com:8443/", True, id="other-port"),
        pytest.param(None, None, "https://airflow.example.com.evil.example/", True, id="lookalike-host"),
        pytest.param(None, None, "not a url", True, id="garbage-referer"),
        pytest.param(None, None, "https://[::1/", True, id="unparsable-referer"),
        pytest.param(None, None, None, False, id="no-header-at-all"),
    ],
)
def test_is_cross_site(sec_fetch_site: str | None, origin: str | None, referer: str | None, cross: bool) -> None:
    assert is_cross_site(sec_fetch_site=sec_fetch_site, origin=origin, referer=referer, own_origin=OWN) is cross


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Airflow.Example.com/x?y", "https://airflow.example.com"),
        ("http://127.0.0.1:8080/auth/", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:80/", "http://127.0.0.1"),
        ("https://[::1]:443/", "https://[::1]"),
        ("/relative", None),
        ("javascript:alert(1)", None),
        ("https://[::1/", None),
    ],
)
def test_origin_of(url: str, expected: str | None) -> None:
    assert origin_of(url) == expected
