"""Map Okta groups to Airflow roles, as configured in a YAML file.

File format::

    default_role: null        # role for users whose groups match nothing; null = refuse the login
    mappings:                 # Okta group (or pattern) -> Airflow roles
      airflow-admins: [Admin]
      airflow-viewers: Viewer           # a single role may be written as a string
      "airflow-team-*": [User]          # glob (fnmatch.fnmatchcase), case-sensitive
      "re:^data-(eng|ops)$": [Op]       # regular expression, matched with re.fullmatch

Keys are exact group names unless they start with ``re:`` (regular expression) or contain
one of ``*?[`` (glob). Every match contributes its roles (union). The top-level sections
``roles`` and ``clients`` are accepted and kept raw in ``RoleMapping.extra_sections``; ``clients``
(bots: Okta client ID -> roles) is also validated here, see :mod:`okta_security.clients`
(``RoleMapping.clients``). ``roles`` (roles-as-code) is validated too, see
:mod:`okta_security.roles_as_code` (``RoleMapping.roles``); the role names it declares count
as known roles. Matching is compiled once per version into a
:class:`~okta_security.rule_index.RuleIndex`.

Every problem in a file is reported at once, in one :class:`MappingError`, as
``<file>:<line>: <what is wrong> — <how to fix>``.

This module is pure logic: no Flask, FAB or Airflow imports.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import logging
import os
import re
import threading
import time
import types
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from .clients import EMPTY_CLIENTS, ClientMap, parse_clients
from .errors import MappingError
from .roles_as_code import ROLES_KEY, RoleSpec, declared_names, parse_roles
from .rule_index import RuleIndex

log = logging.getLogger(__name__)

RuleKind = Literal["exact", "glob", "regex"]
KnownRoles = Collection[str] | Callable[[], Collection[str]] | None

REGEX_PREFIX = "re:"
GLOB_CHARS = frozenset("*?[")
MAPPINGS_KEY = "mappings"
DEFAULT_ROLE_KEY = "default_role"
EXTRA_SECTION_KEYS = ("roles", "clients")
TOP_LEVEL_KEYS = (DEFAULT_ROLE_KEY, MAPPINGS_KEY, *EXTRA_SECTION_KEYS)

_Fingerprint = tuple[int, int, int]


# --------------------------------------------------------------------------- rules


def rule_kind(key: str) -> RuleKind:
    """Return how a mapping key is matched: ``regex`` (``re:``), ``glob`` (``*?[``) or ``exact``."""
    if key.startswith(REGEX_PREFIX):
        return "regex"
    if any(char in GLOB_CHARS for char in key):
        return "glob"
    return "exact"


def _compile_rule(pattern: str, kind: RuleKind) -> re.Pattern[str] | None:
    """Compile the matcher for a rule (None for exact names)."""
    if kind == "exact":
        return None
    if kind == "glob":
        return re.compile(fnmatch.translate(pattern))
    if kind == "regex":
        expression = pattern[len(REGEX_PREFIX) :] if pattern.startswith(REGEX_PREFIX) else pattern
        return re.compile(expression)
    raise ValueError(f"unknown rule kind {kind!r}; expected 'exact', 'glob' or 'regex'")


@dataclass(frozen=True)
class Rule:
    """One mapping entry: an Okta group name or pattern and the roles it grants.

    ``pattern`` is the key as written in the file (regexes keep their ``re:`` prefix).
    """

    pattern: str
    kind: RuleKind
    roles: tuple[str, ...]
    line: int
    _regex: re.Pattern[str] | None = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Normalise roles to a tuple and compile the matcher once."""
        object.__setattr__(self, "roles", tuple(self.roles))
        object.__setattr__(self, "_regex", _compile_rule(self.pattern, self.kind))

    def matches(self, group: str) -> bool:
        """Return True if the (case-sensitive) group name matches this rule."""
        if self._regex is None:
            return group == self.pattern
        return self._regex.fullmatch(group) is not None


# --------------------------------------------------------------------------- compiled mapping


@dataclass(frozen=True)
class RoleMapping:
    """A validated, compiled version of the role-mapping file."""

    rules: tuple[Rule, ...]
    default_role: str | None
    source: str
    digest: str
    extra_sections: Mapping[str, Any] = field(default_factory=lambda: types.MappingProxyType({}), compare=False)
    clients: ClientMap = field(default=EMPTY_CLIENTS, compare=False)  # the validated ``clients:`` section (bots)
    roles: tuple[RoleSpec, ...] = field(default=(), compare=False)  # the validated ``roles:`` section
    default_role_line: int = field(default=1, compare=False)  # where default_role is set (for messages)
    _exact: dict[str, tuple[Rule, ...]] = field(init=False, repr=False, compare=False)
    _index: RuleIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the rules once for this version."""
        rules = tuple(self.rules)
        exact: dict[str, list[Rule]] = {}
        for rule in rules:
            if rule.kind == "exact":
                exact.setdefault(rule.pattern, []).append(rule)
        extra = self.extra_sections
        if not isinstance(extra, types.MappingProxyType):
            extra = types.MappingProxyType(dict(extra))
        object.__setattr__(self, "rules", rules)
        object.__setattr__(self, "roles", tuple(self.roles))
        object.__setattr__(self, "extra_sections", extra)
        object.__setattr__(self, "_exact", {name: tuple(found) for name, found in exact.items()})
        object.__setattr__(self, "_index", RuleIndex(rules))

    def _matches(self, groups: Iterable[str]) -> Iterator[tuple[str, Rule]]:
        """Yield (group, rule) for every match, per group in file order."""
        _check_groups(groups)
        seen: set[str] = set()
        match = self._index.match
        for group in groups:
            if not isinstance(group, str) or group in seen:
                continue
            seen.add(group)
            for rule in match(group):
                yield group, rule

    def resolve(self, groups: Iterable[str]) -> frozenset[str]:
        """Return the union of roles of every matching rule, else the default role, else nothing."""
        _check_groups(groups)
        roles: set[str] = set()
        match = self._index.match
        for group in groups:
            if isinstance(group, str):
                for rule in match(group):
                    roles.update(rule.roles)
        if roles:
            return frozenset(roles)
        if self.default_role is not None:
            return frozenset((self.default_role,))
        return frozenset()

    def rules_for(self, group: str) -> tuple[Rule, ...]:
        """Return the rules that match one group name, in file order."""
        return self._index.match(group)

    def explain(self, groups: Iterable[str]) -> list[tuple[str, Rule]]:
        """Return the (group, rule) pairs that matched, in group order then file order."""
        return list(self._matches(groups))

    def exact_roles_mapping(self) -> dict[str, list[str]]:
        """Return exact-name rules as ``{group: [roles]}`` for FAB's AUTH_ROLES_MAPPING."""
        result: dict[str, list[str]] = {}
        for name, rules in self._exact.items():
            roles = result.setdefault(name, [])
            for rule in rules:
                roles.extend(role for role in rule.roles if role not in roles)
        return result

    def declared_roles(self) -> frozenset[str]:
        """Return the names of the roles the file declares in its ``roles:`` section."""
        return frozenset(spec.name for spec in self.roles)

    def role_names(self) -> frozenset[str]:
        """Return every role the mapping refers to, including the default role."""
        names = {role for rule in self.rules for role in rule.roles}
        if self.default_role is not None:
            names.add(self.default_role)
        return frozenset(names | self.clients.role_names())


def _check_groups(groups: Iterable[str]) -> None:
    """Refuse a bare string, which would otherwise be iterated character by character."""
    if isinstance(groups, (str, bytes)):
        raise TypeError("groups must be a collection of group names, not a single string")


# --------------------------------------------------------------------------- YAML loading


class _LinedDict(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the 1-based line of each key and value."""

    def __init__(self) -> None:
        super().__init__()
        self.line = 1
        self.key_lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}


class _LinedList(list):  # type: ignore[type-arg]
    """A YAML sequence that remembers the 1-based line of each item."""

    def __init__(self) -> None:
        super().__init__()
        self.line = 1
        self.item_lines: list[int] = []


def _line(mark: yaml.Mark | None) -> int:
    """Return the 1-based line of a yaml mark (1 if unknown)."""
    return mark.line + 1 if mark is not None else 1


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records line numbers and reports duplicate keys instead of dropping them."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.problems: list[tuple[int, str, str]] = []

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> _LinedDict:
        """Construct a mapping, noting key/value lines and duplicate keys."""
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping node, but found {node.id}", node.start_mark
            )
        explicit = {id(key_node) for key_node, _value in node.value}
        self.flatten_mapping(node)  # resolves "<<" merge keys; merged entries come first
        mapping = _LinedDict()
        mapping.line = _line(node.start_mark)
        first_seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = _line(key_node.start_mark)
            try:
                hash(key)
            except TypeError:
                self.problems.append(
                    (line, f"a {_kind(key)} cannot be used as a key", "use a plain group name as the key")
                )
                continue
            if id(key_node) in explicit:  # merged ("<<") entries may be overridden silently
                if key in first_seen:
                    self.problems.append(
                        (line, f"duplicate key {key!r} (first at line {first_seen[key]})", "keep one entry")
                    )
                    continue
                first_seen[key] = line
            mapping[key] = self.construct_object(value_node, deep=deep)
            mapping.key_lines[key] = line
            mapping.value_lines[key] = _line(value_node.start_mark)
        return mapping


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[_LinedDict]:
    """Construct a YAML map as a _LinedDict (two-step, so recursive structures work)."""
    data = _LinedDict()
    data.line = _line(node.start_mark)
    yield data
    built = loader.construct_mapping(node)
    data.update(built)
    data.key_lines = built.key_lines
    data.value_lines = built.value_lines


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[_LinedList]:
    """Construct a YAML sequence as a _LinedList."""
    data = _LinedList()
    data.line = _line(node.start_mark)
    data.item_lines = [_line(child.start_mark) for child in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _kind(value: object) -> str:
    """Name a YAML value's type the way an admin would."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


class _Problems:
    """Collect ``file:line: what — fix`` messages."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._items: list[tuple[int, int, str]] = []

    def add(self, line: int, what: str, fix: str) -> None:
        """Record one problem."""
        self._items.append((line, len(self._items), f"{self.source}:{line}: {what} — {fix}"))

    def __bool__(self) -> bool:
        return bool(self._items)

    def messages(self) -> list[str]:
        """Return the messages ordered by line."""
        return [message for _line, _order, message in sorted(self._items)]


_FAILED = object()


def _load_yaml(raw: bytes, problems: _Problems) -> Any:
    """Parse YAML bytes with line tracking; return _FAILED after recording a syntax problem."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add(
            raw[: exc.start].count(b"\n") + 1,
            f"the file is not valid UTF-8 ({exc.reason} at byte {exc.start})",
            "save the file as UTF-8",
        )
        return _FAILED
    loader: _LineLoader | None = None
    try:
        loader = _LineLoader(text)
        document = loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        character = exc.character if isinstance(exc.character, int) else 0
        problems.add(
            text[: exc.position].count("\n") + 1,
            f"character U+{character:04X} is not allowed in YAML ({exc.reason})",
            "remove the character (often a stray control character from copy-and-paste)",
        )
        return _FAILED
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        parts = []
        if exc.context:
            started = f" that starts at line {_line(exc.context_mark)}" if exc.context_mark else ""
            parts.append(f"{exc.context}{started}")
        if exc.problem:
            parts.append(exc.problem)
        problems.add(
            _line(mark),
            "YAML syntax error: " + (", ".join(parts) or str(exc)),
            "fix the YAML syntax (check indentation, quoting and the ':' after each key)",
        )
        return _FAILED
    except yaml.YAMLError as exc:
        problems.add(1, f"YAML error: {exc}", "fix the YAML syntax")
        return _FAILED
    finally:
        if loader is not None:
            loader.dispose()
    for line, what, fix in loader.problems:
        problems.add(line, what, fix)
    return document


# --------------------------------------------------------------------------- validation


def _unknown_role_problem(role: str, line: int, known: Collection[str], problems: _Problems, where: str = "") -> None:
    """Record an unknown role, suggesting the closest known one."""
    names = sorted(known)
    listed = ", ".join(names) if names else "none"
    suggestion = next((name for name in names if name.lower() == role.lower()), None)
    if suggestion is None:
        close = difflib.get_close_matches(role, names, n=1)
        suggestion = close[0] if close else None
    hint = f"; did you mean {suggestion!r}?" if suggestion else ""
    problems.add(
        line,
        f"unknown role {role!r}{where} (known: {listed}{hint})",
        "use one of the known roles or create the role in Airflow first",
    )


def _validate_roles(
    group: str,
    value: Any,
    line: int,
    known: Collection[str] | None,
    problems: _Problems,
) -> tuple[str, ...] | None:
    """Return the normalised roles of one entry, or None after recording problems."""
    if isinstance(value, str):
        items: list[tuple[Any, int]] = [(value, line)]
    elif isinstance(value, list):
        lines = getattr(value, "item_lines", None) or [line] * len(value)
        items = list(zip(value, lines, strict=False))
    elif value is None:
        problems.add(
            line,
            f"no roles for group {group!r}",
            "list at least one role, e.g. [Viewer], or remove the entry",
        )
        return None
    else:
        problems.add(
            line,
            f"roles for group {group!r} must be a list of role names or one role name, not a {_kind(value)}",
            "write e.g. [Viewer] or Viewer",
        )
        return None
    if not items:
        problems.add(
            line,
            f"empty role list for group {group!r}",
            "list at least one role, e.g. [Viewer], or remove the entry",
        )
        return None
    roles: list[str] = []
    ok = True
    for item, item_line in items:
        if not isinstance(item, str):
            problems.add(
                item_line,
                f"role {item!r} for group {group!r} is a {_kind(item)}, not a role name",
                "write the role name as text (quote it if YAML reads it as a number or yes/no)",
            )
            ok = False
        elif not item.strip():
            problems.add(item_line, f"empty role name for group {group!r}", "write a role name or remove it")
            ok = False
        elif known is not None and item not in known:
            _unknown_role_problem(item, item_line, known, problems)
            ok = False
        elif item not in roles:
            roles.append(item)
    return tuple(roles) if ok else None


def _validate_key(group: Any, line: int, problems: _Problems) -> RuleKind | None:
    """Return the rule kind of a mapping key, or None after recording a problem."""
    if not isinstance(group, str):
        problems.add(
            line,
            f"group name {group!r} is a {_kind(group)}, not a string",
            f'quote the group name, e.g. "{group}": [Viewer]',
        )
        return None
    if not group.strip():
        problems.add(line, "empty group name", "write the Okta group name as the key")
        return None
    kind = rule_kind(group)
    if kind == "regex":
        expression = group[len(REGEX_PREFIX) :]
        if not expression:
            problems.add(
                line,
                f"empty regular expression in {group!r}",
                "write an expression after 're:', e.g. \"re:^data-(eng|ops)$\"",
            )
            return None
        try:
            re.compile(expression)
        except re.error as exc:
            problems.add(
                line,
                f"invalid regular expression {expression!r}: {exc}",
                "fix the expression (it must match the whole group name, as with re.fullmatch)",
            )
            return None
    return kind


def _validate_mappings(value: Any, line: int, known: Collection[str] | None, problems: _Problems) -> list[Rule]:
    """Return the rules of the ``mappings`` section, recording every problem."""
    if not isinstance(value, dict):
        problems.add(
            line,
            f"'mappings' must be a mapping of Okta group -> roles, not a {_kind(value)}",
            "write one 'okta-group: [Role]' entry per line, indented under 'mappings:'",
        )
        return []
    key_lines: dict[Any, int] = getattr(value, "key_lines", {})
    value_lines: dict[Any, int] = getattr(value, "value_lines", {})
    rules: list[Rule] = []
    for group, roles_value in value.items():
        key_line = key_lines.get(group, line)
        kind = _validate_key(group, key_line, problems)
        roles = _validate_roles(str(group), roles_value, value_lines.get(group, key_line), known, problems)
        if kind is not None and roles is not None:
            rules.append(Rule(pattern=group, kind=kind, roles=roles, line=key_line))
    return rules


def _validate_default_role(document: _LinedDict, known: Collection[str] | None, problems: _Problems) -> str | None:
    """Return the default role (None = refuse), recording problems."""
    if DEFAULT_ROLE_KEY not in document:
        return None
    value = document[DEFAULT_ROLE_KEY]
    line = document.value_lines.get(DEFAULT_ROLE_KEY, 1)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        shown = "an empty string" if isinstance(value, str) else f"a {_kind(value)}"
        problems.add(
            line,
            f"default_role must be a role name or null, not {shown}",
            "write e.g. 'default_role: Viewer', or 'default_role: null' to refuse logins that match no group",
        )
        return None
    if known is not None and value not in known:
        _unknown_role_problem(value, line, known, problems, where=" in default_role")
        return None
    return value


def _validate_clients(document: _LinedDict, known: Collection[str] | None, problems: _Problems) -> ClientMap:
    """Return the validated ``clients:`` section (empty if absent), recording problems."""
    if "clients" not in document:
        return EMPTY_CLIENTS

    def check_role(role: str, line: int) -> bool:
        if known is None or role in known:
            return True
        _unknown_role_problem(role, line, known, problems)
        return False

    line = document.value_lines.get("clients", document.key_lines.get("clients", 1))
    return parse_clients(document["clients"], line, report=problems.add, check_role=check_role)


def parse_mapping(text: str | bytes, *, source: str, known_roles: Collection[str] | None = None) -> RoleMapping:
    """Parse and validate a role-mapping document; raise MappingError listing every problem."""
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    known = frozenset(known_roles) if known_roles is not None else None
    problems = _Problems(source)
    document = _load_yaml(raw, problems)
    rules: list[Rule] = []
    default_role: str | None = None
    extra: dict[str, Any] = {}
    clients = EMPTY_CLIENTS
    role_specs: tuple[RoleSpec, ...] = ()
    default_role_line = 1
    if document is _FAILED:
        pass
    elif document is None:
        problems.add(1, "the file is empty", "add a 'mappings:' section that maps Okta groups to Airflow roles")
    elif not isinstance(document, dict):
        problems.add(
            getattr(document, "line", 1),
            f"the top level must be a mapping with 'mappings:' (and 'default_role:'), not a {_kind(document)}",
            "start the file with 'mappings:' followed by indented 'okta-group: [Role]' entries",
        )
    else:
        for key in document:
            if key in TOP_LEVEL_KEYS:
                continue
            close = difflib.get_close_matches(str(key), TOP_LEVEL_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.add(
                document.key_lines.get(key, 1),
                f"unknown top-level key {key!r}{hint}",
                "use only " + ", ".join(TOP_LEVEL_KEYS),
            )
        if ROLES_KEY in document:
            # Roles the file declares are valid mapping targets (created or updated at sync).
            role_specs = parse_roles(
                document[ROLES_KEY], document.value_lines.get(ROLES_KEY, 1), known_roles=known, problems=problems
            )
            if known is not None:
                known = known | declared_names(document[ROLES_KEY])
        if MAPPINGS_KEY not in document:
            problems.add(
                1,
                "missing required 'mappings' section",
                "add 'mappings:' with indented 'okta-group: [Role]' entries",
            )
        else:
            rules = _validate_mappings(
                document[MAPPINGS_KEY], document.value_lines.get(MAPPINGS_KEY, 1), known, problems
            )
        default_role = _validate_default_role(document, known, problems)
        default_role_line = document.value_lines.get(DEFAULT_ROLE_KEY, 1)
        extra = {key: document[key] for key in EXTRA_SECTION_KEYS if key in document}
        clients = _validate_clients(document, known, problems)
    if problems:
        raise MappingError(problems.messages(), source=source)
    return RoleMapping(
        rules=tuple(rules),
        default_role=default_role,
        default_role_line=default_role_line,
        source=source,
        digest=hashlib.sha256(raw).hexdigest(),
        extra_sections=types.MappingProxyType(extra),
        clients=clients,
        roles=role_specs,
    )


# --------------------------------------------------------------------------- files


def _source_name(path: str | os.PathLike[str]) -> str:
    """Return the path as text for messages."""
    return os.fsdecode(os.fspath(path))


def _fingerprint(stat: os.stat_result) -> _Fingerprint:
    """Return what identifies a file version cheaply: (mtime_ns, size, inode)."""
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def _unreadable(source: str, exc: OSError) -> MappingError:
    """Build the MappingError for a file that cannot be read."""
    reason = exc.strerror or str(exc)
    return MappingError(
        [
            f"{source}:1: cannot read the role-mapping file ({reason})"
            " — create or restore the file, or fix its path or permissions"
        ],
        source=source,
    )


def _read(path: str) -> tuple[_Fingerprint, bytes]:
    """Return the file's fingerprint (taken before reading) and its bytes."""
    with open(path, "rb") as handle:
        fingerprint = _fingerprint(os.fstat(handle.fileno()))
        return fingerprint, handle.read()


def load_mapping(path: str | os.PathLike[str], *, known_roles: Collection[str] | None = None) -> RoleMapping:
    """Read and parse a role-mapping file; raise MappingError if it is unreadable or invalid."""
    source = _source_name(path)
    try:
        _fp, data = _read(source)
    except OSError as exc:
        raise _unreadable(source, exc) from exc
    return parse_mapping(data, source=source, known_roles=known_roles)


_RETRY = object()


class MappingStore:
    """Holds the current mapping; reloads when the file changes; keeps the last good one on a bad edit."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        known_roles: KnownRoles = None,
        on_reload: Callable[[RoleMapping, RoleMapping], object] | None = None,
        on_reject: Callable[[MappingError], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        check_interval: float = 1.0,
    ) -> None:
        """Load the file now; raise MappingError if it is unreadable or invalid."""
        self._path = _source_name(path)
        self._known_roles = known_roles
        self._on_reload = on_reload
        self._on_reject = on_reject
        self._clock = clock
        self._check_interval = check_interval
        self._lock = threading.RLock()
        self._last_error: MappingError | None = None
        try:
            fingerprint, data = _read(self._path)
        except OSError as exc:
            raise _unreadable(self._path, exc) from exc
        self._mapping = parse_mapping(data, source=self._path, known_roles=self._known())
        self._raw = data
        self._fingerprint: object = fingerprint
        self._last_check = clock()
        log.info(
            "Loaded role mapping %s (version %s, %d rules)",
            self._path,
            self._mapping.digest[:12],
            len(self._mapping.rules),
        )

    @property
    def path(self) -> str:
        """Return the watched file's path."""
        return self._path

    @property
    def last_error(self) -> MappingError | None:
        """Return why the file on disk is not in use, or None if it is."""
        return self._last_error

    def current(self) -> RoleMapping:
        """Return the mapping in force, re-checking the file at most every check_interval seconds."""
        now = self._clock()
        if now - self._last_check < self._check_interval:
            return self._mapping
        with self._lock:
            if now - self._last_check >= self._check_interval:
                try:
                    self._check()
                except Exception:  # never let a reload bug break logins
                    log.exception(
                        "Unexpected error while checking role mapping %s; keeping the current one", self._path
                    )
                self._last_check = now  # after _check: the fast path must not see the old mapping
            return self._mapping

    def refresh(self) -> RoleMapping:
        """Check the file now, ignoring check_interval, and return the mapping in force."""
        with self._lock:
            self._check()
            self._last_check = self._clock()
            return self._mapping

    def attach(
        self,
        *,
        known_roles: KnownRoles,
        on_reload: Callable[[RoleMapping, RoleMapping], object] | None = None,
        on_reject: Callable[[MappingError], object] | None = None,
    ) -> None:
        """Bind role names and callbacks known only later (the database); re-check the mapping in force.

        Raise MappingError if the mapping in force names a role that is not known: at start-up
        this stops the webserver with file, line and fix.
        """
        with self._lock:
            self._known_roles = known_roles
            if on_reload is not None:
                self._on_reload = on_reload
            if on_reject is not None:
                self._on_reject = on_reject
            self._mapping = parse_mapping(self._raw, source=self._path, known_roles=self._known())

    def _known(self) -> Collection[str] | None:
        """Return the known role names (calling the provider if it is callable)."""
        if callable(self._known_roles):
            return self._known_roles()
        return self._known_roles

    def _check(self) -> None:
        """Reload if the file's fingerprint changed; must hold the lock."""
        try:
            fingerprint: object = _fingerprint(os.stat(self._path))
        except OSError as exc:
            if self._fingerprint is not None:
                self._fingerprint = None
                self._reject(_unreadable(self._path, exc))
            return
        if fingerprint == self._fingerprint:
            return
        try:
            fingerprint, data = _read(self._path)
        except OSError as exc:
            self._fingerprint = None
            self._reject(_unreadable(self._path, exc))
            return
        self._fingerprint = fingerprint
        old = self._mapping
        if hashlib.sha256(data).hexdigest() == old.digest:
            if self._last_error is not None:
                log.info("Role mapping %s is back to version %s, which is in use", self._path, old.digest[:12])
                self._last_error = None
            return
        try:
            known = self._known()
        except Exception:
            log.exception("Could not list the known Airflow roles; will retry reloading %s", self._path)
            self._fingerprint = _RETRY
            return
        try:
            new = parse_mapping(data, source=self._path, known_roles=known)
        except MappingError as exc:
            self._reject(exc)
            return
        self._mapping = new
        self._raw = data
        self._last_error = None
        log.info(
            "Reloaded role mapping %s (version %s -> %s, %d rules)",
            self._path,
            old.digest[:12],
            new.digest[:12],
            len(new.rules),
        )
        if self._on_reload is not None:
            try:
                self._on_reload(old, new)
            except Exception:
                log.exception("on_reload callback failed for role mapping %s", self._path)

    def _reject(self, error: MappingError) -> None:
        """Keep the last good mapping, remember and log the error, and notify on_reject."""
        self._last_error = error
        log.error(
            "Role mapping %s rejected; still using version %s. %s",
            self._path,
            self._mapping.digest[:12],
            error,
        )
        if self._on_reject is not None:
            try:
                self._on_reject(error)
            except Exception:
                log.exception("on_reject callback failed for role mapping %s", self._path)
