"""Tests for okta_security.mapping.patterns: NFAs agree with re/fnmatch; inclusion and shortest match."""

from __future__ import annotations

import fnmatch
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from okta_security.mapping.patterns import Unsupported, glob_nfa, includes, pattern_nfa, regex_nfa, shortest_match
from okta_security.mapping.rules import rule_kind

_alphabet = st.text(st.sampled_from(list("ab-x\n]")), max_size=7)


@settings(max_examples=200, deadline=None)
@given(
    st.text(st.sampled_from(list("ab-*?[]!")), min_size=1, max_size=8),
    st.lists(_alphabet, min_size=1, max_size=10),
)
def test_glob_nfa_agrees_with_fnmatchcase(pattern: str, names: list[str]) -> None:
    """Accept exactly the names fnmatch.fnmatchcase accepts."""
    try:
        nfa = glob_nfa(pattern)
    except Unsupported:
        return
    for name in names:
        assert nfa.accepts(name) == fnmatch.fnmatchcase(name, pattern), (pattern, name)


REGEXES = [
    "^data-(eng|ops)$",
    "a.*b",
    "(?s)a.*b",
    "[^a]x?",
    "(ab|a)*b{2,3}",
    r"\Aa+\Z",
    "[a-]{0,2}",
    "(?:a|)b*?",
    "x(?s:.)y",
]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(REGEXES), st.lists(st.text(st.sampled_from(list("abdeopsxy-\n")), max_size=8), max_size=10))
def test_regex_nfa_agrees_with_fullmatch(expression: str, names: list[str]) -> None:
    """Accept exactly the names re.fullmatch accepts."""
    nfa = regex_nfa(expression)
    for name in names:
        assert nfa.accepts(name) == (re.fullmatch(expression, name) is not None), (expression, name)


@pytest.mark.parametrize(
    "expression",
    [r"(a)\1", "(?=a)a", r"\d+", "(?i)abc", "a$b", "a{100}", "(?>a)", "a*+"],
)
def test_unmodelled_features_are_unsupported(expression: str) -> None:
    """Say "don't know" rather than guess."""
    with pytest.raises(Unsupported):
        regex_nfa(expression)


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("airflow-*", "airflow-team-*", True),
        ("airflow-team-*", "airflow-*", False),
        ("airflow-*", "re:^airflow-team-.*$", True),
        ("re:^airflow-team-.*$", "airflow-team-*", False),  # '*' matches a newline, '.' does not
        ("team-[a-c]*", "team-b?", True),
        ("team-[!a-c]*", "team-b?", False),
        ("*", "re:(a|b)+", True),
        ("re:(a|b)+", "re:a+", True),
        ("re:a+", "re:(a|b)+", False),
        ("x", "x", True),
        ("x", "x*", False),
    ],
)
def test_includes(outer: str, inner: str, expected: bool) -> None:
    """Decide language inclusion exactly."""
    assert includes(pattern_nfa(outer, rule_kind(outer)), pattern_nfa(inner, rule_kind(inner))) is expected


def test_includes_gives_up_instead_of_running_forever() -> None:
    """Answer None when the search exceeds its budget."""
    outer, inner = regex_nfa("(a|b)*"), regex_nfa("(a|b)*a(a|b){8}")
    assert includes(outer, inner, max_steps=5) is None
    assert includes(outer, inner) is True


@pytest.mark.parametrize(
    ("pattern", "kind", "expected"),
    [
        ("re:^abc$", "regex", "abc"),
        ("re:x?", "regex", "x"),  # at least one character: group names are never empty
        ("re:^$", "regex", None),
        (r"re:[^\x00-\U0010ffff]", "regex", None),
        ("*-admins", "glob", "-admins"),
        ("re:(dev|prod)-[0-9]+", "regex", "dev-0"),
        ("team-?", "glob", "team-a"),
    ],
)
def test_shortest_match(pattern: str, kind: str, expected: str | None) -> None:
    """Find a shortest non-empty match, readable when possible, or None if there is none."""
    assert shortest_match(pattern_nfa(pattern, kind)) == expected


def test_shortest_match_honours_min_length_and_preference() -> None:
    """Pad to min_length and pick characters in the preferred order."""
    nfa = glob_nfa("t-*")
    assert shortest_match(nfa, min_length=4) == "t-aa"
    assert shortest_match(nfa, min_length=3, prefer="Z") == "t-Z"
