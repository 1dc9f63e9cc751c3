"""Map Okta groups to Airflow roles, as configured in a YAML file (docs/mapping-cookbook.md).

Keys are exact names, globs or ``re:`` regexes (:mod:`.patterns`, one ``PatternSet`` per version);
every match contributes its roles. ``roles:``, ``clients:``, ``agents:`` and ``step_up:`` are
:mod:`.roles`, :mod:`.bots`, :mod:`.agents` and :mod:`.step_up`. Every problem is reported at
once, in one :class:`MappingError`, as ``<file>:<line>: <what is wrong> — <how to fix>``. Pure
logic: no Flask, FAB or Airflow imports.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from okta_security.errors import MappingError
from okta_security.mapping.agents import EMPTY_AGENTS, AgentMap, parse_agents
from okta_security.mapping.bots import EMPTY_CLIENTS, ClientMap, parse_clients
from okta_security.mapping.patterns import PatternKind, PatternSet, RegexRejected, matcher, pattern_kind
from okta_security.mapping.roles import ROLES_KEY, RoleSpec, declared_names, parse_roles
from okta_security.mapping.step_up import STEP_UP_KEY, StepUp, parse_step_up
from okta_security.mapping.yaml_lines import (
    FAILED,
    LinedDict,
    Problems,
    a_yaml_kind,
    entries,
    known_role,
    load_yaml,
    parse_role_list,
    report_unknown_keys,
    valid_pattern,
    yaml_kind,
)

log = logging.getLogger(__name__)

KnownRoles = Collection[str] | Callable[[], Collection[str]] | None

MAPPINGS_KEY = "mappings"
DEFAULT_ROLE_KEY = "default_role"
TOP_LEVEL_KEYS = (DEFAULT_ROLE_KEY, MAPPINGS_KEY, ROLES_KEY, "clients", "agents", STEP_UP_KEY)


@dataclass(frozen=True)
class Rule:
    """One mapping entry: an Okta group name or pattern (as written, ``re:`` kept) and the roles it grants."""

    pattern: str
    kind: PatternKind
    roles: tuple[str, ...]
    line: int
    matches: Callable[[str], bool] = field(init=False, repr=False, compare=False)  # the whole, case-sensitive name

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", tuple(self.roles))
        object.__setattr__(self, "matches", matcher(self.pattern, self.kind))


@dataclass(frozen=True)
class RoleMapping:
    """A validated, compiled version of the role-mapping file."""

    rules: tuple[Rule, ...]
    default_role: str | None
    source: str
    digest: str
    clients: ClientMap = field(default=EMPTY_CLIENTS, compare=False)  # the validated ``clients:`` section (bots)
    agents: AgentMap = field(default=EMPTY_AGENTS, compare=False)  # ``agents:``: AI agents acting for a person
    roles: tuple[RoleSpec, ...] = field(default=(), compare=False)  # the validated ``roles:`` section
    default_role_line: int = field(default=1, compare=False)  # where default_role is set (for messages)
    step_up: StepUp | None = field(default=None, compare=False)  # roles that need recent multi-factor evidence
    _index: PatternSet[Rule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", PatternSet(self.rules))

    def resolve(self, groups: Iterable[str]) -> frozenset[str]:
        """Return the union of roles of every matching rule, else the default role, else nothing."""
        _check_groups(groups)
        roles: set[str] = set()
        match = self._index.match  # the login path: no pairs built, as explain does
        for group in groups:
            if isinstance(group, str):
                for rule in match(group):
                    roles.update(rule.roles)
        return frozenset((self.default_role,)) if not roles and self.default_role is not None else frozenset(roles)

    def explain(self, groups: Iterable[str]) -> list[tuple[str, Rule]]:
        """Return the (group, rule) pairs that matched, in group order then file order."""
        _check_groups(groups)
        names = dict.fromkeys(group for group in groups if isinstance(group, str))
        return [(group, rule) for group in names for rule in self._index.match(group)]

    def exact_roles_mapping(self) -> dict[str, list[str]]:
        """Return exact-name rules as ``{group: [roles]}`` for FAB's AUTH_ROLES_MAPPING."""
        result: dict[str, list[str]] = {}
        for rule in self.rules:
            if rule.kind == "exact":
                roles = result.setdefault(rule.pattern, [])
                roles.extend(role for role in rule.roles if role not in roles)
        return result

    def declared_roles(self) -> frozenset[str]:
        return frozenset(spec.name for spec in self.roles)

    def person_roles(self) -> frozenset[str]:
        """Return every role a person can get: those of the rules, and the default role."""
        default = (self.default_role,) if self.default_role is not None else ()
        return frozenset((*(role for rule in self.rules for role in rule.roles), *default))

    def role_names(self) -> frozenset[str]:
        """Return every role the mapping grants: a person's (:meth:`person_roles`) and the clients'."""
        return self.person_roles() | self.clients.role_names()


