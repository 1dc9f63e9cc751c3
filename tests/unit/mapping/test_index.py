"""Tests for okta_security.mapping.index: literal prefixes/suffixes, gates, and equality with the naive loop."""

from __future__ import annotations

import fnmatch
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from okta_security.mapping import index as rule_index
from okta_security.mapping.index import (
    RuleIndex,
    glob_prefix,
    glob_required_literal,
    glob_suffix,
    regex_prefix,
    regex_required_literal,
    trie_regex,
)
from okta_security.mapping.patterns import pattern_kind
from okta_security.mapping.rules import Rule


def rule(pattern: str, line: int = 1, roles: tuple[str, ...] = ("User",)) -> Rule:
    return Rule(pattern, pattern_kind(pattern), roles, line)


@pytest.mark.parametrize(
    ("pattern", "prefix", "suffix"),
    [
        ("airflow-team-*", "airflow-team-", ""),
        ("*-admins", "", "-admins"),
        ("a?c", "a", "c"),
        ("team-[ab]-x", "team-", "-x"),
        ("*", "", ""),
        ("x[", "x", ""),  # an unclosed bracket: stop early, which is always safe
        ("exact", "exact", "exact"),
    ],
)
def test_glob_affixes(pattern: str, prefix: str, suffix: str) -> None:
    """Take the literal text before the first and after the last wildcard."""
    assert glob_prefix(pattern) == prefix
    assert glob_suffix(pattern) == suffix


@pytest.mark.parametrize(
    ("expression", "prefix"),
    [
        ("^data-(eng|ops)$", "data-"),
        ("data-(eng|ops)", "data-"),
        (r"\Asvc-\d+", "svc-"),
        ("ab*", "a"),  # 'b' is optional
        ("abc|abd", "ab"),  # the parser factors the common prefix out
        ("abc|xyz", ""),
        ("(?i)data-.*", ""),  # case-insensitive literals are no prefix
        ("(data)-x", ""),
        ("a{0}b", ""),
        ("[", ""),  # invalid: never indexed
    ],
)
def test_regex_prefix(expression: str, prefix: str) -> None:
    """Take only literals every full match must start with."""
    assert regex_prefix(expression) == prefix


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        ("*-ops-*", "-ops-"),
        ("*a*bcd?e", "bcd"),
        ("*[ab]cd*", "cd"),  # the bracket is no literal
        ("*[!]]xy*", "xy"),
        ("*x[yz", "x[yz"),  # unclosed bracket: literal, as fnmatch reads it
        ("*", ""),
    ],
)
def test_glob_required_literal(pattern: str, literal: str) -> None:
    """Find the longest literal run between wildcards."""
    assert glob_required_literal(pattern) == literal


@pytest.mark.parametrize(
    ("expression", "literal"),
    [
        (".*-admin-.*", "-admin-"),
        (".*ab(c|d)efg.*", "efg"),
        (".*ab*", "a"),
        ("(?i).*admin.*", ""),
        ("[a-z]+", ""),
    ],
)
def test_regex_required_literal(expression: str, literal: str) -> None:
    """Find the longest top-level literal run every match contains."""
    assert regex_required_literal(expression) == literal


def test_trie_regex_matches_any_prefix() -> None:
    """Match strings starting with any word, and only those."""
    gate = trie_regex(["air", "airflow-", "data-", "d"])
    assert gate is not None
    assert gate.match("airflow-x")
    assert gate.match("dx")
    assert gate.match("air")
    assert not gate.match("ai")
    assert not gate.match("xair")
    assert trie_regex([]) is None
    special = trie_regex(["a.b", "x|y"])
    assert special is not None
    assert special.match("a.b1")
    assert not special.match("axb")


