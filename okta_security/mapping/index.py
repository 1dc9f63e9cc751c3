"""Index mapping rules so that one group name is matched in (nearly) constant time.

A user may carry a thousand Okta groups and a mapping may hold a thousand rules; testing every
rule against every group is a million regex calls per login, where the budget for all of them is 2 ms.
The index narrows each group to the few rules that can possibly match it:

- exact names: one dict lookup;
- globs and regexes with a literal prefix (``airflow-team-*``, ``re:^data-(eng|ops)$``): a
  "gate" regex built as a trie of all prefixes answers "does any prefix fit?" in one C call,
  then only the rules filed under the fitting prefixes are tried;
- globs that start with a wildcard but end with literals (``*-admins``): the same, on suffixes;
- patterns with a literal only in the middle (``re:.*-admin-.*``, ``*-ops-*``): filed under the
  longest literal every match must contain, behind a trie gate used with ``search``;
- everything else (``re:[a-z]+``, ``*``): globs tried for every group behind one combined regex
  when they can be combined safely; ``re:`` patterns answered all at once by one RE2 set (one
  linear pass over the name, however many patterns and whatever they contain).

Prefixes come from a pattern's parse tree and are a *necessary* condition only (a shorter or
empty prefix is always safe), so the index can never change what matches; the property tests
compare it with the naive loop. Results are memoised per group name, per mapping version.

Pure logic: no Flask, FAB or Airflow imports.
"""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from okta_security.mapping.linear_regex import linear_set
from okta_security.mapping.patterns import PatternKind, bracket_end, regex_source
from okta_security.mapping.regex_parser import sre_parse

if TYPE_CHECKING:
    from collections.abc import Sequence

# Distinct group names remembered per mapping version; an Okta org has far fewer.
MEMO_LIMIT = 65_536


class IndexedRule(Protocol):
    """What the index needs of a rule: its pattern, how it is matched, and its line in the file."""

    @property
    def pattern(self) -> str: ...

    @property
    def kind(self) -> PatternKind: ...

    @property
    def line(self) -> int: ...

    def matches(self, name: str) -> bool: ...


R = TypeVar("R", bound=IndexedRule)

_GLOB_WILDCARDS = "*?["
_GLOB_SPECIAL = "*?[]"
_AT_START = {sre_parse.AT_BEGINNING, sre_parse.AT_BEGINNING_STRING}
# Global flags that change what a literal means; such regexes are never indexed by prefix.
_LITERAL_CHANGING_FLAGS = re.IGNORECASE | re.LOCALE


def glob_prefix(pattern: str) -> str:
    """Return the literal text every name matching the fnmatch glob must start with."""
    for index, char in enumerate(pattern):
        if char in _GLOB_WILDCARDS:
            return pattern[:index]
    return pattern


def glob_suffix(pattern: str) -> str:
    """Return the literal text every name matching the fnmatch glob must end with."""
    for index in range(len(pattern) - 1, -1, -1):
        if pattern[index] in _GLOB_SPECIAL:
            return pattern[index + 1 :]
    return pattern


def _parse(expression: str) -> Any | None:
    """Return the regex parse tree, or None if the private parser cannot handle it."""
    try:
        return sre_parse.parse(expression)
    except Exception:  # any surprise in a private API: simply do not index this rule
        return None


def regex_prefix(expression: str) -> str:
    """Return the literal text every string fully matching the regex must start with ('' if unknown)."""
    parsed = _parse(expression)
    if parsed is None or parsed.state.flags & _LITERAL_CHANGING_FLAGS:
        return ""
    chars: list[str] = []
    for op, arg in parsed:
        if op == sre_parse.AT and arg in _AT_START and not chars:
            continue
        if op == sre_parse.LITERAL:
            chars.append(chr(arg))
            continue
        break
    return "".join(chars)


def glob_required_literal(pattern: str) -> str:
    """Return the longest literal text every name matching the glob must contain ('' if none)."""
    segments: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char in "*?":
            segments.append("".join(current))
            current = []
        elif char == "[" and (end := bracket_end(pattern, index + 1)) is not None:
            segments.append("".join(current))
            current = []
            index = end
        else:
            current.append(char)
        index += 1
    segments.append("".join(current))
    return max(segments, key=len)


def regex_required_literal(expression: str) -> str:
    """Return the longest run of literals at the top level of the regex: every match contains it."""
    parsed = _parse(expression)
    if parsed is None or parsed.state.flags & _LITERAL_CHANGING_FLAGS:
        return ""
    best, current = "", []
    for op, arg in parsed:
        if op == sre_parse.LITERAL:
            current.append(chr(arg))
            continue
        best = max(best, "".join(current), key=len)
        current = []
    return max(best, "".join(current), key=len)


def trie_regex(words: Sequence[str]) -> re.Pattern[str] | None:
    """Compile a regex that finds any of ``words``: ``match`` at the start, ``search`` anywhere."""
    if not words:
        return None
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        if "" in node:  # a shorter word already fits: nothing deeper is needed
            return ""
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return re.compile(build(trie), re.DOTALL)


