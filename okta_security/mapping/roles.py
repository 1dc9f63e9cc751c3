"""Roles-as-code: the optional ``roles:`` section of the mapping file, parsed into role specs.

Format and semantics: docs/mapping-cookbook.md ("Roles-as-code"). A declared role is owned by the
file; built-in roles are never declared. ``based_on`` never copies access to *every* DAG (the
``DAGs`` resource); ``all_dags:`` grants it on purpose. Planning a sync: :mod:`.role_plan`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from okta_security.mapping.patterns import PatternKind, RegexRejected, matcher, pattern_kind
from okta_security.mapping.yaml_lines import closest, entries, item_lines, lines, report_unknown_keys, yaml_kind

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Mapping

    from okta_security.mapping.yaml_lines import Problems

ROLES_KEY = "roles"
# Roles Airflow's FAB auth manager creates itself; a file may use them but never declare them.
BUILTIN_ROLES = frozenset({"Admin", "Op", "User", "Viewer", "Public"})
# Roles whose reach a pattern must not extend silently (mapping_lint: broad_privileged_grant).
PRIVILEGED_ROLES = frozenset({"Admin", "Op"})
ROLE_NAME_MAX = 64  # ab_role.name is VARCHAR(64)
ACTION_MAX, RESOURCE_MAX = 100, 250  # ab_permission.name / ab_view_menu.name, as [fab] custom_roles checks

SPEC_KEYS = ("based_on", "dags", "all_dags", "permissions")
DAGS_RESOURCE = "DAGs"
DAG_RUNS_RESOURCE = "DAG Runs"


class DagResource(NamedTuple):
    """A DAG-level resource of Airflow's FAB auth manager (permissions.RESOURCE_DETAILS_MAP)."""

    prefix: str
    actions: tuple[str, ...]


# Mirrors airflow.providers.fab.www.security.permissions.RESOURCE_DETAILS_MAP (tested against it).
DAG_RESOURCES: Mapping[str, DagResource] = {
    DAGS_RESOURCE: DagResource("DAG:", ("can_read", "can_edit", "can_delete")),
    DAG_RUNS_RESOURCE: DagResource("DAG Run:", ("can_read", "can_create", "can_delete", "menu_access")),
}
DAG_PREFIXES = tuple(spec.prefix for spec in DAG_RESOURCES.values())
# Access to every DAG; based_on never copies it (a team role based on Viewer would see all DAGs).
ALL_DAGS_PERMISSIONS = frozenset((action, DAGS_RESOURCE) for action in DAG_RESOURCES[DAGS_RESOURCE].actions)

Permission = tuple[str, str]  # (action, resource), as FAB names them


def resource_name(dag_id: str, resource: str) -> str:
    """Return the FAB resource name for one DAG (as ``permissions.resource_name`` does)."""
    if dag_id.startswith(DAG_PREFIXES):
        return dag_id
    return f"{DAG_RESOURCES[resource].prefix}{dag_id}"


@dataclass(frozen=True)
class DagGrant:
    """Actions granted on the DAGs whose id matches ``pattern``."""

    pattern: str
    actions: Mapping[str, frozenset[str]]  # resource ("DAGs", "DAG Runs") -> actions
    line: int
    kind: PatternKind = field(init=False)
    matches: Callable[[str], bool] = field(init=False, repr=False, compare=False)  # the whole, case-sensitive id

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", pattern_kind(self.pattern))
        object.__setattr__(self, "matches", matcher(self.pattern, self.kind))

    def expand(self, dag_ids: Iterable[str]) -> list[str]:
        """Return the matching DAG ids, sorted (an exact id is kept even if no DAG has it yet)."""
        if self.kind == "exact":
            return [self.pattern]
        return sorted(dag_id for dag_id in dag_ids if self.matches(dag_id))

    def permissions(self, dag_ids: Iterable[str]) -> frozenset[Permission]:
        return frozenset(
            (action, resource_name(dag_id, resource))
            for dag_id in self.expand(dag_ids)
            for resource, actions in self.actions.items()
            for action in actions
        )


@dataclass(frozen=True)
class RoleSpec:
    name: str
    line: int
    based_on: str | None = None
    dags: tuple[DagGrant, ...] = ()
    all_dags: frozenset[str] = frozenset()
    permissions: frozenset[Permission] = frozenset()

    def own_permissions(self, dag_ids: Iterable[str]) -> frozenset[Permission]:
        ids = list(dag_ids)
        granted = {(action, DAGS_RESOURCE) for action in self.all_dags} | set(self.permissions)
        for grant in self.dags:
            granted |= grant.permissions(ids)
        return frozenset(granted)

    def grants_nothing(self) -> bool:
        return self.based_on is None and not self.dags and not self.all_dags and not self.permissions


def declared_names(section: Any) -> frozenset[str]:
    """Return the role names a (possibly invalid) ``roles:`` section declares."""
    if not isinstance(section, dict):
        return frozenset()
    return frozenset(name for name in section if isinstance(name, str) and name.strip())


