"""Line-aware YAML loading for the role-mapping file: duplicate keys reported, every problem located.

PyYAML's loaders silently keep the last of two equal keys; ours reports both lines. Every mapping
and list remembers the 1-based lines of PyYAML's node marks, so validation messages read
``<file>:<line>: <what> — <fix>``. Pure logic: no Flask, FAB or Airflow imports.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import yaml

from okta_security.mapping.patterns import RegexRejected, matcher, pattern_kind

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator


class LinedDict(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers its 1-based line and those of each key and value."""

    def __init__(self, line: int = 1) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}


class LinedList(list):  # type: ignore[type-arg]
    """A YAML sequence that remembers its 1-based line and that of each item."""

    def __init__(self, line: int, item_lines: list[int], items: list[Any]) -> None:
        super().__init__(items)
        self.line = line
        self.item_lines = item_lines


def lines(value: Any) -> tuple[dict[Any, int], dict[Any, int]]:
    """Return the key and value lines of a loaded YAML mapping (none for a plain dict)."""
    return getattr(value, "key_lines", {}), getattr(value, "value_lines", {})


def entries(value: dict[Any, Any], line: int) -> Iterator[tuple[Any, Any, int, int]]:
    """Yield (key, value, key's line, value's line) of a loaded YAML mapping (``line`` when unknown)."""
    key_lines, value_lines = lines(value)
    for key, item in value.items():
        yield key, item, key_lines.get(key, line), value_lines.get(key, key_lines.get(key, line))


def closest(word: object, choices: Collection[str]) -> str | None:
    return next(iter(difflib.get_close_matches(str(word), list(choices), n=1)), None)


def item_lines(value: list[Any], line: int) -> list[int]:
    """Return the line of each item of a loaded YAML list (``line`` for each item of a plain list)."""
    return getattr(value, "item_lines", None) or [line] * len(value)


def yaml_line(mark: yaml.Mark | None) -> int:
    return mark.line + 1 if mark is not None else 1


class LineLoader(yaml.SafeLoader):
    """SafeLoader whose containers remember their lines and which reports duplicate keys.

    Containers are built at once (``deep=True``): an alias to an enclosing node is a YAML error.
    """

    def __init__(self, stream: str, problems: Problems) -> None:
        super().__init__(stream)
        self.problems = problems

    def construct_lined_map(self, node: yaml.Node) -> LinedDict:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping node, but found {getattr(node, 'id', 'node')}", node.start_mark
            )
        explicit = {id(key_node) for key_node, _value in node.value}
        self.flatten_mapping(node)  # resolves "<<" merge keys; merged entries come first
        mapping = LinedDict(yaml_line(node.start_mark))
        first_seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            line = yaml_line(key_node.start_mark)
            if not isinstance(key, Hashable):  # a list or mapping (SafeLoader builds no tuples)
                self.problems.add(
                    line, f"a {yaml_kind(key)} cannot be used as a key", "use a plain group name as the key"
                )
                continue
            if id(key_node) in explicit:  # merged ("<<") entries may be overridden silently
                if key in first_seen:
                    self.problems.add(
                        line, f"duplicate key {key!r} (first at line {first_seen[key]})", "keep one entry"
                    )
                    continue
                first_seen[key] = line
            mapping[key] = self.construct_object(value_node, deep=True)
            mapping.key_lines[key] = line
            mapping.value_lines[key] = yaml_line(value_node.start_mark)
        return mapping

    def construct_lined_seq(self, node: yaml.Node) -> LinedList:
        items = self.construct_sequence(node, deep=True)  # type: ignore[arg-type]  # it refuses a non-sequence
        return LinedList(yaml_line(node.start_mark), [yaml_line(child.start_mark) for child in node.value], items)


LineLoader.add_constructor("tag:yaml.org,2002:map", LineLoader.construct_lined_map)
LineLoader.add_constructor("tag:yaml.org,2002:seq", LineLoader.construct_lined_seq)


_KINDS = ((bool, "boolean"), ((int, float), "number"), (str, "string"), (list, "list"), (dict, "mapping"))


def yaml_kind(value: object) -> str:
    """Name a YAML value's type the way an admin would (a boolean before a number: bool is an int)."""
    if value is None:
        return "null"
    return next((name for types, name in _KINDS if isinstance(value, types)), type(value).__name__)


def a_yaml_kind(value: object) -> str:
    """Name a value with its article for "must be ..., not <this>": "a list", "an empty mapping"."""
    empty = not (value.strip() if isinstance(value, str) else value) and isinstance(value, (str, list, dict))
    return f"an empty {yaml_kind(value)}" if empty else f"a {yaml_kind(value)}"


class Problems:  # ``file:line: what — fix`` messages
    def __init__(self, source: str) -> None:
        self.source = source
        self._items: list[tuple[int, int, str]] = []

    def add(self, line: int, what: str, fix: str) -> None:
        self._items.append((line, len(self._items), f"{self.source}:{line}: {what} — {fix}"))

    def __bool__(self) -> bool:
        return bool(self._items)

    def messages(self) -> list[str]:
        return [message for _line, _order, message in sorted(self._items)]


