"""Name patterns: the ``re:``/glob/exact convention, and the set of names a pattern matches.

One convention for every pattern okta_security reads (mapping keys, DAG patterns in ``roles:``,
``OKTA_GROUPS_FILTER``): a pattern starting with ``re:`` is a regular expression matched against
the whole name; otherwise one containing ``*``, ``?`` or ``[`` is an fnmatch glob (case-sensitive);
anything else is an exact name. :func:`pattern_kind`, :func:`regex_source` and
:func:`compile_pattern` are the only code that knows it.

The lint needs three questions answered about globs and regular expressions, exactly rather
than by sampling:

- ``includes(a, b)``: does every name ``b`` matches also match ``a``? (a shadowed rule)
- ``shortest_match(p)``: the shortest name ``p`` matches, or None (a rule that can never match)
- is ``p`` matched by a given name (plain ``Rule.matches``, not here).

Patterns are compiled to small NFAs whose edges carry character sets; inclusion is decided
on the fly by subset construction over a finite alphabet of representative characters (one
per interval on which every character set of both patterns is constant). Regex features
whose language cannot be modelled this way (backreferences, lookarounds, ``\\d``-style
categories, case-insensitivity, anchors in the middle, huge counted repeats) make the
pattern *unsupported*: the answer is then None ("don't know"), never a guess.

Pure logic: no Flask, FAB or Airflow imports.
"""

from __future__ import annotations

import fnmatch
import re
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

from okta_security.mapping.linear_regex import LinearRegex, RegexRejected
from okta_security.mapping.regex_parser import sre_parse

MAX_UNROLL = 32  # counted repeats ({m,n}) up to this size are modelled exactly
MAX_STEPS = 20_000  # subset-construction pairs explored before answering "don't know"
_MAX_CHAR = 0x10FFFF
_START_ANCHORS = {sre_parse.AT_BEGINNING, sre_parse.AT_BEGINNING_STRING}
_END_ANCHORS = {sre_parse.AT_END, sre_parse.AT_END_STRING}


REGEX_PREFIX = "re:"
GLOB_CHARS = frozenset("*?[")
PatternKind = Literal["exact", "glob", "regex"]


def pattern_kind(pattern: str) -> PatternKind:
    """Return how a pattern is matched: ``regex`` (``re:``), ``glob`` (``*?[``) or ``exact``."""
    if pattern.startswith(REGEX_PREFIX):
        return "regex"
    if any(char in GLOB_CHARS for char in pattern):
        return "glob"
    return "exact"


def regex_source(pattern: str) -> str:
    """Return the regular expression of a ``re:`` pattern (the pattern itself if it has no prefix)."""
    return pattern[len(REGEX_PREFIX) :] if pattern.startswith(REGEX_PREFIX) else pattern


class Matcher(Protocol):
    """A compiled glob or ``re:`` pattern: ``fullmatch`` returns None when the whole name does not match."""

    @property
    def pattern(self) -> str: ...

    def fullmatch(self, name: str, /) -> object | None: ...


def compile_pattern(pattern: str, kind: PatternKind | None = None) -> Matcher | None:
    """Return the matcher to ``fullmatch`` names against (None for an exact name); raise ``RegexRejected``.

    Globs become fnmatch's translation (``re``; it avoids backtracking blow-ups by construction),
    ``re:`` patterns RE2 (:mod:`okta_security.mapping.linear_regex`): linear time in the name.
    """
    kind = kind or pattern_kind(pattern)
    if kind == "glob":
        return re.compile(fnmatch.translate(pattern))
    if kind == "regex":
        return LinearRegex(regex_source(pattern))
    return None


@dataclass(frozen=True)
class GroupFilter:
    """Which group names count (``OKTA_GROUPS_FILTER``): all, a name prefix, or a ``re:`` regex in full."""

    spec: str = ""
    _regex: LinearRegex | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, spec: str) -> GroupFilter:
        """Build the filter from its text; raise ValueError if the regex is empty, invalid or needs backtracking."""
        spec = spec.strip()
        if pattern_kind(spec) != "regex":
            return cls(spec)  # a name prefix; glob characters in it are literal, as documented
        pattern = regex_source(spec)
        if not pattern:
            raise ValueError(f"the regular expression after {REGEX_PREFIX!r} is empty")
        try:
            return cls(spec, LinearRegex(pattern))
        except RegexRejected as e:
            raise ValueError(f"{e.problem} ({e.fix})") from e

    def allows(self, name: str) -> bool:
        """Return whether group ``name`` counts."""
        if self._regex is not None:
            return self._regex.fullmatch(name) is not None
        return name.startswith(self.spec)

    def apply(self, groups: Iterable[str]) -> tuple[str, ...]:
        """Return the groups that count, in their original order, without duplicates."""
        return tuple(dict.fromkeys(g for g in groups if self.allows(g)))

    def describe(self) -> str:
        """Return a short human description, for logs."""
        if self._regex is not None:
            return f"regex {self._regex.pattern!r}"
        return f"prefix {self.spec!r}" if self.spec else "all groups"