def parse_roles(
    section: Any, line: int, *, known_roles: Collection[str] | None, problems: Problems
) -> tuple[RoleSpec, ...]:
    """Validate a ``roles:`` section; record every problem and return the valid specs."""
    if not isinstance(section, dict):
        problems.add(
            line,
            f"'roles' must be a mapping of role name -> definition, not a {yaml_kind(section)}",
            "write one 'role-name: {based_on: Viewer, dags: {...}}' entry per role, indented under 'roles:'",
        )
        return ()
    parser = _Parser(problems, declared_names(section), known_roles)
    found = (parser.spec(name, body, key_line) for name, body, key_line, _ in entries(section, line))
    by_name = {spec.name: spec for spec in found if spec is not None}
    cycles = {name: chain for name in by_name if len(chain := based_on_chain(name, by_name)) > 1 and chain[-1] == name}
    for name, cycle in cycles.items():
        problems.add(
            by_name[name].line,
            f"role {name!r} is based on itself ({' -> '.join(cycle)})",
            "base the role on a built-in role or on a role outside the cycle",
        )
    return tuple(spec for spec in by_name.values() if spec.name not in cycles)


def based_on_chain(name: str, specs: Mapping[str, RoleSpec]) -> list[str]:
    """Follow ``based_on`` from ``name``: the roles met, up to the first the file does not declare or a repeat."""
    chain = [name]
    while chain[-1] in specs and chain[-1] not in chain[:-1]:
        based_on = specs[chain[-1]].based_on
        if based_on is None:
            break
        chain.append(based_on)
    return chain


def _did_you_mean(word: object, choices: Collection[str]) -> str:
    return f"did you mean {close!r}? " if (close := closest(word, choices)) else ""


