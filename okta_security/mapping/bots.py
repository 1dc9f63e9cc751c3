"""The mapping file's ``clients:`` section: Okta client IDs (bots) -> Airflow roles and service users.

Format: docs/bots.md ("Map each client"). A token's roles are ``roles`` plus those of every listed
scope in its ``scp``; a client not listed, or whose token earns no role, is refused
(:class:`UnmappedClient`). Parsed with the rest of the file by :mod:`.rules`. Pure logic.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from okta_security.errors import UnmappedClient
from okta_security.mapping.yaml_lines import (
    a_yaml_kind,
    entries,
    lines,
    parse_role_list,
    report_unknown_keys,
    yaml_kind,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Mapping

    from okta_security.mapping.yaml_lines import Problems

SERVICE_USER_PREFIX = "svc-"  # every bot's Airflow username starts with it, so the Audit Log shows who is a bot
ENTRY_KEYS = ("name", "roles", "scopes")
CLIENT_ID_CHARS = 128  # the longest client ID the file accepts; refusals show no more of one
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$")  # Okta IDs are base62; also safe in an email
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")
TWIN_FIX = "keep one entry per client (their service users would collide)"
R = TypeVar("R")
_SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")  # RFC 6749 section 3.3 scope-token


@dataclass(frozen=True)
class ClientRule:
    client_id: str
    username: str
    roles: tuple[str, ...]
    scope_roles: Mapping[str, tuple[str, ...]]
    line: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope_roles", types.MappingProxyType(dict(self.scope_roles)))


@dataclass(frozen=True)
class BotGrant:
    """What a client's token earns: the service user to act as and its roles."""

    client_id: str
    username: str
    roles: frozenset[str]
    granting_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ById(Generic[R]):
    """A validated section's rules, looked up by Okta client ID (exact, case-sensitive)."""

    rules: Mapping[str, R] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", types.MappingProxyType(dict(self.rules)))

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[R]:
        return iter(self.rules.values())

    def get(self, client_id: str) -> R | None:
        return self.rules.get(client_id)


class ClientMap(ById[ClientRule]):
    """The validated ``clients:`` section."""

    def role_names(self) -> frozenset[str]:
        return frozenset(
            role for rule in self.rules.values() for roles in (rule.roles, *rule.scope_roles.values()) for role in roles
        )

    def resolve(self, client_id: str, scopes: Collection[str]) -> BotGrant:
        """Return the grant for a token of ``client_id`` carrying ``scopes``; raise UnmappedClient if none."""
        rule = self.rules.get(client_id)
        if rule is None:
            raise UnmappedClient(
                f"Okta client {client_id!r} is not mapped to any Airflow role, so Airflow will not issue it a "
                "token. Ask your Airflow administrator to add the client ID under 'clients:' in the "
                "role-mapping file.",
                client_id=client_id,
            )
        granting = tuple(scope for scope in rule.scope_roles if scope in scopes)
        roles = frozenset(rule.roles).union(*(rule.scope_roles[scope] for scope in granting))
        if not roles:
            wanted = ", ".join(rule.scope_roles)
            carried = ", ".join(sorted(scopes)) or "none"
            raise UnmappedClient(
                f"Okta client {client_id!r} gets Airflow roles only through the scopes {wanted}, and this token "
                f"carries none of them (it has: {carried}). Request one of those scopes from Okta.",
                client_id=client_id,
            )
        return BotGrant(client_id=client_id, username=rule.username, roles=roles, granting_scopes=granting)


EMPTY_CLIENTS = ClientMap()


def parse_clients(value: Any, line: int, problems: Problems, known: Collection[str] | None) -> ClientMap:
    """Validate the ``clients:`` section (YAML already loaded), recording every problem; bad entries are left out."""
    rules: dict[str, ClientRule] = {}
    usernames: dict[str, str] = {}
    for client_id, entry, key_line, value_line in client_entries(value, line, problems, "clients", TWIN_FIX):
        rule = _entry(client_id, entry, key_line, value_line, problems, known)
        if rule is None:
            continue
        owner = usernames.setdefault(rule.username.casefold(), client_id)
        if owner != client_id:
            problems.add(
                key_line,
                f"clients {owner!r} and {client_id!r} would share the service user {rule.username!r}",
                "give each client its own 'name'",
            )
            continue
        rules[client_id] = rule
    return ClientMap(rules) if rules else EMPTY_CLIENTS


