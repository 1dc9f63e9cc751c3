"""Lint a valid role mapping for grants that are broader, or deader, than they look.

``parse_mapping`` decides whether a file can be used at all (errors). These rules look for
files that are valid but risky or confused (warnings), or worth knowing (info):

=========================  ========  =====================================================
code                       severity  finding
=========================  ========  =====================================================
broad_privileged_grant     warning   a glob/regex grants Admin or Op (or a declared role
                                     based on them): a new Okta group that happens to match
                                     would get it silently
matches_everyone           warning   a rule matches Okta's ``Everyone`` group (every user)
privileged_default_role    warning   ``default_role`` is Admin/Op (or based on them)
default_role_set           info      ``default_role`` lets in every user Okta lets through
shadowed_rule              warning   the rule names one group (an exact name, or a ``re:``
                                     that is a plain name) that already gets its roles from
                                     other rules: it adds nothing
regex_looks_like_glob      warning   ``re:`` pattern with ``*`` but no ``.``: ``*`` repeats the
                                     previous character in a regex
group_name_whitespace      warning   a key starts or ends with a space (Okta trims names)
grants_only_public         info      a rule grants only Public: users log in and see nothing
role_grants_nothing        warning   a declared role has no permission at all
declared_role_unused       info      no rule, default_role or client grants a declared role
dag_pattern_matches_none   warning   a DAG glob/regex matches no DAG Airflow knows (needs the DB)
dag_id_unknown             info      an exact DAG id Airflow does not know yet (needs the DB)
dag_pattern_matches_all    info      a DAG pattern spelled as "any id" (``*``, ``re:.*``): say ``all_dags``
=========================  ========  =====================================================

Shadowing is decided by matching the one name such a rule grants; what a glob or a regex
reaches is not worked out (that needs a regex engine of our own: docs/mapping-cookbook.md says
which findings went with it). Pure logic: no Flask, FAB or Airflow imports.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from okta_security.mapping.patterns import regex_source
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
        """Return ``file:line: severity: message — fix [code]``."""
        return f"{self.source}:{self.line}: {self.severity}: {self.message} — {self.fix} [{self.code}]"

    def as_dict(self) -> dict[str, object]:
        """Return the finding as JSON-ready data."""
        return asdict(self)


def findings_from_error(error: MappingError) -> list[Finding]:
    """Turn parse_mapping's ``file:line: what — fix`` problems into error findings."""
    findings = []
    for problem in error.problems:
        line, rest = 1, problem
        prefix = f"{error.source}:"
        if problem.startswith(prefix):
            number, _sep, remainder = problem[len(prefix) :].partition(": ")
            if number.isdigit():
                line, rest = int(number), remainder
        what, _sep, fix = rest.partition(" — ")
        findings.append(Finding("error", error.code, line, what, fix or "fix the file", error.source))
    return findings


def lint(mapping: RoleMapping, *, dag_ids: Collection[str] | None = None) -> list[Finding]:
    """Return every finding for a valid mapping, ordered by line; ``dag_ids`` enables the DAG checks."""
    linter = _Linter(mapping)
    findings = [
        *linter.privileged_patterns(),
        *linter.everyone(),
        *linter.default_role(),
        *linter.shadowed(),
        *linter.suspicious_keys(),
        *linter.declared_roles(),
        *linter.step_up(),
    ]
    if dag_ids is not None:
        findings.extend(linter.dag_patterns(dag_ids))
    return sorted(findings, key=lambda f: (f.line, SEVERITIES.index(f.severity), f.code))


