"""Tests for okta_security.mapping.patterns: NFAs agree with re/fnmatch; inclusion and shortest match."""

from __future__ import annotations

import fnmatch
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from okta_security.mapping.patterns import (
    GroupFilter,
    Unsupported,
    compile_pattern,
    glob_nfa,
    includes,
    pattern_kind,
    pattern_nfa,
    regex_nfa,
    regex_source,
    shortest_match,
)

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
    assert includes(pattern_nfa(outer, pattern_kind(outer)), pattern_nfa(inner, pattern_kind(inner))) is expected


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


# --------------------------------------------------------------------------- the re:/glob convention


@pytest.mark.parametrize(
    ("pattern", "kind", "matches", "misses"),
    [
        ("airflow-admins", "exact", "airflow-admins", "airflow-admins2"),
        ("airflow-team-*", "glob", "airflow-team-data", "airflow-teams"),
        ("data_?", "glob", "data_1", "data_12"),
        ("[ab]-ops", "glob", "a-ops", "c-ops"),
        ("re:data-(eng|ops)", "regex", "data-ops", "data-ops-2"),  # fullmatch: the whole name
        ("re:a*", "regex", "aaa", "b"),  # after re: a star is a regex star, not a glob
    ],
)
def test_one_convention_for_every_pattern(pattern: str, kind: str, matches: str, misses: str) -> None:
    """re: is a regex matched in full, *?[ make a case-sensitive glob, anything else is exact."""
    assert pattern_kind(pattern) == kind
    compiled = compile_pattern(pattern)
    if kind == "exact":
        assert compiled is None
    else:
        assert compiled is not None
        assert compiled.fullmatch(matches)
        assert not compiled.fullmatch(misses)
        assert not compiled.fullmatch(matches.upper())


def test_regex_source_strips_only_the_prefix() -> None:
    assert regex_source("re:^a$") == "^a$"
    assert regex_source("re:") == ""
    assert regex_source("a.*") == "a.*"


GROUPS = ("Everyone", "airflow-admins", "airflow-team-data", "data-eng", "data-engineering", "airflow-admins")


@pytest.mark.parametrize(
    ("spec", "kept"),
    [
        ("", ("Everyone", "airflow-admins", "airflow-team-data", "data-eng", "data-engineering")),
        ("airflow-", ("airflow-admins", "airflow-team-data")),
        ("  airflow-team-  ", ("airflow-team-data",)),
        ("airflow-*", ()),  # a prefix: its characters are literal
        ("re:data-(eng|ops)", ("data-eng",)),  # the whole name must match
        ("re:airflow-.*|Everyone", ("Everyone", "airflow-admins", "airflow-team-data")),
        ("nothing-matches", ()),
    ],
)
def test_group_filter_keeps_matching_groups_in_order_without_duplicates(spec: str, kept: tuple[str, ...]) -> None:
    assert GroupFilter.parse(spec).apply(GROUPS) == kept


@pytest.mark.parametrize(("spec", "problem"), [("re:", "empty"), ("re:airflow-(", "invalid regular expression")])
def test_bad_group_filters_say_what_is_wrong(spec: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        GroupFilter.parse(spec)


@pytest.mark.parametrize(
    ("spec", "text"), [("", "all groups"), ("airflow-", "prefix 'airflow-'"), ("re:a.*", "regex 'a.*'")]
)
def test_group_filter_describes_itself(spec: str, text: str) -> None:
    assert GroupFilter.parse(spec).describe() == text


@pytest.mark.parametrize(
    ("spec", "why"),
    [(r"re:(airflow)-\1", "backreference"), ("re:airflow-(?!admins).*", "lookaround")],
)
def test_group_filters_the_linear_engine_cannot_run_are_refused(spec: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        GroupFilter.parse(spec)


def test_group_filter_matches_a_pathological_regex_in_linear_time() -> None:
    allowed = GroupFilter.parse("re:([a-z0-9]+-?)+-admins")
    start = time.perf_counter()
    assert allowed.apply(["a" * 24 + "-admins!", "ab-admins"]) == ("ab-admins",)
    assert time.perf_counter() - start < 1.0  # a guard against catastrophic backtracking only
