"""Where groups come from (claims, userinfo, Groups API) and which count (OKTA_GROUPS_FILTER)."""

from __future__ import annotations

import pytest

from okta_security.login.groups_source import GROUPS_SOURCES, GroupFilter, wants_api, wants_userinfo


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


def test_sources_are_documented_in_order():
    assert GROUPS_SOURCES == ("auto", "claims", "api")


GROUPS = ("Everyone", "airflow-admins", "airflow-team-data", "data-eng", "data-engineering", "airflow-admins")


@pytest.mark.parametrize(
    ("spec", "kept"),
    [
        ("", ("Everyone", "airflow-admins", "airflow-team-data", "data-eng", "data-engineering")),
        ("airflow-", ("airflow-admins", "airflow-team-data")),
        ("  airflow-team-  ", ("airflow-team-data",)),
        ("re:data-(eng|ops)", ("data-eng",)),  # the whole name must match
        ("re:airflow-.*|Everyone", ("Everyone", "airflow-admins", "airflow-team-data")),
        ("nothing-matches", ()),
    ],
)
def test_filter_keeps_matching_groups_in_order_without_duplicates(spec, kept):
    assert GroupFilter.parse(spec).apply(GROUPS) == kept


@pytest.mark.parametrize(("spec", "problem"), [("re:", "empty"), ("re:airflow-(", "invalid regular expression")])
def test_bad_filters_say_what_is_wrong(spec, problem):
    with pytest.raises(ValueError, match=problem):
        GroupFilter.parse(spec)


@pytest.mark.parametrize(
    ("spec", "text"), [("", "all groups"), ("airflow-", "prefix 'airflow-'"), ("re:a.*", "regex 'a.*'")]
)
def test_filter_describes_itself(spec, text):
    assert GroupFilter.parse(spec).describe() == text