class _AffixTable(Generic[R]):
    """Rules filed under a literal prefix (or reversed suffix), behind one trie gate."""

    def __init__(self, entries: dict[str, list[R]]) -> None:
        self.entries = {affix: tuple(rules) for affix, rules in entries.items()}
        self.lengths = tuple(sorted({len(affix) for affix in entries}))
        self.gate = trie_regex(sorted(entries))

    def candidates(self, key: str) -> list[R]:
        """Return the rules filed under any prefix of ``key`` (call only when the gate matched)."""
        found: list[R] = []
        get = self.entries.get
        for length in self.lengths:
            if length > len(key):
                break
            rules = get(key[:length])
            if rules:
                found.extend(rules)
        return found


class RuleIndex(Generic[R]):
    """Find the rules matching one group name without trying every rule."""

    def __init__(self, rules: Sequence[R]) -> None:
        """Build the index once per mapping version."""
        exact: dict[str, list[R]] = {}
        prefixed: dict[str, list[R]] = {}
        suffixed: dict[str, list[R]] = {}
        infixed: dict[str, list[R]] = {}
        residual: list[R] = []
        for rule in rules:
            if rule.kind == "exact":
                exact.setdefault(rule.pattern, []).append(rule)
                continue
            if rule.kind == "glob":
                prefix = glob_prefix(rule.pattern)
                suffix = "" if prefix else glob_suffix(rule.pattern)
            else:
                prefix, suffix = regex_prefix(regex_source(rule.pattern)), ""
            if prefix:
                prefixed.setdefault(prefix, []).append(rule)
            elif suffix:
                suffixed.setdefault(suffix[::-1], []).append(rule)
            elif infix := (
                glob_required_literal(rule.pattern)
                if rule.kind == "glob"
                else regex_required_literal(regex_source(rule.pattern))
            ):
                infixed.setdefault(infix, []).append(rule)
            else:
                residual.append(rule)
        self._exact = {name: tuple(found) for name, found in exact.items()}
        self._prefixed = _AffixTable(prefixed)
        self._suffixed = _AffixTable(suffixed)
        self._infixed = {infix: tuple(found) for infix, found in infixed.items()}
        self._infix_gate = trie_regex(sorted(infixed))
        # Every gate built with Python's re holds only literals or fnmatch translations: a ``re:``
        # pattern is only ever run by RE2, whose time is linear in the name whatever the pattern.
        self._residual = tuple(rule for rule in residual if rule.kind != "regex")
        self._residual_gate = _residual_gate(self._residual)
        self._residual_regexes = tuple(rule for rule in residual if rule.kind == "regex")
        self._regex_set = (
            linear_set([regex_source(rule.pattern) for rule in self._residual_regexes])
            if self._residual_regexes
            else None
        )
        self._memo: dict[str, tuple[R, ...]] = {}
        self.sizes = {
            "exact": sum(map(len, exact.values())),
            "prefix": sum(map(len, prefixed.values())),
            "suffix": sum(map(len, suffixed.values())),
            "infix": sum(map(len, infixed.values())),
            "scan": len(residual),
        }

    def match(self, group: str) -> tuple[R, ...]:
        """Return the rules matching ``group``, in file order (memoised)."""
        found = self._memo.get(group)
        if found is None:
            found = self._match(group)
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()  # bounded memory; a real org re-fills it within a few logins
            self._memo[group] = found
        return found

    def _match(self, group: str) -> tuple[R, ...]:
        """Compute the rules matching ``group`` (no memo); each gate is one C call that almost always says no."""
        exact = self._exact.get(group)
        found = list(exact) if exact else []
        gate = self._prefixed.gate
        if gate is not None and gate.match(group):
            found.extend(rule for rule in self._prefixed.candidates(group) if rule.matches(group))
        gate = self._suffixed.gate
        if gate is not None:
            backwards = group[::-1]
            if gate.match(backwards):
                found.extend(rule for rule in self._suffixed.candidates(backwards) if rule.matches(group))
        gate = self._infix_gate
        if gate is not None and gate.search(group):
            for infix, rules in self._infixed.items():
                if infix in group:
                    found.extend(rule for rule in rules if rule.matches(group))
        if self._residual and (self._residual_gate is None or self._residual_gate.fullmatch(group)):
            found.extend(rule for rule in self._residual if rule.matches(group))
        if self._regex_set is not None:
            found.extend(self._residual_regexes[i] for i in self._regex_set.Match(group) or ())
        if len(found) > 1:
            found.sort(key=_line)
        return tuple(found)


def _line(rule: IndexedRule) -> int:
    return rule.line


def _residual_gate(rules: Sequence[R]) -> re.Pattern[str] | None:
    """Combine the globs that every group must be tried against into one necessary-condition regex."""
    if not rules:
        return None
    parts: list[str] = []
    for rule in rules:
        if rule.kind != "glob":
            return None  # only globs are combined with Python's re (see RuleIndex.__init__)
        parts.append(_glob_regex(rule.pattern))
    try:
        return re.compile("|".join(f"(?:{part})" for part in parts))
    except (re.error, RecursionError, OverflowError):
        return None


def _glob_regex(pattern: str) -> str:
    """Return the regex fnmatch uses for a glob, without its end anchor (fullmatch anchors it)."""
    translated = fnmatch.translate(pattern)
    return translated[:-2] if translated.endswith(r"\Z") else translated