class Unsupported(Exception):
    """The pattern uses a feature whose language this module does not model."""


@dataclass(frozen=True)
class CharSet:
    """A set of characters: inclusive code-point intervals, possibly negated."""

    intervals: tuple[tuple[int, int], ...]
    negated: bool = False

    def __contains__(self, code: int) -> bool:
        inside = any(lo <= code <= hi for lo, hi in self.intervals)
        return inside != self.negated

    def boundaries(self) -> Iterable[int]:
        """Yield the code points where membership may change."""
        for lo, hi in self.intervals:
            yield lo
            if hi < _MAX_CHAR:
                yield hi + 1


ANY = CharSet((), negated=True)


@dataclass
class Nfa:
    """A Thompson NFA: ``edges[s]`` are (charset, target); ``eps[s]`` are epsilon targets."""

    edges: list[list[tuple[CharSet, int]]] = field(default_factory=list)
    eps: list[list[int]] = field(default_factory=list)
    start: int = 0
    accept: int = 0

    def state(self) -> int:
        """Add a state and return its number."""
        self.edges.append([])
        self.eps.append([])
        return len(self.edges) - 1

    def closure(self, states: Iterable[int]) -> frozenset[int]:
        """Return the epsilon closure of ``states``."""
        seen = set(states)
        stack = list(seen)
        while stack:
            for target in self.eps[stack.pop()]:
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        return frozenset(seen)

    def step(self, states: frozenset[int], code: int) -> frozenset[int]:
        """Return the closure of the states reached from ``states`` on one character."""
        return self.closure(target for s in states for charset, target in self.edges[s] if code in charset)

    def charsets(self) -> Iterable[CharSet]:
        """Yield every character set on an edge."""
        for edges in self.edges:
            for charset, _target in edges:
                yield charset

    def accepts(self, text: str) -> bool:
        """Return True if the NFA accepts the whole of ``text`` (used by tests)."""
        states = self.closure([self.start])
        for char in text:
            states = self.step(states, ord(char))
            if not states:
                return False
        return self.accept in states


# --------------------------------------------------------------------------- globs


def glob_nfa(pattern: str) -> Nfa:
    """Compile an fnmatch (case-sensitive) glob into an NFA."""
    nfa = Nfa()
    current = nfa.start = nfa.state()
    index, length = 0, len(pattern)
    while index < length:
        char = pattern[index]
        index += 1
        if char == "*":
            nfa.edges[current].append((ANY, current))
            continue
        if char == "?":
            charset = ANY
        elif char == "[":
            end = bracket_end(pattern, index)
            if end is None:
                charset = CharSet(((ord("["), ord("[")),))
            else:
                charset = _bracket_charset(pattern[index - 1 : end + 1])
                index = end + 1
        else:
            charset = CharSet(((ord(char), ord(char)),))
        following = nfa.state()
        nfa.edges[current].append((charset, following))
        current = following
    nfa.accept = current
    return nfa


def bracket_end(pattern: str, index: int) -> int | None:
    """Return the index of the ``]`` closing a bracket opened before ``index`` (fnmatch's rules)."""
    j = index
    if j < len(pattern) and pattern[j] == "!":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 1
    return j if j < len(pattern) else None


def _bracket_charset(bracket: str) -> CharSet:
    """Return the characters an fnmatch bracket expression matches, as fnmatch itself translates it."""
    tree = sre_parse.parse(fnmatch.translate(bracket))
    items = list(_unwrap(tree))
    if len(items) != 1:  # e.g. an empty range fnmatch turns into "(?!)"
        raise Unsupported(f"bracket expression {bracket!r}")
    op, arg = items[0]
    if op == sre_parse.LITERAL:
        return CharSet(((arg, arg),))
    if op == sre_parse.NOT_LITERAL:
        return CharSet(((arg, arg),), negated=True)
    if op == sre_parse.ANY:
        return ANY
    if op == sre_parse.IN:
        return _in_charset(arg, dotall=True)
    raise Unsupported(f"bracket expression {bracket!r}")


def _unwrap(tree: Any) -> Iterable[tuple[Any, Any]]:
    """Yield the items of a parsed fnmatch translation, without its (?s:...) group and end anchor."""
    for op, arg in tree:
        if op == sre_parse.SUBPATTERN:
            yield from _unwrap(arg[3])
        elif op == sre_parse.AT and arg in _END_ANCHORS:
            continue
        else:
            yield op, arg


