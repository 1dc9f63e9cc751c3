"""Tests for okta_security.mapping.patterns: the re:/glob convention, RE2, and the set that matches them all."""

from __future__ import annotations

import fnmatch
import re
import time
from dataclasses import dataclass

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from okta_security.mapping import patterns
from okta_security.mapping.patterns import (
    GroupFilter,
    PatternKind,
    PatternSet,
    RegexRejected,
    compile_regex,
    glob_regex,
    matcher,
    pattern_kind,
    re2_syntax,
    regex_source,
)


@settings(max_examples=500, deadline=None)
@given(
    st.text(st.sampled_from(list("ab-*?[]!^\\:&\né")), min_size=1, max_size=8),
    st.lists(st.text(st.sampled_from(list("ab-]![\\:^\né&")), max_size=7), min_size=1, max_size=10),
)
def test_glob_regex_agrees_with_fnmatchcase(pattern: str, names: list[str]) -> None:
    """Translate a glob for RE2 so that it matches exactly what fnmatch.fnmatchcase matches."""
    compiled = re2.compile(glob_regex(pattern))
    for name in names:
        assert (compiled.fullmatch(name) is not None) == fnmatch.fnmatchcase(name, pattern), (pattern, name)


@pytest.mark.parametrize(
    ("expression", "spelled"),
    [
        (r"a\Z", r"a\z"),
        (r"\u00e9", r"\x{00e9}"),
        (r"\U0001F600", r"\x{0001F600}"),
        (r"\\Z", r"\\Z"),
        (r"\uzz", r"\uzz"),
    ],
)
def test_re2_syntax_spells_python_escapes_for_re2(expression: str, spelled: str) -> None:
    assert re2_syntax(expression) == spelled


@dataclass(frozen=True)
class Entry:
    pattern: str
    line: int

    @property
    def kind(self) -> PatternKind:
        return pattern_kind(self.pattern)


BASE = [
    Entry("airflow-admins", 1),
    Entry("airflow-team-*", 2),
    Entry("*-ops", 3),
    Entry("re:^data-(eng|ops)$", 4),
    Entry("re:.*svc.*", 5),
    Entry("airflow-[xy]?", 6),
    Entry("re:(?i)CASE-.*", 7),
    Entry("airflow-admins", 8),
]


@pytest.mark.parametrize(
    ("name", "lines"),
    [
        ("airflow-admins", [1, 8]),
        ("airflow-team-ops", [2, 3]),
        ("data-ops", [3, 4]),
        ("my-svc-1", [5]),
        ("airflow-xz", [6]),
        ("case-x", [7]),
        ("nothing", []),
        ("", []),
        ("svc-\ud800", [5]),  # a lone surrogate (JSON allows one) is matched, not an error
    ],
)
def test_set_returns_matching_entries_in_file_order(name: str, lines: list[int]) -> None:
    """Find every matching entry, exact or pattern, in file order."""
    found = PatternSet(BASE)
    assert [e.line for e in found.match(name)] == lines
    assert found.match(name) == found.match(name)  # the memoised answer is the same


def test_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget remembered names when the memo is full."""
    monkeypatch.setattr(patterns, "MEMO_LIMIT", 3)
    found = PatternSet(BASE)
    for n in range(10):
        found.match(f"g{n}")
    assert len(found._memo) <= 3
    assert [e.line for e in found.match("airflow-admins")] == [1, 8]


_chars = st.sampled_from(list("ab-_.xZ\n*?["))
_words = st.text(_chars, min_size=0, max_size=6)
_globs = st.builds(lambda a, w, b: a + w + b, _words, st.sampled_from(["*", "?", "[ab]", "[!a]", "", "*-"]), _words)
_regexes = st.builds(
    lambda a, w, b: "re:" + a + w + b,
    st.sampled_from(["", "^", "a", "ab", "a-", r"\A"]),
    st.sampled_from([".*", "(a|b)", "[ab]+", "x?", "", "-.", "(?:ab)*"]),
    st.sampled_from(["", "$", "b", r"\Z", "-z"]),
)
_patterns = st.one_of(_words.filter(bool), _globs.filter(bool), _regexes.filter(lambda p: p != "re:"))


@settings(max_examples=300, deadline=None)
@given(st.lists(_patterns, min_size=1, max_size=12, unique=True), st.lists(_words, max_size=12))
def test_set_equals_trying_every_pattern(keys: list[str], names: list[str]) -> None:
    """Match exactly what trying every pattern with its own matcher would match."""
    entries = [Entry(key, line) for line, key in enumerate(keys, start=1)]
    found = PatternSet(entries)
    samples = names + [k for k in keys if not k.startswith("re:")] + [k.replace("*", "x") for k in keys]
    for name in samples:
        expected = [e.line for e in entries if matcher(e.pattern)(name)]
        assert [e.line for e in found.match(name)] == expected, name


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("", "empty"),
        ("(", "invalid regular expression"),
        (r"(a)\1", "backreference"),
        ("(?P<a>x)(?P=a)", "backreference"),
        ("(a)?(?(1)b|c)", "backreference"),
        ("(?=a)a", "lookaround"),
        ("(?<!a)b", "lookaround"),
        ("(?>a)", "atomic group"),
        ("a{2}+", "possessive"),
    ],
)
def test_compile_regex_says_why_a_pattern_is_refused(expression: str, why: str) -> None:
    with pytest.raises(RegexRejected, match=re.escape(why)):
        compile_regex(expression)


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
    matches_name = matcher(pattern)
    assert matches_name(matches)
    assert not matches_name(misses)
    assert not matches_name(matches.upper())


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


def test_a_set_re2_cannot_hold_is_refused_at_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse, with the fix, a set larger than RE2's memory budget instead of failing at a login."""
    options = re2.Options()
    options.max_mem = 1 << 14
    monkeypatch.setattr(patterns, "_OPTIONS", options)
    with pytest.raises(RegexRejected, match="more than RE2 can match") as info:
        PatternSet([Entry(f"re:team{i}-[a-z]+-(dev|prod)", i) for i in range(50)])
    assert "exact name" in info.value.fix


def test_an_answer_without_the_canary_is_an_error_not_no_match() -> None:
    """Never read RE2 giving up (an empty answer) as "no pattern matches"."""
    found = PatternSet(BASE)
    with pytest.raises(RegexRejected, match="more than RE2 can match"):
        found._checked(None)
    with pytest.raises(RegexRejected):
        found._checked([0])
    assert found._checked([found._canary, 2]) == [2]