def _check_groups(groups: Iterable[str]) -> None:
    """Refuse a bare string, which would otherwise be iterated character by character."""
    if isinstance(groups, (str, bytes)):
        raise TypeError("groups must be a collection of group names, not a single string")


def _validate_key(group: Any, line: int, problems: Problems) -> PatternKind | None:
    """Return the rule kind of a mapping key, or None after recording a problem."""
    if not isinstance(group, str):
        problems.add(
            line,
            f"group name {group!r} is a {yaml_kind(group)}, not a string",
            f'quote the group name, e.g. "{group}": [Viewer]',
        )
        return None
    if not group.strip():
        problems.add(line, "empty group name", "write the Okta group name as the key")
        return None
    return pattern_kind(group) if valid_pattern(group, line, problems) else None


def _validate_mappings(value: Any, line: int, known: Collection[str] | None, problems: Problems) -> list[Rule]:
    if not isinstance(value, dict):
        problems.add(
            line,
            f"'mappings' must be a mapping of Okta group -> roles, not a {yaml_kind(value)}",
            "write one 'okta-group: [Role]' entry per line, indented under 'mappings:'",
        )
        return []
    rules: list[Rule] = []
    for group, roles_value, key_line, value_line in entries(value, line):
        kind = _validate_key(group, key_line, problems)
        roles = parse_role_list(roles_value, value_line, f"group {str(group)!r}", problems, known)
        if kind is not None and roles is not None:
            rules.append(Rule(pattern=group, kind=kind, roles=roles, line=key_line))
    return rules


def _validate_default_role(document: LinedDict, known: Collection[str] | None, problems: Problems) -> str | None:
    """Return the default role (None = refuse), recording problems."""
    value, line = document.get(DEFAULT_ROLE_KEY), document.value_lines.get(DEFAULT_ROLE_KEY, 1)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.add(
            line,
            f"default_role must be a role name or null, not {a_yaml_kind(value)}",
            "write e.g. 'default_role: Viewer', or 'default_role: null' to refuse logins that match no group",
        )
        return None
    return value if known_role(value, line, known, problems, where=" in default_role") else None


def parse_mapping(text: str | bytes, *, source: str, known_roles: Collection[str] | None = None) -> RoleMapping:
    """Parse and validate a role-mapping document; raise MappingError listing every problem."""
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    known = frozenset(known_roles) if known_roles is not None else None
    problems = Problems(source)
    document = load_yaml(raw, problems)
    if document is None:
        problems.add(1, "the file is empty", "add a 'mappings:' section that maps Okta groups to Airflow roles")
    elif document is not FAILED and not isinstance(document, LinedDict):
        problems.add(
            getattr(document, "line", 1),
            f"the top level must be a mapping with 'mappings:' (and 'default_role:'), not a {yaml_kind(document)}",
            "start the file with 'mappings:' followed by indented 'okta-group: [Role]' entries",
        )
    if not isinstance(document, LinedDict):
        raise MappingError(problems.messages(), source=source)
    report_unknown_keys(document, TOP_LEVEL_KEYS, 1, problems, what="top-level key")
    at = document.value_lines
    got = {key: (document[key], at[key]) for key in TOP_LEVEL_KEYS if key in document}  # (value, line)
    # Roles the file declares are valid mapping targets (created or updated at sync).
    role_specs = parse_roles(*got[ROLES_KEY], known_roles=known, problems=problems) if ROLES_KEY in got else ()
    if known is not None:
        known = known | declared_names(document.get(ROLES_KEY))
    if MAPPINGS_KEY not in got:
        problems.add(
            1, "missing required 'mappings' section", "add 'mappings:' with indented 'okta-group: [Role]' entries"
        )
    rules = _validate_mappings(*got[MAPPINGS_KEY], known, problems) if MAPPINGS_KEY in got else []
    default_role = _validate_default_role(document, known, problems)
    clients = parse_clients(*got["clients"], problems, known) if "clients" in got else EMPTY_CLIENTS
    agents = parse_agents(*got["agents"], problems, known) if "agents" in got else EMPTY_AGENTS
    step_up = parse_step_up(*got[STEP_UP_KEY], problems, known) if STEP_UP_KEY in got else None
    if problems:
        raise MappingError(problems.messages(), source=source)
    try:
        return RoleMapping(
            rules=tuple(rules),
            default_role=default_role,
            default_role_line=at.get(DEFAULT_ROLE_KEY, 1),
            source=source,
            digest=hashlib.sha256(raw).hexdigest(),
            clients=clients,
            agents=agents,
            roles=role_specs,
            step_up=step_up,
        )
    except RegexRejected as exc:  # RE2 cannot hold every pattern of the file at once
        problems.add(1, exc.problem, exc.fix)
        raise MappingError(problems.messages(), source=source) from exc