# --------------------------------------------------------------------------- regexes


def regex_nfa(expression: str) -> Nfa:
    """Compile a regex, matched with ``re.fullmatch``, into an NFA; raise Unsupported if it can't."""
    try:
        tree = sre_parse.parse(expression)
    except Exception as exc:
        raise Unsupported(str(exc)) from exc
    flags = tree.state.flags
    if flags & (re.IGNORECASE | re.LOCALE):
        raise Unsupported("case-insensitive patterns")
    nfa = Nfa()
    nfa.start = nfa.state()
    nfa.accept = _sequence(nfa, list(tree.data), nfa.start, dotall=bool(flags & re.DOTALL), at_start=True, at_end=True)
    return nfa


def _sequence(nfa: Nfa, items: list[tuple[Any, Any]], state: int, *, dotall: bool, at_start: bool, at_end: bool) -> int:
    """Add ``items`` after ``state``; return the state reached at their end."""
    for position, (op, arg) in enumerate(items):
        first = at_start and all(o == sre_parse.AT for o, _a in items[:position])
        last = at_end and all(o == sre_parse.AT for o, _a in items[position + 1 :])
        state = _item(nfa, op, arg, state, dotall=dotall, at_start=first, at_end=last)
    return state


def _item(nfa: Nfa, op: Any, arg: Any, state: int, *, dotall: bool, at_start: bool, at_end: bool) -> int:
    """Add one parsed regex item after ``state``; return its end state."""
    if op == sre_parse.LITERAL:
        return _edge(nfa, state, CharSet(((arg, arg),)))
    if op == sre_parse.NOT_LITERAL:
        return _edge(nfa, state, CharSet(((arg, arg),), negated=True))
    if op == sre_parse.ANY:
        return _edge(nfa, state, ANY if dotall else CharSet(((10, 10),), negated=True))
    if op == sre_parse.IN:
        return _edge(nfa, state, _in_charset(arg, dotall=dotall))
    if op == sre_parse.AT:
        # Under fullmatch, ^ / \A at the very start and $ / \Z at the very end change nothing.
        if (arg in _START_ANCHORS and at_start) or (arg in _END_ANCHORS and at_end):
            return state
        raise Unsupported(f"anchor {arg} inside the pattern")
    if op == sre_parse.SUBPATTERN:
        _group, add_flags, del_flags, body = arg
        if add_flags & re.IGNORECASE:
            raise Unsupported("case-insensitive group")
        inner = (dotall or bool(add_flags & re.DOTALL)) and not del_flags & re.DOTALL
        return _sequence(nfa, list(body), state, dotall=inner, at_start=at_start, at_end=at_end)
    if op == sre_parse.BRANCH:
        end = nfa.state()
        for alternative in arg[1]:
            begin = nfa.state()
            nfa.eps[state].append(begin)
            finish = _sequence(nfa, list(alternative), begin, dotall=dotall, at_start=at_start, at_end=at_end)
            nfa.eps[finish].append(end)
        return end
    if op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT):
        low, high, body = arg
        return _repeat(nfa, list(body), state, low, high, dotall=dotall)
    raise Unsupported(f"regex feature {op}")


def _repeat(nfa: Nfa, body: list[tuple[Any, Any]], state: int, low: int, high: int, *, dotall: bool) -> int:
    """Add ``body`` repeated low..high times (high may be unbounded)."""
    unbounded = high == sre_parse.MAXREPEAT
    if low > MAX_UNROLL or (not unbounded and high > MAX_UNROLL):
        raise Unsupported(f"repeat {{{low},{high}}}")
    for _ in range(low):
        state = _sequence(nfa, body, state, dotall=dotall, at_start=False, at_end=False)
    if unbounded:
        loop = nfa.state()
        nfa.eps[state].append(loop)
        finish = _sequence(nfa, body, loop, dotall=dotall, at_start=False, at_end=False)
        nfa.eps[finish].append(loop)
        return loop
    end = nfa.state()
    nfa.eps[state].append(end)
    for _ in range(high - low):
        state = _sequence(nfa, body, state, dotall=dotall, at_start=False, at_end=False)
        nfa.eps[state].append(end)
    return end


def _edge(nfa: Nfa, state: int, charset: CharSet) -> int:
    target = nfa.state()
    nfa.edges[state].append((charset, target))
    return target