class _Linter:
    """The lint rules, sharing the privileged-role set."""

    def __init__(self, mapping: RoleMapping) -> None:
        self.mapping = mapping
        self.source = mapping.source
        self.privileged = dict.fromkeys(PRIVILEGED_ROLES, "") | privileged_declared_roles(mapping.roles)

    def finding(self, severity: Severity, code: str, line: int, message: str, fix: str) -> Finding:
        return Finding(severity, code, line, message, fix, self.source)

    def _privileged_in(self, roles: Iterable[str]) -> list[str]:
        """Name the privileged roles among ``roles`` (declared ones with their ancestor)."""
        named = []
        for role in roles:
            if role in self.privileged:
                ancestor = self.privileged[role]
                named.append(f"{role!r} (based on {ancestor})" if ancestor else repr(role))
        return named

    # -- rules ----------------------------------------------------------------------------

    def privileged_patterns(self) -> Iterable[Finding]:
        for rule in self.mapping.rules:
            if rule.kind == "exact":
                continue
            named = self._privileged_in(rule.roles)
            if named:
                yield self.finding(
                    "warning",
                    "broad_privileged_grant",
                    rule.line,
                    f"pattern {rule.pattern!r} grants {', '.join(named)}: any new Okta group that matches it "
                    "would get that role silently",
                    "map the exact Okta group names to privileged roles, one line per group, "
                    "and keep patterns for least-privilege roles",
                )

    def everyone(self) -> Iterable[Finding]:
        for rule in self.mapping.rules:
            if rule.matches(EVERYONE):
                yield self.finding(
                    "warning",
                    "matches_everyone",
                    rule.line,
                    f"{rule.pattern!r} matches Okta's built-in group {EVERYONE!r}, which every user of the org is in: "
                    f"everyone Okta lets into Airflow gets {', '.join(rule.roles)}",
                    "narrow the pattern so it cannot match 'Everyone' (or use default_role on purpose)",
                )

    def default_role(self) -> Iterable[Finding]:
        role = self.mapping.default_role
        if role is None:
            return
        line = self.mapping.default_role_line
        named = self._privileged_in([role])
        if named:
            yield self.finding(
                "warning",
                "privileged_default_role",
                line,
                f"default_role is {named[0]}: every user Okta lets into Airflow whose groups match nothing gets it",
                "set 'default_role: null' (refuse) or a least-privilege role such as Viewer",
            )
        else:
            yield self.finding(
                "info",
                "default_role_set",
                line,
                f"default_role is {role!r}: every user Okta lets into Airflow gets at least {role!r}",
                "that is fine if intended; 'default_role: null' refuses users whose groups match nothing",
            )

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
                    "warning",
                    "shadowed_rule",
                    rule.line,
                    f"{rule.pattern!r} adds nothing: every group it matches also matches {lines}, "
                    f"which already grant {', '.join(rule.roles)}",
                    "remove the entry, or change its roles if it was meant to grant more",
                )

    def suspicious_keys(self) -> Iterable[Finding]:
        for rule in self.mapping.rules:
            if rule.pattern != rule.pattern.strip():
                yield self.finding(
                    "warning",
                    "group_name_whitespace",
                    rule.line,
                    f"{rule.pattern!r} starts or ends with a space; Okta group names never do",
                    "remove the spaces (quote the key if it needs special characters)",
                )
            expression = regex_source(rule.pattern) if rule.kind == "regex" else ""
            if _GLOB_STAR.search(expression) and "." not in expression:
                glob = expression.strip("^$")
                yield self.finding(
                    "warning",
                    "regex_looks_like_glob",
                    rule.line,
                    f"regular expression {rule.pattern!r} has '*' but no '.': in a regex '*' repeats the "
                    "previous character, it is not a wildcard",
                    f"write the glob {glob!r} (without 're:'), or use '.*' in the regex",
                )
            if set(rule.roles) == {"Public"}:
                yield self.finding(
                    "info",
                    "grants_only_public",
                    rule.line,
                    f"{rule.pattern!r} grants only 'Public', which has no permissions: "
                    "these users log in and see nothing",
                    "map the group to a role with permissions, or remove the entry",
                )

    def declared_roles(self) -> Iterable[Finding]:
        granted = {role for rule in self.mapping.rules for role in rule.roles}
        granted |= self.mapping.role_names()
        based = {spec.based_on for spec in self.mapping.roles}
        for spec in self.mapping.roles:
            if spec.grants_nothing():
                yield self.finding(
                    "warning",
                    "role_grants_nothing",
                    spec.line,
                    f"declared role {spec.name!r} has no permission at all",
                    "add based_on, dags, all_dags or permissions",
                )
            if spec.name not in granted and spec.name not in based:
                yield self.finding(
                    "info",
                    "declared_role_unused",
                    spec.line,
                    f"declared role {spec.name!r} is synced to Airflow but no mapping grants it",
                    "map an Okta group to it, or remove it from 'roles:'",
                )

    def step_up(self) -> Iterable[Finding]:
        rules = self.mapping.step_up
        if rules is None:
            return
        granted = {role for rule in self.mapping.rules for role in rule.roles} | {self.mapping.default_role}
        minutes = rules.max_age_seconds // 60
        for role in sorted(rules.roles):
            yield self.finding(
                "info" if role in granted else "warning",
                "step_up_role" if role in granted else "step_up_role_unmapped",
                rules.line,
                f"{role!r} needs a multi-factor sign-in of at most {minutes} minutes ago (amr, auth_time)"
                + ("" if role in granted else ", but no mapping grants it"),
                "people without one sign in with their other roles and are offered the step-up"
                if role in granted
                else "map an Okta group to it, or remove it from 'step_up:'",
            )

    def dag_patterns(self, dag_ids: Collection[str]) -> Iterable[Finding]:
        for spec in self.mapping.roles:
            for grant in spec.dags:
                yield from self._dag_grant(spec.name, grant, dag_ids)

    def _dag_grant(self, role: str, grant: DagGrant, dag_ids: Collection[str]) -> Iterable[Finding]:
        if grant.kind == "exact":
            if grant.pattern not in dag_ids:
                yield self.finding(
                    "info",
                    "dag_id_unknown",
                    grant.line,
                    f"role {role!r}: Airflow knows no DAG {grant.pattern!r} yet (its permission is created anyway)",
                    "check the DAG id's spelling",
                )
            return
        if _matches_every_id(grant.pattern, grant.kind):
            yield self.finding(
                "info",
                "dag_pattern_matches_all",
                grant.line,
                f"role {role!r}: DAG pattern {grant.pattern!r} matches every DAG id, "
                "but only DAGs known at sync time get the permission",
                "write 'all_dags: [...]' to grant access to every DAG, present and future",
            )
        elif not grant.expand(dag_ids):
            yield self.finding(
                "warning",
                "dag_pattern_matches_none",
                grant.line,
                f"role {role!r}: DAG pattern {grant.pattern!r} matches none of the {len(dag_ids)} DAGs Airflow knows",
                "check the pattern (DAG ids are case-sensitive); DAGs added later are picked up at the next sync",
            )


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
