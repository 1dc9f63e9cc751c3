"""Name patterns: the ``re:``/glob/exact convention, RE2 for regexes, and one set matching them all.

Every pattern read (mapping keys, DAG patterns, ``OKTA_GROUPS_FILTER``) is ``re:`` + a regex of the
whole name, else an fnmatch glob (``*?[``, case-sensitive), else an exact name. ``re:`` runs on RE2,
linear in the name, which whoever creates Okta groups chooses (docs/mapping-cookbook.md); it must
also compile with Python's ``re``, whose syntax stays the documented one. Pure logic.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

import re2

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

REGEX_PREFIX = "re:"
PatternKind = Literal["exact", "glob", "regex"]
MEMO_LIMIT = 65_536  # distinct group names remembered per mapping version; an Okta org has far fewer

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern to stderr; the caller reports it
_OPTIONS.never_capture = True  # only "does the whole name match?" is ever asked
_OPTIONS.max_mem = 32 << 20  # a set of thousands of patterns, and the automaton RE2 builds as names come
_NOTHING = r"[^\x00-\x{10FFFF}]"  # fnmatch's "(?!)" (an empty range) in RE2's syntax
FIX = (
    "rewrite it without backreferences, lookaround, atomic groups or possessive quantifiers "
    "('re:' patterns are matched with RE2), e.g. list the alternatives: re:^(eng|ops)-(eng|ops)$"
)
_OTHER_FIX = "use only syntax that both Python's re and RE2 accept (https://github.com/google/re2/wiki/Syntax)"
# What RE2's refusal names (after Python's re accepted the pattern) -> the construct it is.
_REFUSED = (
    (re.compile(r"escape sequence: \\[1-9]|operator: \(\?P|operator: \(\?\("), "a backreference (\\1 or (?P=name))"),
    (re.compile(r"operator: \(\?<?[=!]"), "lookaround ((?=...), (?!...), (?<=...) or (?<!...))"),
    (re.compile(r"operator: \(\?>"), "an atomic group ((?>...))"),
    (re.compile(r"repetition operator: .*\+$"), "a possessive quantifier (*+, ++, ?+ or {m,n}+)"),
)


class RegexRejected(ValueError):
    """A ``re:`` pattern that cannot be used: empty, invalid, or not matchable in linear time."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


def pattern_kind(pattern: str) -> PatternKind:
    """Return how a pattern is matched: ``regex`` (``re:``), ``glob`` (``*?[``) or ``exact``."""
    if pattern.startswith(REGEX_PREFIX):
        return "regex"
    return "glob" if any(char in "*?[" for char in pattern) else "exact"


def regex_source(pattern: str) -> str:
    """Return the regular expression of a ``re:`` pattern (the pattern itself if it has no prefix)."""
    return pattern.removeprefix(REGEX_PREFIX)


def compile_regex(expression: str) -> Any:
    """Return ``expression`` compiled with RE2; raise :class:`RegexRejected` saying why it cannot be used."""
    if not expression:
        raise RegexRejected(
            f"empty regular expression in {REGEX_PREFIX + expression!r}",
            "write an expression after 're:', e.g. \"re:^data-(eng|ops)$\"",
        )
    try:
        re.compile(expression)
    except (re.error, RecursionError, OverflowError) as exc:
        raise RegexRejected(
            f"invalid regular expression {expression!r}: {exc}",
            "fix the expression (it must match the whole name, as with re.fullmatch)",
        ) from exc
    try:
        return re2.compile(re2_syntax(expression), _OPTIONS)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else b""
        reason = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))[:200]
        feature = next((name for found, name in _REFUSED if found.search(reason)), None)
        why, fix = (f"it uses {feature}", FIX) if feature else (f"RE2 refuses it ({reason})", _OTHER_FIX)
        raise RegexRejected(f"regular expression {expression!r} cannot be matched in linear time: {why}", fix) from exc


def re2_syntax(expression: str) -> str:
    """Spell ``\\Z``, ``\\uXXXX`` and ``\\UXXXXXXXX`` as RE2 does; pass the rest (RE2 refuses what it lacks)."""
    return re.sub(
        r"\\(?:(Z)|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.))",
        lambda m: "\\z" if m[1] else f"\\x{{{m[2] or m[3]}}}" if m[2] or m[3] else m[0],
        expression,
        flags=re.DOTALL,
    )


def glob_regex(pattern: str) -> str:
    """Return an RE2 expression matching, in full, exactly the names ``fnmatch.fnmatchcase`` matches.

    fnmatch's translation has atomic groups (RE2 has none): ``*`` is ``.*`` here; a bracket keeps it,
    with ``[`` escaped (RE2 reads ``[:alpha:]`` as a class) and an empty range as an empty class.
    """
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        end = bracket_end(pattern, index) if char == "[" else None
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif end is not None:
            bracket = fnmatch.translate(pattern[index - 1 : end + 1]).removeprefix("(?s:").removesuffix(r")\Z")
            if bracket == "(?!)":
                bracket = _NOTHING
            elif bracket.startswith("["):
                bracket = "[" + re.sub(r"(\\.)|\[", lambda m: m[1] or r"\[", bracket[1:])
            out.append(bracket)
            index = end + 1
        else:
            out.append(re2.escape(char))
    return "(?s:" + "".join(out) + ")"


