"""Lint a valid role mapping for grants that are broader, or deader, than they look.

Errors are ``parse_mapping``'s; the lint finds valid files that are risky (warnings) or worth
knowing (info), codes in docs/mapping-cookbook.md ("The CLI"). It matches names only: what a glob
or a regex reaches would need a regex engine of our own. Pure logic: no Flask, FAB or Airflow.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from okta_security.mapping.patterns import matcher, regex_source
from okta_security.mapping.role_plan import privileged_declared_roles
from okta_security.mapping.roles import PRIVILEGED_ROLES, DagGrant

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from okta_security.errors import MappingError
    from okta_security.mapping.rules import RoleMapping, Rule

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
EVERYONE = "Everyone"  # Okta's built-in group: every user of the org is a member
_GLOB_STAR = re.compile(r"[-_:/]\*")  # "team-*" in a regex: '*' repeats the '-', it is no wildcard
_REGEX_SYNTAX = frozenset(".^$*+?{}[]\\|()")


@dataclass(frozen=True)
class Finding:
    """One lint (or validation) result, located in the file."""

    severity: Severity
    code: str
    line: int
    message: str
    fix: str
    source: str

    def text(self) -> str:
        return f"{self.source}:{self.line}: {self.severity}: {self.message} — {self.fix} [{self.code}]"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def findings_from_error(error: MappingError) -> list[Finding]:
    """Turn parse_mapping's ``file:line: what — fix`` problems into error findings."""
    located = re.compile(re.escape(error.source) + r":(\d+): (.*)", re.DOTALL)
    findings = []
    for problem in error.problems:
        line, rest = (int(m[1]), m[2]) if (m := located.fullmatch(problem)) else (1, problem)
        what, _sep, fix = rest.partition(" — ")
        findings.append(Finding("error", error.code, line, what, fix or "fix the file", error.source))
    return findings


def lint(mapping: RoleMapping, *, dag_ids: Collection[str] | None = None) -> list[Finding]:
    """Return every finding for a valid mapping, ordered by line; ``dag_ids`` enables the DAG checks."""
    linter = _Linter(mapping)
    findings = [*linter.privileged_patterns(), *linter.everyone(), *linter.default_role(), *linter.shadowed()]
    findings += [*linter.suspicious_keys(), *linter.declared_roles(), *linter.step_up(), *linter.agents()]
    if dag_ids is not None:
        findings.extend(linter.dag_patterns(dag_ids))
    return sorted(findings, key=lambda f: (f.line, SEVERITIES.index(f.severity), f.code))