def report_unknown_keys(
    value: dict[Any, Any],
    allowed: Collection[str],
    line: int,
    problems: Problems,
    *,
    what: str = "key",
    where: str = "",
) -> bool:
    """Report every key of ``value`` not in ``allowed`` (with the closest one); return True if none."""
    key_lines, _ = lines(value)
    ok = True
    for key in value:
        if key in allowed:
            continue
        hint = f" (did you mean {close!r}?)" if (close := closest(key, allowed)) else ""
        problems.add(key_lines.get(key, line), f"unknown {what} {key!r}{where}{hint}", "use only " + ", ".join(allowed))
        ok = False
    return ok


def known_role(role: str, line: int, known: Collection[str] | None, problems: Problems, where: str = "") -> bool:
    """Return whether ``role`` is known (any role is without ``known``), recording an unknown one with a hint."""
    if known is None or role in known:
        return True
    names = sorted(known)
    suggestion = next((name for name in names if name.lower() == role.lower()), None) or closest(role, names)
    hint = f"; did you mean {suggestion!r}?" if suggestion else ""
    problems.add(
        line,
        f"unknown role {role!r}{where} (known: {', '.join(names) or 'none'}{hint})",
        "use one of the known roles or create the role in Airflow first",
    )
    return False


def valid_pattern(pattern: str, line: int, problems: Problems) -> bool:
    """Return whether a name pattern (:mod:`.patterns`) can be matched, recording why not."""
    try:
        matcher(pattern)
    except RegexRejected as exc:
        problems.add(line, exc.problem, exc.fix)
        return False
    return True


def parse_role_list(
    value: Any, line: int, what: str, problems: Problems, known: Collection[str] | None, *, patterns: bool = False
) -> tuple[str, ...] | None:
    """Return the roles of ``what`` (a list of names or one name), or None after reporting every problem.

    With ``patterns``, a glob or ``re:`` item stands for the roles it matches: checked as a pattern, not a name.
    """
    if isinstance(value, str):
        items: list[tuple[Any, int]] = [(value, line)]
    elif isinstance(value, list):
        items = list(zip(value, item_lines(value, line), strict=False))
    elif value is None:
        problems.add(line, f"no roles for {what}", "list at least one role, e.g. [Viewer], or remove the entry")
        return None
    else:
        problems.add(
            line,
            f"roles for {what} must be a list of role names or one role name, not a {yaml_kind(value)}",
            "write e.g. [Viewer] or Viewer",
        )
        return None
    if not items:
        problems.add(line, f"empty role list for {what}", "list at least one role, e.g. [Viewer], or remove the entry")
        return None
    roles: list[str] = []
    ok = True
    for item, item_line in items:
        if not isinstance(item, str):
            problems.add(
                item_line,
                f"role {item!r} for {what} is a {yaml_kind(item)}, not a role name",
                "write the role name as text (quote it if YAML reads it as a number or yes/no)",
            )
            ok = False
        elif not item.strip():
            problems.add(item_line, f"empty role name for {what}", "write a role name or remove it")
            ok = False
        elif not (
            valid_pattern(item, item_line, problems)
            if patterns and pattern_kind(item) != "exact"
            else known_role(item, item_line, known, problems)
        ):
            ok = False
        elif item not in roles:
            roles.append(item)
    return tuple(roles) if ok else None


FAILED = object()


def load_yaml(raw: bytes, problems: Problems) -> Any:
    """Parse YAML bytes with line tracking; return FAILED after recording a syntax problem."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add(
            raw[: exc.start].count(b"\n") + 1,
            f"the file is not valid UTF-8 ({exc.reason} at byte {exc.start})",
            "save the file as UTF-8",
        )
        return FAILED
    try:
        return LineLoader(text, problems).get_single_data()
    except yaml.reader.ReaderError as exc:
        character = exc.character if isinstance(exc.character, int) else 0
        problems.add(
            text[: exc.position].count("\n") + 1,
            f"character U+{character:04X} is not allowed in YAML ({exc.reason})",
            "remove the character (often a stray control character from copy-and-paste)",
        )
        return FAILED
    except yaml.MarkedYAMLError as exc:
        started = f" that starts at line {yaml_line(exc.context_mark)}" if exc.context_mark else ""
        parts = [part for part in (exc.context and f"{exc.context}{started}", exc.problem) if part]
        problems.add(
            yaml_line(exc.problem_mark or exc.context_mark),
            "YAML syntax error: " + (", ".join(parts) or str(exc)),
            "fix the YAML syntax (check indentation, quoting and the ':' after each key)",
        )
        return FAILED
    except yaml.YAMLError as exc:
        problems.add(1, f"YAML error: {exc}", "fix the YAML syntax")
        return FAILED
    except RecursionError:  # PyYAML composes and builds nested nodes recursively
        problems.add(1, "the YAML is nested too deeply", "write the mapping as plain keys and lists of role names")
        return FAILED