def bracket_end(pattern: str, index: int) -> int | None:
    """Return the index of the ``]`` closing a bracket opened before ``index`` (fnmatch's rules)."""
    j = index + (index < len(pattern) and pattern[index] == "!")
    j += j < len(pattern) and pattern[j] == "]"
    end = pattern.find("]", j)
    return end if end >= 0 else None


def matcher(pattern: str, kind: PatternKind | None = None) -> Callable[[str], bool]:
    """Return a whole-name test (globs: fnmatch's translation, which cannot backtrack badly; ``re:``: RE2)."""
    kind = kind or pattern_kind(pattern)
    if kind == "exact":
        return pattern.__eq__
    compiled = compile_regex(regex_source(pattern)) if kind == "regex" else re.compile(fnmatch.translate(pattern))
    return lambda name: compiled.fullmatch(name) is not None


class Keyed(Protocol):
    """What :class:`PatternSet` needs of an entry: its pattern, how it is matched, and its line."""

    @property
    def pattern(self) -> str: ...

    @property
    def kind(self) -> PatternKind: ...

    @property
    def line(self) -> int: ...


K = TypeVar("K", bound=Keyed)


class PatternSet(Generic[K]):
    """Find every entry whose pattern matches a name: one dict lookup and one RE2 set pass."""

    def __init__(self, entries: Sequence[K]) -> None:
        exact: dict[str, list[K]] = {}
        self._patterns: list[K] = []
        self._set = re2.Set.FullMatchSet(_OPTIONS)
        for entry in entries:
            if entry.kind == "exact":
                exact.setdefault(entry.pattern, []).append(entry)
                continue
            self._set.Add(
                glob_regex(entry.pattern) if entry.kind == "glob" else re2_syntax(regex_source(entry.pattern))
            )
            self._patterns.append(entry)
        # Always matches: its absence from an answer means RE2 ran out of memory (and answered nothing).
        self._canary = self._set.Add("(?s:.*)")
        self._nothing = [self._canary]  # RE2's answer for a name no pattern matches
        try:
            self._set.Compile()
        except re2.error as exc:
            raise _too_many(len(self._patterns)) from exc
        self._exact = {name: tuple(found) for name, found in exact.items()}
        self._memo: dict[str, tuple[K, ...]] = {}
        self._checked(self._set.Match(b""))  # a set too large for RE2's memory fails here, at load

    def _checked(self, hits: list[int] | None) -> list[int]:
        """Return the patterns RE2 found, without the canary; raise if RE2 gave up (no canary)."""
        if hits is None or self._canary not in hits:
            raise _too_many(len(self._patterns))
        return [i for i in hits if i != self._canary]

    def match(self, name: str) -> tuple[K, ...]:
        """Return the entries matching ``name``, in file order (memoised)."""
        found = self._memo.get(name)
        if found is not None:
            return found
        found = self._exact.get(name, ())
        # surrogatepass: a lone surrogate from a JSON claim is no reason to fail a login.
        hits = self._set.Match(name.encode("utf-8", "surrogatepass"))
        if hits != self._nothing:
            found = tuple(sorted((*found, *(self._patterns[i] for i in self._checked(hits))), key=attrgetter("line")))
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()  # bounded memory; a real org re-fills it within a few logins
        self._memo[name] = found
        return found


def _too_many(count: int) -> RegexRejected:
    return RegexRejected(
        f"the {count} globs and regexes are more than RE2 can match in {_OPTIONS.max_mem >> 20} MB",
        "map more groups by exact name (exact names cost nothing) and merge patterns",
    )


@dataclass(frozen=True)
class GroupFilter:
    """Which group names count (``OKTA_GROUPS_FILTER``): all, a name prefix, or a ``re:`` regex in full."""

    spec: str = ""
    _regex: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, spec: str) -> GroupFilter:
        """Build the filter from its text; raise ValueError if the regex is empty, invalid or needs backtracking."""
        spec = spec.strip()
        if pattern_kind(spec) != "regex":
            return cls(spec)  # a name prefix; glob characters in it are literal, as documented
        try:
            return cls(spec, compile_regex(regex_source(spec)))
        except RegexRejected as e:
            raise ValueError(f"{e.problem} ({e.fix})") from e

    def allows(self, name: str) -> bool:
        if self._regex is not None:
            return self._regex.fullmatch(name) is not None
        return name.startswith(self.spec)

    def apply(self, groups: Iterable[str]) -> tuple[str, ...]:
        """Return the groups that count, in their original order, without duplicates."""
        return tuple(dict.fromkeys(g for g in groups if self.allows(g)))

    def describe(self) -> str:
        if self._regex is not None:
            return f"regex {regex_source(self.spec)!r}"
        return f"prefix {self.spec!r}" if self.spec else "all groups"