# Every finding: code -> (severity, message, fix); ``{...}`` is filled in from what was found.
FINDINGS: dict[str, tuple[Severity, str, str]] = {
    "step_up_role": (
        "info",
        "{role!r} needs a multi-factor sign-in of at most {minutes} minutes ago (amr, auth_time)",
        "people without one sign in with their other roles and are offered the step-up",
    ),
    "step_up_role_unmapped": (
        "warning",
        "{role!r} needs a multi-factor sign-in of at most {minutes} minutes ago (amr, auth_time), "
        "but no mapping grants it",
        "map an Okta group to it, or remove it from 'step_up:'",
    ),
    "broad_privileged_grant": (
        "warning",
        "pattern {pattern!r} grants {named}: any new Okta group that matches it would get that role silently",
        "map the exact Okta group names to privileged roles, one line per group, and keep patterns for "
        "least-privilege roles",
    ),
    "matches_everyone": (
        "warning",
        "{pattern!r} matches Okta's built-in group 'Everyone', which every user of the org is in: everyone Okta "
        "lets into Airflow gets {roles}",
        "narrow the pattern so it cannot match 'Everyone' (or use default_role on purpose)",
    ),
    "privileged_default_role": (
        "warning",
        "default_role is {named}: every user Okta lets into Airflow whose groups match nothing gets it",
        "set 'default_role: null' (refuse) or a least-privilege role such as Viewer",
    ),
    "default_role_set": (
        "info",
        "default_role is {role!r}: every user Okta lets into Airflow gets at least {role!r}",
        "that is fine if intended; 'default_role: null' refuses users whose groups match nothing",
    ),
    "shadowed_rule": (
        "warning",
        "{pattern!r} adds nothing: every group it matches also matches {covering}, which already grant {roles}",
        "remove the entry, or change its roles if it was meant to grant more",
    ),
    "group_name_whitespace": (
        "warning",
        "{pattern!r} starts or ends with a space; Okta group names never do",
        "remove the spaces (quote the key if it needs special characters)",
    ),
    "regex_looks_like_glob": (
        "warning",
        "regular expression {pattern!r} has '*' but no '.': in a regex '*' repeats the previous character, "
        "it is not a wildcard",
        "write the glob {glob!r} (without 're:'), or use '.*' in the regex",
    ),
    "grants_only_public": (
        "info",
        "{pattern!r} grants only 'Public', which has no permissions: these users log in and see nothing",
        "map the group to a role with permissions, or remove the entry",
    ),
    "role_grants_nothing": (
        "warning",
        "declared role {role!r} has no permission at all",
        "add based_on, dags, all_dags or permissions",
    ),
    "declared_role_unused": (
        "info",
        "declared role {role!r} is synced to Airflow but no mapping grants it",
        "map an Okta group to it, or remove it from 'roles:'",
    ),
    "agent_role_never_granted": (
        "warning",
        "agent {agent} is allowed {pattern!r}, which matches no role the mappings give a person: "
        "it never lets the agent do anything",
        "check the spelling (role names are case-sensitive), or remove it",
    ),
    "agent_privileged_role": (
        "warning",
        "agent {agent} may use the privileged role(s) {named} of the people it acts for: whatever the agent is "
        "led to do (a prompt, a bug), it does with their full power",
        "allow agents least-privilege roles only (e.g. Viewer, or a declared role for the agent's job)",
    ),
    "agent_is_also_client": (
        "info",
        "agent {agent} is also under 'clients:' (line {bot_line}): its own client-credentials tokens act as its "
        "service user {username!r}, not for a person",
        "that is fine if the app is a bot too; the tokens it gets for a person carry only their roles allowed here",
    ),
    "dag_id_unknown": (
        "info",
        "role {role!r}: Airflow knows no DAG {pattern!r} yet (its permission is created anyway)",
        "check the DAG id's spelling",
    ),
    "dag_pattern_matches_all": (
        "info",
        "role {role!r}: DAG pattern {pattern!r} matches every DAG id, but only DAGs known at sync time get the "
        "permission",
        "write 'all_dags: [...]' to grant access to every DAG, present and future",
    ),
    "dag_pattern_matches_none": (
        "warning",
        "role {role!r}: DAG pattern {pattern!r} matches none of the {count} DAGs Airflow knows",
        "check the pattern (DAG ids are case-sensitive); DAGs added later are picked up at the next sync",
    ),
}


