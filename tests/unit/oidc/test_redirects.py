from __future__ import annotations

import pytest

from okta_security.oidc.redirects import safe_next

HOME = "/home"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/dags/example/grid", "/dags/example/grid"),
        ("/dags?x=1&y=2", "/dags?x=1&y=2"),
        ("/", "/"),
        (None, HOME),
        ("", HOME),
        ("//evil.example", HOME),
        ("/\\evil.example", HOME),
        ("\\\\evil.example", HOME),
        ("https://evil.example/", HOME),
        ("http:/evil.example", HOME),
        ("javascript:alert(1)", HOME),
        ("%2F%2Fevil.example", HOME),
        ("/%2F/evil.example", HOME),
        ("%252F%252Fevil.example", HOME),
        ("/%5Cevil.example", HOME),
        ("/\t/evil.example", HOME),
        (" //evil.example", HOME),
        ("evil.example/path", HOME),
        ("/path;javascript:x", HOME),
    ],
)
def test_only_same_origin_relative_paths_survive(url, expected):
    assert safe_next(url, HOME) == expected