BASE = [
    rule("airflow-admins", 1, ("Admin",)),
    rule("airflow-team-*", 2),
    rule("*-ops", 3, ("Op",)),
    rule("re:^data-(eng|ops)$", 4, ("Op",)),
    rule("re:.*svc.*", 5, ("Viewer",)),
    rule("airflow-[xy]?", 6, ("Viewer",)),
    rule("re:(?i)CASE-.*", 7, ("Viewer",)),
]


@pytest.mark.parametrize(
    ("group", "lines"),
    [
        ("airflow-admins", [1]),
        ("airflow-team-ops", [2, 3]),
        ("data-ops", [3, 4]),
        ("my-svc-1", [5]),
        ("airflow-xz", [6]),
        ("case-x", [7]),
        ("nothing", []),
        ("", []),
    ],
)
def test_match_returns_rules_in_file_order(group: str, lines: list[int]) -> None:
    """Find every matching rule, exact, prefixed, suffixed or scanned, in file order."""
    index = RuleIndex(BASE)
    assert [r.line for r in index.match(group)] == lines
    assert index.match(group) == index.match(group)  # memoised answer is the same


def test_index_files_rules_by_how_they_are_found() -> None:
    """Report how many rules each strategy holds."""
    assert RuleIndex(BASE).sizes == {"exact": 1, "prefix": 3, "suffix": 1, "infix": 1, "scan": 1}


def test_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget remembered groups when the memo is full."""
    monkeypatch.setattr(rule_index, "MEMO_LIMIT", 3)
    index = RuleIndex(BASE)
    for n in range(10):
        index.match(f"g{n}")
    assert len(index._memo) <= 3
    assert [r.line for r in index.match("airflow-admins")] == [1]


def naive(rules: list[Rule], group: str) -> list[int]:
    return [r.line for r in rules if r.matches(group)]


_chars = st.sampled_from(list("ab-_.xZ\n*?["))
_words = st.text(_chars, min_size=0, max_size=6)
_globs = st.builds(lambda a, w, b: a + w + b, _words, st.sampled_from(["*", "?", "[ab]", "[!a]", "", "*-"]), _words)
_regexes = st.builds(
    lambda a, w, b: "re:" + a + w + b,
    st.sampled_from(["", "^", "a", "ab", "a-", r"\A"]),
    st.sampled_from([".*", "(a|b)", "[ab]+", "x?", "", "-.", "(?:ab)*"]),
    st.sampled_from(["", "$", "b", r"\Z", "-z"]),
)
_infixes = st.builds(
    lambda w, a, v: w + a + v, st.sampled_from(["*", "?", "re:.*", "re:.+"]), _words, st.sampled_from(["*", "?", ".*"])
)
_patterns = st.one_of(
    _words.filter(bool),
    _globs.filter(bool),
    _regexes.filter(lambda p: p != "re:"),
    _infixes.filter(lambda p: p not in ("re:.*.*",)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_patterns, min_size=1, max_size=12, unique=True), st.lists(_words, max_size=12))
def test_index_equals_the_naive_loop(patterns: list[str], groups: list[str]) -> None:
    """Match exactly what trying every rule would match (the index only skips impossible rules)."""
    rules = []
    for line, pattern in enumerate(patterns, start=1):
        if pattern.startswith("re:"):
            try:
                re.compile(pattern[3:])
            except re.error:
                continue
        rules.append(rule(pattern, line))
    index = RuleIndex(rules)
    samples = groups + [p for p in patterns if not p.startswith("re:")] + [p.replace("*", "x") for p in patterns]
    for group in samples:
        assert [r.line for r in index.match(group)] == naive(rules, group), group


def test_glob_matching_is_fnmatchcase() -> None:
    """The index agrees with fnmatch.fnmatchcase on globs with brackets."""
    rules = [rule("team-[!a-c]*", 1), rule("[]x]y", 2)]
    index = RuleIndex(rules)
    for group in ["team-d1", "team-a1", "]y", "xy", "team-"]:
        expected = [r.line for r in rules if fnmatch.fnmatchcase(group, r.pattern)]
        assert [r.line for r in index.match(group)] == expected
