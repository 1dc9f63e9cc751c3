"""Where groups come from: claims, userinfo or the Groups API."""

from __future__ import annotations

import pytest

from okta_security.login.groups_source import wants_api, wants_userinfo


@pytest.mark.parametrize(
    ("source", "id_token_has_claim", "expected"),
    [
        ("auto", True, False),
        ("auto", False, True),
        ("claims", True, False),
        ("claims", False, True),
        ("api", True, False),
        ("api", False, False),  # the API is the source: userinfo is not asked for groups
    ],
)
def test_userinfo_only_when_the_id_token_lacks_the_claim(source, id_token_has_claim, expected):
    assert wants_userinfo(source, id_token_has_claim=id_token_has_claim) is expected


@pytest.mark.parametrize(
    ("source", "api_configured", "claim_groups", "expected"),
    [
        ("auto", True, (), True),  # claims carry no groups: ask the API
        ("auto", True, ("airflow-admins",), False),  # claims win when they have groups
        ("auto", False, (), False),  # no credentials: auto is claims
        ("claims", True, (), False),
        ("api", True, ("airflow-admins",), True),  # always the API, even when claims have groups
        ("api", False, (), True),  # (refused at start; the adapter raises)
    ],
)
def test_when_the_groups_api_is_asked(source, api_configured, claim_groups, expected):
    assert wants_api(source, api_configured=api_configured, claim_groups=claim_groups) is expected
