"""``re:`` patterns matched by RE2, in time linear in the name, whatever the pattern.

A backtracking engine (Python's ``re``) can take exponential time on a pattern with nested
quantifiers: ``([a-z0-9]+-?)+-admins`` against ``"a" * 24 + "-admins!"`` takes about a minute,
and a group name is chosen by whoever can create groups in Okta. RE2 (google-re2) never
backtracks, so it cannot run what needs backtracking: backreferences, lookaround, atomic groups,
possessive quantifiers. A pattern using one is refused when the mapping or ``OKTA_GROUPS_FILTER``
is loaded, saying which construct and what to write instead.

A pattern must also compile with Python's ``re``: the lint and the index reason about its parse
tree (``sre_parse``), and the file's documented syntax stays Python's, minus what RE2 cannot do.
Pure logic: no Flask, FAB or Airflow imports.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import re2

from okta_security.mapping.regex_parser import sre_parse

if TYPE_CHECKING:
    from collections.abc import Iterator

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern to stderr; the caller reports it
_OPTIONS.never_capture = True  # only "does the whole name match?" is ever asked: no groups to track

_HEX = frozenset("0123456789abcdefABCDEF")
FIX = (
    "rewrite it without backreferences, lookaround, atomic groups or possessive quantifiers "
    "('re:' patterns are matched with RE2), e.g. list the alternatives: re:^(eng|ops)-(eng|ops)$"
)

# (parse-tree opcode name, what to call it); names looked up so Pythons without an opcode still work.
_FEATURES = (
    ("GROUPREF", "a backreference (\\1 or (?P=name))"),
    ("GROUPREF_EXISTS", "a conditional group ((?(1)...|...)), which is a backreference"),
    ("ASSERT", "lookaround ((?=...) or (?<=...))"),
    ("ASSERT_NOT", "lookaround ((?!...) or (?<!...))"),
    ("ATOMIC_GROUP", "an atomic group ((?>...))"),
    ("POSSESSIVE_REPEAT", "a possessive quantifier (*+, ++, ?+ or {m,n}+)"),
)


class RegexRejected(ValueError):
    """A ``re:`` pattern that cannot be used: invalid, or not matchable in linear time."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


class LinearRegex:
    """A regular expression compiled with RE2, matched against whole names."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, expression: str) -> None:
        """Compile ``expression``; raise :class:`RegexRejected` saying why it cannot be used."""
        self.pattern = expression
        self._compiled = compile_linear(expression)

    def fullmatch(self, name: str) -> object | None:
        """Return a match if the whole of ``name`` matches, else None (as ``re.Pattern.fullmatch``)."""
        match: object | None = self._compiled.fullmatch(name)
        return match

    def __repr__(self) -> str:
        return f"LinearRegex({self.pattern!r})"


def compile_linear(expression: str) -> Any:
    """Return ``expression`` compiled with RE2; raise :class:`RegexRejected` if it is invalid or needs backtracking."""
    try:
        tree = sre_parse.parse(expression)
        re.compile(expression)
    except (re.error, RecursionError, OverflowError) as exc:
        raise RegexRejected(
            f"invalid regular expression {expression!r}: {exc}",
            "fix the expression (it must match the whole name, as with re.fullmatch)",
        ) from exc
    try:
        return re2.compile(re2_syntax(expression), _OPTIONS)
    except re2.error as exc:
        feature = next(_features(tree), None)
        if feature is None:
            raise RegexRejected(
                f"regular expression {expression!r} cannot be matched in linear time: RE2 refuses it "
                f"({_re2_message(exc)})",
                "use only syntax that both Python's re and RE2 accept (https://github.com/google/re2/wiki/Syntax)",
            ) from exc
        raise RegexRejected(
            f"regular expression {expression!r} cannot be matched in linear time: it uses {feature}", FIX
        ) from exc


def re2_syntax(expression: str) -> str:
    """Return ``expression`` with Python-only escapes spelled as RE2 spells them.

    ``\\Z`` (end of the name) is RE2's ``\\z``; ``\\uXXXX`` and ``\\UXXXXXXXX`` are RE2's ``\\x{...}``.
    Everything else is passed through: what RE2 does not know, it refuses.
    """
    out: list[str] = []
    index, length = 0, len(expression)
    while index < length:
        char = expression[index]
        if char != "\\" or index + 1 >= length:
            out.append(char)
            index += 1
            continue
        following = expression[index + 1]
        width = {"u": 4, "U": 8}.get(following, 0)
        digits = expression[index + 2 : index + 2 + width]
        if width and len(digits) == width and all(c in _HEX for c in digits):
            out.append(f"\\x{{{digits}}}")
            index += 2 + width
            continue
        out.append("\\z" if following == "Z" else char + following)
        index += 2
    return "".join(out)


def linear_set(expressions: list[str]) -> Any:
    """Return an RE2 set answering, in one pass over a name, which of ``expressions`` match it whole."""
    matcher = re2.Set.FullMatchSet(_OPTIONS)
    for expression in expressions:
        matcher.Add(re2_syntax(expression))
    matcher.Compile()
    return matcher


def _features(tree: Any) -> Iterator[str]:
    """Yield what RE2 cannot run, found in a parse tree (backreferences, lookaround, ...)."""
    wanted = {getattr(sre_parse, name): text for name, text in _FEATURES if hasattr(sre_parse, name)}
    for op, arg in tree:
        if op in wanted:
            yield wanted[op]
        for child in _children(arg):
            yield from _features(child)


def _children(arg: Any) -> Iterator[Any]:
    """Yield the sub-patterns nested in one parse-tree argument."""
    if isinstance(arg, sre_parse.SubPattern):
        yield arg
    elif isinstance(arg, (tuple, list)):
        for item in arg:
            yield from _children(item)


def _re2_message(exc: Exception) -> str:
    """Return RE2's own reason as text (it hands it over as bytes)."""
    raw = exc.args[0] if exc.args else exc
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text[:200]
