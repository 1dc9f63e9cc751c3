"""The mapping file's ``agents:`` section: which of a person's roles an AI agent may use for them.

An agent is an Okta app (by client ID) holding a token a person delegated to it (Okta Cross App
Access ID-JAG, RFC 8693 token exchange). It gets the person's roles (their groups, mapped as
usual) that its entry allows, as names or patterns (:mod:`.patterns`); an agent not listed gets
nothing. Format: docs/mapping-cookbook.md ("Agents acting for a person"). Pure logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from okta_security.errors import AgentNoCommonRole, AgentNotMapped
from okta_security.mapping.bots import CLIENT_ID_CHARS, ById, client_entries, entry_name
from okta_security.mapping.patterns import matcher
from okta_security.mapping.yaml_lines import lines, parse_role_list, report_unknown_keys
from okta_security.untrusted import bounded

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from okta_security.mapping.yaml_lines import Problems

ENTRY_KEYS = ("name", "roles")
TWIN_FIX = "keep one entry per agent (Okta client IDs are case-sensitive: copy the Client ID exactly)"
SHOWN_ROLES_CHARS = 500  # a refusal names the person's roles and the agent's patterns up to this


@dataclass(frozen=True)
class AgentRule:
    """One agent: its Okta client ID, a label, and the role names or patterns it may use for a person."""

    client_id: str
    name: str
    roles: tuple[str, ...]
    line: int
    _matches: tuple[Callable[[str], bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", tuple(self.roles))
        object.__setattr__(self, "_matches", tuple(matcher(role) for role in self.roles))

    def allows(self, role: str) -> bool:
        """Return whether one of the agent's names or patterns matches the whole role name (case-sensitive)."""
        return any(matches(role) for matches in self._matches)

    def label(self) -> str:
        """Name the agent for people: its ``name`` and client ID."""
        return repr(self.client_id) if self.name == self.client_id else f"{self.name!r} ({self.client_id})"


class AgentMap(ById[AgentRule]):
    """The validated ``agents:`` section."""

    def allowed(self, client_id: str, person_roles: Collection[str]) -> frozenset[str]:
        """Return the person's roles the agent may use for them (none when the agent is not listed)."""
        rule = self.get(client_id)
        return frozenset(role for role in person_roles if rule.allows(role)) if rule else frozenset()

    def grant(self, client_id: str, person_roles: Collection[str]) -> frozenset[str]:
        """Return the roles of the agent's token for the person; raise AgentNotMapped or AgentNoCommonRole."""
        rule = self.get(client_id)
        if rule is None:
            shown = bounded(client_id, CLIENT_ID_CHARS)  # from a token; repr() escapes its line breaks
            raise AgentNotMapped(
                f"The AI agent with Okta client ID {shown!r} may not act for people in Airflow: it is not listed "
                "under 'agents:' in the role-mapping file. Ask your Airflow administrator to add it there with "
                "the roles it may use for a person (docs/agents.md).",
                client_id=shown,
            )
        roles = self.allowed(client_id, person_roles)
        if not roles:
            theirs = bounded(", ".join(sorted(person_roles)) or "none", SHOWN_ROLES_CHARS)
            raise AgentNoCommonRole(
                f"The AI agent {rule.label()} may use only the roles {bounded(', '.join(rule.roles), SHOWN_ROLES_CHARS)}"
                f" for a person, and this person has none of them (their roles: {theirs}). Act for a person who has "
                "one of them, or ask your Airflow administrator to allow the agent one of this person's roles "
                "under 'agents:' in the role-mapping file.",
                client_id=client_id,
            )
        return roles


EMPTY_AGENTS = AgentMap()


def parse_agents(value: Any, line: int, problems: Problems, known: Collection[str] | None) -> AgentMap:
    """Validate the ``agents:`` section (YAML already loaded), recording every problem; bad entries are left out."""
    rules: dict[str, AgentRule] = {}
    for client_id, entry, key_line, value_line in client_entries(value, line, problems, "agents", TWIN_FIX):
        rule = _entry(client_id, entry, key_line, value_line, problems, known)
        if rule is not None:
            rules[client_id] = rule
    return AgentMap(rules) if rules else EMPTY_AGENTS


def _entry(
    client_id: str, value: Any, line: int, value_line: int, problems: Problems, known: Collection[str] | None
) -> AgentRule | None:
    """Return one agent's rule (``[roles]``, or ``name``/``roles``; ``line`` is the client ID's), or None."""
    what = f"agent {client_id!r}"
    ok, name = True, client_id  # the short form: [roles]
    if isinstance(value, dict):
        ok = report_unknown_keys(value, ENTRY_KEYS, line, problems, where=f" for {what}")
        name = entry_name(value, client_id, line, what, problems, why="name an agent") or ""
        if "roles" not in value:
            problems.add(
                line,
                f"{what} has no 'roles'",
                "add e.g. 'roles: [Viewer]' (the person's roles it may use), or remove the agent",
            )
            return None
        value, value_line = value["roles"], lines(value)[1].get("roles", line)
    roles = parse_role_list(value, value_line, what, problems, known, patterns=True)
    return AgentRule(client_id, name, roles, line) if ok and name and roles else None