@dataclass
class _Parser:
    """Validate role definitions, recording every problem; a method returns None after reporting."""

    problems: Problems
    declared: frozenset[str]
    known: Collection[str] | None

    def name(self, name: Any, line: int) -> bool:
        add = self.problems.add
        builtin = next((b for b in BUILTIN_ROLES if isinstance(name, str) and b.lower() == name.lower()), None)
        if not isinstance(name, str) or not name.strip():
            add(line, f"role name {name!r} is not a name", 'write the role name as text, e.g. "team-finance"')
        elif name != name.strip():
            add(line, f"role name {name!r} has leading or trailing spaces", "remove the spaces")
        elif len(name) > ROLE_NAME_MAX:
            add(line, f"role name {name!r} is longer than {ROLE_NAME_MAX} characters", "use a shorter name")
        elif builtin is not None:
            add(
                line,
                f"role {name!r} is Airflow's built-in role {builtin!r}; the file never changes built-in roles",
                "declare a new role instead, e.g. 'team-x: {based_on: " + builtin + "}', and map groups to it",
            )
        else:
            return True
        return False

    def spec(self, name: Any, body: Any, line: int) -> RoleSpec | None:
        if not self.name(name, line):
            return None
        body = {} if body is None else body
        if not isinstance(body, dict):
            self.problems.add(
                line,
                f"role {name!r} must be a mapping (based_on, dags, all_dags, permissions), not a {yaml_kind(body)}",
                "write e.g. 'team-x: {based_on: Viewer, dags: {\"team_x_*\": [can_read]}}'",
            )
            return None
        ok = report_unknown_keys(body, SPEC_KEYS, line, self.problems, where=f" in role {name!r}")
        _, value_lines = lines(body)
        parsed: dict[str, Any] = {}
        for key in SPEC_KEYS:  # each has its method of the same name
            if key in body:
                parsed[key] = getattr(self, key)(name, body[key], value_lines.get(key, line))
                ok = ok and (parsed[key] is not None or (key == "based_on" and body[key] is None))
        return RoleSpec(name=name, line=line, **{k: v for k, v in parsed.items() if v is not None}) if ok else None

    def based_on(self, name: str, value: Any, line: int) -> str | None:
        """Validate ``based_on``: a built-in role, a declared role or (when known) a role in the database."""
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problems.add(
                line,
                f"based_on of role {name!r} must be a role name, not a {yaml_kind(value)}",
                "write e.g. 'based_on: Viewer'",
            )
            return None
        if value == name:
            self.problems.add(line, f"role {name!r} is based on itself", "base it on a built-in role such as Viewer")
            return None
        candidates = sorted(set(BUILTIN_ROLES) | self.declared | set(self.known or ()))
        if self.known is not None and value not in candidates:
            self.problems.add(
                line,
                f"role {name!r} is based on unknown role {value!r}",
                f"{_did_you_mean(value, candidates)}use one of: {', '.join(candidates)}",
            )
            return None
        return value

    def dags(self, name: str, value: Any, line: int) -> tuple[DagGrant, ...] | None:
        """Validate ``dags:``: DAG id or pattern -> actions (list) or {resource: actions}."""
        if not isinstance(value, dict):
            self.problems.add(
                line,
                f"dags of role {name!r} must be a mapping of DAG id or pattern -> actions, not a {yaml_kind(value)}",
                "write e.g. 'dags: {\"finance_*\": [can_read, can_edit]}'",
            )
            return None
        grants = []
        for pattern, actions_value, key_line, value_line in entries(value, line):
            ok = self.dag_pattern(name, pattern, key_line)
            actions = self.grant_actions(name, pattern, actions_value, value_line) if ok else None
            grants.append(None if actions is None else DagGrant(pattern=pattern, actions=actions, line=key_line))
        return None if None in grants else tuple(grants)  # type: ignore[arg-type]

    def dag_pattern(self, name: str, pattern: Any, line: int) -> bool:
        if not isinstance(pattern, str) or not pattern.strip():
            self.problems.add(
                line,
                f"DAG pattern {pattern!r} in role {name!r} is not a DAG id",
                'quote the DAG id or pattern, e.g. "finance_*"',
            )
            return False
        try:
            matcher(pattern)
        except RegexRejected as exc:
            self.problems.add(line, f"{exc.problem} (in role {name!r})", exc.fix)
            return False
        return True

    def grant_actions(self, name: str, pattern: str, value: Any, line: int) -> dict[str, frozenset[str]] | None:
        """Validate the actions of one DAG grant: a list (on DAGs) or {resource: actions}."""
        value = value if isinstance(value, dict) else {DAGS_RESOURCE: value}
        result: dict[str, frozenset[str]] = {}
        for resource, actions_value, key_line, value_line in entries(value, line):
            if resource not in DAG_RESOURCES:
                self.problems.add(
                    key_line,
                    f"unknown DAG resource {resource!r} for {pattern!r} in role {name!r}",
                    "use " + " or ".join(repr(r) for r in DAG_RESOURCES),
                )
                return None
            where = f"{resource} of {pattern!r} in role {name!r}"
            actions = self.actions(where, actions_value, value_line, resource)
            if actions is None:
                return None
            result[resource] = actions
        if not result:
            self.problems.add(line, f"no actions for {pattern!r} in role {name!r}", "list actions, e.g. [can_read]")
            return None
        return result

    def all_dags(self, name: str, value: Any, line: int) -> frozenset[str] | None:
        return self.actions(f"all_dags of role {name!r}", value, line, DAGS_RESOURCE)

    def actions(self, where: str, value: Any, line: int, resource: str) -> frozenset[str] | None:
        """Validate a list of actions (or one action) on a DAG-level resource."""
        allowed = DAG_RESOURCES[resource].actions
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            self.problems.add(
                line,
                f"actions for {where} must be a non-empty list, not {yaml_kind(value)}",
                f"write e.g. [{allowed[0]}]",
            )
            return None
        unknown = next((item for item in items if item not in allowed), None)
        if unknown is not None:
            self.problems.add(
                line,
                f"unknown action {unknown!r} for {where} ({resource})",
                f"{_did_you_mean(unknown, allowed)}use {', '.join(allowed)}",
            )
            return None
        return frozenset(items)

    def permissions(self, name: str, value: Any, line: int) -> frozenset[Permission] | None:
        """Validate ``permissions:``: a list of {action, resource} (the [fab] custom_roles shape)."""
        if not isinstance(value, list):
            self.problems.add(
                line,
                f"permissions of role {name!r} must be a list, not a {yaml_kind(value)}",
                "write e.g. '- {action: can_read, resource: Connections}'",
            )
            return None
        perms = [
            self.permission(name, item, item_line)
            for item, item_line in zip(value, item_lines(value, line), strict=False)
        ]
        return None if None in perms else frozenset(perms)  # type: ignore[arg-type]

    def permission(self, name: str, item: Any, line: int) -> Permission | None:
        if not isinstance(item, dict) or set(item) != {"action", "resource"}:
            self.problems.add(
                line,
                f"a permission of role {name!r} must have exactly 'action' and 'resource'",
                "write e.g. '{action: can_read, resource: Connections}'",
            )
            return None
        action, resource = item["action"], item["resource"]
        if not (isinstance(action, str) and action.strip() and len(action) <= ACTION_MAX) or not (
            isinstance(resource, str) and resource.strip() and len(resource) <= RESOURCE_MAX
        ):
            self.problems.add(
                line,
                f"permission {item!r} of role {name!r} needs a non-empty action and resource",
                "write both as text",
            )
            return None
        if resource == DAGS_RESOURCE or resource.startswith(DAG_PREFIXES):
            self.problems.add(
                line,
                f"permission on {resource!r} in role {name!r}: DAG access is declared with dags/all_dags",
                "use 'dags: {\"<dag id or pattern>\": [can_read]}' or 'all_dags: [can_read]'",
            )
            return None
        return (action, resource)