class _Linter:
    """The lint rules, sharing the privileged-role set."""

    def __init__(self, mapping: RoleMapping) -> None:
        self.mapping = mapping
        self.privileged = dict.fromkeys(PRIVILEGED_ROLES, "") | privileged_declared_roles(mapping.roles)
        self.person_roles = mapping.person_roles()

    def finding(self, code: str, line: int, **found: object) -> Finding:
        severity, message, fix = FINDINGS[code]
        return Finding(severity, code, line, message.format(**found), fix.format(**found), self.mapping.source)

    def _privileged_in(self, roles: Iterable[str]) -> str:
        """Name the privileged roles among ``roles`` (declared ones with their ancestor)."""
        named = (
            f"{role!r} (based on {self.privileged[role]})" if self.privileged[role] else repr(role)
            for role in roles
            if role in self.privileged
        )
        return ", ".join(named)

    def privileged_patterns(self) -> Iterable[Finding]:
        for rule in self.mapping.rules:
            named = self._privileged_in(rule.roles)
            if named and rule.kind != "exact":
                yield self.finding("broad_privileged_grant", rule.line, pattern=rule.pattern, named=named)

    def everyone(self) -> Iterable[Finding]:
        for rule in self.mapping.rules:
            if rule.matches(EVERYONE):
                yield self.finding("matches_everyone", rule.line, pattern=rule.pattern, roles=", ".join(rule.roles))

    def default_role(self) -> Iterable[Finding]:
        role, line = self.mapping.default_role, self.mapping.default_role_line
        if role is not None:
            named = self._privileged_in([role])
            yield self.finding("privileged_default_role" if named else "default_role_set", line, named=named, role=role)

    def shadowed(self) -> Iterable[Finding]:
        # Greedy, last rule first: a rule found redundant leaves the pool at once, so removing
        # every rule reported here together is safe (each is covered by the rules that stay).
        pool = list(self.mapping.rules)
        for rule in reversed(self.mapping.rules):
            name = _only_name(rule)
            if name is None:
                continue
            covering = [o for o in pool if o is not rule and set(o.roles) & set(rule.roles) and o.matches(name)]
            if covering and set(rule.roles) <= {role for other in covering for role in other.roles}:
                pool.remove(rule)
                lines = ", ".join(f"line {other.line} ({other.pattern!r})" for other in covering)
                yield self.finding(
                    "shadowed_rule", rule.line, pattern=rule.pattern, covering=lines, roles=", ".join(rule.roles)
                )

    def suspicious_keys(self) -> Iterable[Finding]:
        for rule in self.mapping.rules:
            if rule.pattern != rule.pattern.strip():
                yield self.finding("group_name_whitespace", rule.line, pattern=rule.pattern)
            expression = regex_source(rule.pattern) if rule.kind == "regex" else ""
            if _GLOB_STAR.search(expression) and "." not in expression:
                yield self.finding(
                    "regex_looks_like_glob", rule.line, pattern=rule.pattern, glob=expression.strip("^$")
                )
            if set(rule.roles) == {"Public"}:
                yield self.finding("grants_only_public", rule.line, pattern=rule.pattern)

    def declared_roles(self) -> Iterable[Finding]:
        granted = self.mapping.role_names() | {spec.based_on for spec in self.mapping.roles}
        for spec in self.mapping.roles:
            if spec.grants_nothing():
                yield self.finding("role_grants_nothing", spec.line, role=spec.name)
            if spec.name not in granted:
                yield self.finding("declared_role_unused", spec.line, role=spec.name)

    def step_up(self) -> Iterable[Finding]:
        rules = self.mapping.step_up
        if rules is None:
            return
        minutes = rules.max_age_seconds // 60
        for role in sorted(rules.roles):
            code = "step_up_role" if role in self.person_roles else "step_up_role_unmapped"
            yield self.finding(code, rules.line, role=role, minutes=minutes)

    def agents(self) -> Iterable[Finding]:
        for agent in self.mapping.agents:
            for pattern in agent.roles:
                if not any(map(matcher(pattern), self.person_roles)):
                    yield self.finding("agent_role_never_granted", agent.line, agent=agent.label(), pattern=pattern)
            named = self._privileged_in(role for role in self.privileged if agent.allows(role))
            if named:
                yield self.finding("agent_privileged_role", agent.line, agent=agent.label(), named=named)
            bot = self.mapping.clients.get(agent.client_id)
            if bot is not None:
                yield self.finding(
                    "agent_is_also_client", agent.line, agent=agent.label(), bot_line=bot.line, username=bot.username
                )

    def dag_patterns(self, dag_ids: Collection[str]) -> Iterable[Finding]:
        for spec in self.mapping.roles:
            for grant in spec.dags:
                code = _dag_grant_code(grant, dag_ids)
                if code:
                    yield self.finding(code, grant.line, role=spec.name, pattern=grant.pattern, count=len(dag_ids))


def _dag_grant_code(grant: DagGrant, dag_ids: Collection[str]) -> str | None:
    """Return what is worth saying about one DAG grant against the DAGs Airflow knows, if anything."""
    if grant.kind == "exact":
        return None if grant.pattern in dag_ids else "dag_id_unknown"
    if _matches_every_id(grant.pattern, grant.kind):
        return "dag_pattern_matches_all"
    return None if grant.expand(dag_ids) else "dag_pattern_matches_none"


def _only_name(rule: Rule) -> str | None:
    """Return the one name an exact rule, or a ``re:`` rule that is a plain name, matches (else None)."""
    if rule.kind == "exact":
        return rule.pattern
    body = regex_source(rule.pattern).removeprefix("^").removeprefix("\\A").removesuffix("$").removesuffix("\\Z")
    return body if rule.kind == "regex" and body and not _REGEX_SYNTAX & set(body) else None


def _matches_every_id(pattern: str, kind: str) -> bool:
    """Return whether a DAG pattern is one of the spellings of "any DAG id" (``*``, ``?*``, ``re:.*``, ``re:.+``)."""
    if kind == "glob":
        return pattern.replace("*", "") in ("", "?") and "*" in pattern
    body = regex_source(pattern).removeprefix("^").removesuffix("$")
    return kind == "regex" and body in (".*", ".+")