def _in_charset(items: Any, *, dotall: bool) -> CharSet:
    """Convert the items of a parsed ``[...]`` into a CharSet."""
    negated = False
    intervals: list[tuple[int, int]] = []
    for op, arg in items:
        if op == sre_parse.NEGATE:
            negated = True
        elif op == sre_parse.LITERAL:
            intervals.append((arg, arg))
        elif op == sre_parse.RANGE:
            intervals.append(arg)
        else:
            raise Unsupported(f"character class item {op}")
    return CharSet(tuple(intervals), negated)


# --------------------------------------------------------------------------- questions


def pattern_nfa(pattern: str, kind: str) -> Nfa:
    """Compile a mapping key of the given kind ("exact", "glob", "regex" with its re: prefix)."""
    if kind == "exact":
        nfa = Nfa()
        state = nfa.start = nfa.state()
        for char in pattern:
            state = _edge(nfa, state, CharSet(((ord(char), ord(char)),)))
        nfa.accept = state
        return nfa
    if kind == "glob":
        return glob_nfa(pattern)
    return regex_nfa(regex_source(pattern))


def union(nfas: Sequence[Nfa]) -> Nfa:
    """Return an NFA accepting what any of ``nfas`` accepts."""
    combined = Nfa()
    combined.start = combined.state()
    combined.accept = combined.state()
    for nfa in nfas:
        offset = len(combined.edges)
        for edges, eps in zip(nfa.edges, nfa.eps, strict=True):
            combined.edges.append([(charset, target + offset) for charset, target in edges])
            combined.eps.append([target + offset for target in eps])
        combined.eps[combined.start].append(nfa.start + offset)
        combined.eps[nfa.accept + offset].append(combined.accept)
    return combined


PREFERRED = "abcdefghijklmnopqrstuvwxyz0123456789-_."


def _alphabet(*nfas: Nfa, prefer: str = PREFERRED) -> list[int]:
    """Return one code point per interval on which every charset is constant (readable ones first)."""
    points = {0}
    for nfa in nfas:
        for charset in nfa.charsets():
            points.update(charset.boundaries())
    starts = sorted(points)
    ends = [*starts[1:], _MAX_CHAR + 1]
    preferred = [ord(c) for c in prefer]
    rank = {code: index for index, code in enumerate(preferred)}
    codes = [next((c for c in preferred if lo <= c < hi), lo) for lo, hi in zip(starts, ends, strict=True)]
    return sorted(codes, key=lambda code: (rank.get(code, len(rank)), code))  # readable samples first


def includes(outer: Nfa, inner: Nfa, *, max_steps: int = MAX_STEPS) -> bool | None:
    """Return True if every string ``inner`` accepts is accepted by ``outer`` (None: too costly)."""
    alphabet = _alphabet(outer, inner)
    begin = (inner.closure([inner.start]), outer.closure([outer.start]))
    seen = {begin}
    queue = deque([begin])
    while queue:
        inner_states, outer_states = queue.popleft()
        if inner.accept in inner_states and outer.accept not in outer_states:
            return False
        for code in alphabet:
            next_inner = inner.step(inner_states, code)
            if not next_inner:
                continue
            pair = (next_inner, outer.step(outer_states, code))
            if pair not in seen:
                if len(seen) >= max_steps:
                    return None
                seen.add(pair)
                queue.append(pair)
    return True


def shortest_match(nfa: Nfa, *, min_length: int = 1, prefer: str = PREFERRED, max_steps: int = MAX_STEPS) -> str | None:
    """Return a shortest accepted string of at least ``min_length`` characters, or None if there is none.

    Characters are picked from ``prefer`` when the pattern allows; a different ``prefer`` gives
    a different sample. Raise Unsupported if the search would take more than ``max_steps``.
    """
    alphabet = _alphabet(nfa, prefer=prefer)
    begin = (nfa.closure([nfa.start]), 0)
    parents: dict[tuple[frozenset[int], int], tuple[tuple[frozenset[int], int], int] | None] = {begin: None}
    queue = deque([begin])
    while queue:
        node = queue.popleft()
        states, length = node
        if length >= min_length and nfa.accept in states:
            return _spell(node, parents)
        for code in alphabet:
            following = nfa.step(states, code)
            if not following:
                continue
            child = (following, min(length + 1, min_length))
            if child not in parents:
                if len(parents) >= max_steps:
                    raise Unsupported("too many states to explore")
                parents[child] = (node, code)
                queue.append(child)
    return None


def _spell(node: tuple[frozenset[int], int], parents: dict) -> str:  # type: ignore[type-arg]
    """Rebuild the string that led to ``node``."""
    chars: list[str] = []
    while (parent := parents[node]) is not None:
        node, code = parent
        chars.append(chr(code))
    return "".join(reversed(chars))