def client_entries(
    value: Any, line: int, problems: Problems, section: str, twin_fix: str
) -> Iterator[tuple[str, Any, int, int]]:
    """Yield (client ID, entry, key line, value line) of a section keyed by Okta client IDs, reporting bad IDs."""
    if value is None:
        return
    if not isinstance(value, dict):
        problems.add(
            line,
            f"{section!r} must map Okta client IDs to roles, not a {yaml_kind(value)}",
            f"write one '<client ID>: [Role]' entry per line, indented under '{section}:'",
        )
        return
    folded_ids: dict[str, str] = {}
    for client_id, entry, key_line, value_line in entries(value, line):
        if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
            problems.add(
                key_line,
                f"{client_id!r} is not an Okta client ID",
                "copy the Client ID from the Okta app's General tab (e.g. 0oa8f5j3ecb5w3dF85d7); quote it",
            )
            continue
        twin = folded_ids.setdefault(client_id.casefold(), client_id)
        if twin != client_id:
            problems.add(key_line, f"client {client_id!r} differs from {twin!r} only in letter case", twin_fix)
            continue
        yield client_id, entry, key_line, value_line


def entry_name(
    value: dict[Any, Any], default: str, line: int, what: str, problems: Problems, why: str = "be part of a username"
) -> str | None:
    """Return an entry's ``name`` (``default`` without one), or None after reporting one with other characters."""
    if "name" not in value:
        return default
    name = value["name"]
    if isinstance(name, str) and _NAME.match(name):
        return name
    problems.add(
        lines(value)[1].get("name", line),
        f"name {name!r} of {what} cannot {why}",
        "use letters, digits, '.', '_' or '-' (at most 60), e.g. ci-pipeline",
    )
    return None


def _entry(
    client_id: str, value: Any, line: int, value_line: int, problems: Problems, known: Collection[str] | None
) -> ClientRule | None:
    """Return one client's rule (short or long form; ``line`` is the client ID's), or None after reporting."""
    what = f"client {client_id!r}"
    if isinstance(value, (str, list)):
        roles = parse_role_list(value, value_line, what, problems, known)
        return None if roles is None else ClientRule(client_id, SERVICE_USER_PREFIX + client_id, roles, {}, line)
    if not isinstance(value, dict):
        problems.add(
            line,
            f"{what} must have roles or a mapping with 'roles'/'scopes', not a {yaml_kind(value)}",
            "write e.g. 'roles: [Viewer]' indented under the client ID",
        )
        return None
    _, at = lines(value)
    ok = report_unknown_keys(value, ENTRY_KEYS, line, problems, where=f" for {what}")
    name = entry_name(value, client_id, line, what, problems)
    roles = parse_role_list(value["roles"], at.get("roles", line), what, problems, known) if "roles" in value else ()
    scope_roles = _scopes(value["scopes"], at.get("scopes", line), what, problems, known) if "scopes" in value else {}
    if "roles" not in value and "scopes" not in value:
        problems.add(
            line,
            f"{what} grants no role",
            "add 'roles: [Viewer]' (or 'scopes:' mapping scopes to roles), or remove the client",
        )
        return None
    if not ok or name is None or roles is None or scope_roles is None:
        return None
    return ClientRule(client_id, SERVICE_USER_PREFIX + name, roles, scope_roles, line)


def _scopes(
    value: Any, line: int, what: str, problems: Problems, known: Collection[str] | None
) -> dict[str, tuple[str, ...]] | None:
    """Return a client's scope -> roles table, or None after reporting."""
    if not isinstance(value, dict) or not value:
        problems.add(
            line,
            f"'scopes' of {what} must map Okta scopes to roles, not {a_yaml_kind(value)}",
            "write one 'scope.name: [Role]' entry per line, indented under 'scopes:'",
        )
        return None
    table: dict[str, tuple[str, ...] | None] = {}
    for scope, roles_value, scope_line, where in entries(value, line):
        if isinstance(scope, str) and _SCOPE.match(scope):
            table[scope] = parse_role_list(roles_value, where, f"scope {scope!r} of {what}", problems, known)
        else:
            problems.add(
                scope_line,
                f"{scope!r} is not an OAuth scope name (in 'scopes' of {what})",
                "write the custom scope exactly as defined in Okta, e.g. airflow.trigger",
            )
            table[str(scope)] = None
    return None if None in table.values() else table  # type: ignore[return-value]
