"""``okta-airflow check-mapping``, ``explain`` and ``sync-roles``: the mapping file as a policy.

- ``check-mapping [FILE]`` validates exactly as the webserver does (same ``parse_mapping``, role
  names checked against Airflow's database when it can be reached) and lints the result.
  Exit codes: 0 clean (notes allowed), 1 errors, 3 warnings only, 2 usage error.
- ``explain --groups "a,b,c" [--agent CLIENT_ID] [FILE]`` validates the file as check-mapping does
  (a file the webserver would reject explains nothing), then shows which rules match which groups,
  the resulting roles, or why the login would be refused; with ``--agent``, also what that AI agent
  may use for the person (``agents:``). Exit 0 (the explanation is the result), 1 if the file is invalid.
- ``sync-roles [FILE] [--dry-run]`` creates/updates the file's declared roles in Airflow's
  database now, re-expanding DAG globs against the DAGs Airflow knows. Exit 0 or 1.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from okta_security.cli import EXIT_FAILURE, EXIT_OK, UsageError, add_command, setting
from okta_security.cli.output import emit
from okta_security.errors import AgentNoCommonRole, AgentNotMapped, MappingError, RoleSyncError
from okta_security.mapping.lint import Finding, findings_from_error, lint
from okta_security.mapping.patterns import GroupFilter
from okta_security.mapping.roles import BUILTIN_ROLES
from okta_security.mapping.rules import RoleMapping, parse_mapping
from okta_security.settings.loader import env_value

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Mapping


EXIT_WARNINGS = 3
GROUPS_FILTER_ENV = "OKTA_GROUPS_FILTER"


CHECK_MAPPING = (  # help, description, epilog
    "validate and lint a role-mapping file (as the webserver would load it)",
    "Validate the role-mapping file exactly as the webserver does, then lint it for over-broad grants "
    "(patterns granting Admin/Op, rules matching Okta's Everyone group), shadowed and unreachable rules, "
    "and declared roles. Role names are checked against Airflow's database when it can be reached.",
    "Exit codes: 0 clean (notes allowed), 1 errors, 3 warnings only, 2 usage error.",
)

EXPLAIN = (  # help, description, epilog
    "show which rules match a user's Okta groups, and the resulting roles",
    "Validate the role-mapping file as the webserver does (role names checked against Airflow's "
    "database when it can be reached), then show which mapping rules match which Okta groups, the resulting "
    "Airflow roles, or why the login would be refused; with --agent, the roles that AI agent may use for "
    "the person ('agents:'). An invalid file is reported, not explained.",
    "Exit codes: 0 explained (whether or not the login would succeed), 1 invalid file, 2 usage error.",
)

SYNC_ROLES = (  # help, description, epilog
    "create/update the file's declared roles in Airflow now (re-expands DAG globs)",
    "Create or update the roles declared in the file's 'roles:' section in Airflow's database, "
    "expanding DAG patterns against the DAGs Airflow knows now. Never touches built-in roles or roles the "
    "file does not declare. Uses Airflow's configured database (run it where Airflow's config is).",
    "Exit codes: 0 synced (or nothing to do), 1 failure, 2 usage error.",
)


def register(subparsers: Any) -> None:
    """Add ``check-mapping``, ``explain`` and ``sync-roles``."""
    check = _command(subparsers, "check-mapping", run_check, CHECK_MAPPING, json="print a JSON report (for CI)")
    check.add_argument("--require-db", action="store_true", help="fail (exit 1) if Airflow's database can't be read")
    explain = _command(subparsers, "explain", run_explain, EXPLAIN, json="print JSON")
    explain.add_argument("--groups", default="", help='comma-separated Okta group names, e.g. "a,b,c"')
    explain.add_argument(
        "--group", action="append", default=[], metavar="NAME", help="one group name (repeatable; may contain commas)"
    )
    explain.add_argument(
        "--groups-filter",
        default=None,
        metavar="SPEC",
        help=f"apply this OKTA_GROUPS_FILTER first (default: ${GROUPS_FILTER_ENV}, as the webserver does)",
    )
    explain.add_argument(
        "--agent",
        default=None,
        metavar="CLIENT_ID",
        help="an AI agent's Okta client ID: what it may use for the person",
    )
    _command(
        subparsers,
        "sync-roles",
        run_sync,
        SYNC_ROLES,
        dry_run="show what would change; write nothing",
        json="print JSON",
        database=False,
    )


def _command(
    subparsers: Any,
    name: str,
    func: Callable[[argparse.Namespace], int],
    texts: tuple[str, str, str],
    *,
    database: bool = True,
    **switches: str,
) -> argparse.ArgumentParser:
    """Add a command that reads the mapping file (argument ``FILE``) and, with ``database``, Airflow's role names."""
    help, description, epilog = texts
    parser = add_command(subparsers, name, help, description, epilog=epilog, **switches)
    parser.add_argument(
        "file",
        nargs="?",
        default=None,
        help="mapping file (default: $OKTA_ROLE_MAPPING_FILE, else $AIRFLOW_HOME/okta_role_mapping.yaml)",
    )
    if database:
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--db-url",
            default=None,
            metavar="URL",
            help="SQLAlchemy URL of Airflow's database (default: Airflow's configuration)",
        )
        group.add_argument(
            "--no-db", action="store_true", help="do not read Airflow's database (role names are not checked)"
        )
    parser.set_defaults(func=func)
    return parser


def mapping_path(arg: str | None, environ: Mapping[str, str] | None = None) -> str:
    """Return the file to check: the argument, else the one the webserver reads (``OKTA_ROLE_MAPPING_FILE``)."""
    if arg:
        return arg
    if environ is None:
        return setting("OKTA_ROLE_MAPPING_FILE")  # the server's forms; says which one on stderr
    return env_value("OKTA_ROLE_MAPPING_FILE", environ)


def _read(path: str) -> bytes:
    """Return the file's bytes; raise MappingError (exit 1) naming the file if it can't be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as e:
        raise MappingError(
            [
                f"{path}:1: cannot read the role-mapping file ({e.strerror or e})"
                " — check the path, or pass the file to check"
            ],
            source=path,
        ) from e


# --------------------------------------------------------------------------- check-mapping


@dataclass(frozen=True)
class DatabaseView:
    """What check-mapping could learn from Airflow's database."""

    roles: frozenset[str] | None
    dag_ids: frozenset[str] | None
    note: str  # how the database was (or was not) consulted


def read_database(args: argparse.Namespace) -> DatabaseView:
    """Read role names and DAG ids, or say why not (never raise)."""
    if args.no_db:
        return DatabaseView(None, None, "role names NOT checked against Airflow's database (--no-db)")
    url = args.db_url
    where = "--db-url"
    if not url:
        try:
            from okta_security.adapter.role_sync import airflow_database_url

            url = airflow_database_url()
            where = "Airflow's [database] sql_alchemy_conn"
        except ImportError:
            return DatabaseView(None, None, "role names NOT checked: Airflow is not installed here (pass --db-url URL)")
        except Exception as e:  # a broken airflow.cfg must not crash the check
            return DatabaseView(
                None, None, f"role names NOT checked: cannot read Airflow's configuration ({type(e).__name__}: {e})"
            )
        if not url:
            return DatabaseView(None, None, "role names NOT checked: [database] sql_alchemy_conn is not set")
    from okta_security.adapter.role_sync import read_catalog

    try:
        catalog = read_catalog(url)
    except RoleSyncError as e:
        return DatabaseView(None, None, f"role names NOT checked: {'; '.join(e.problems)} (database from {where})")
    return DatabaseView(
        catalog.roles,
        catalog.dag_ids,
        f"role names checked against Airflow's database "
        f"({len(catalog.roles)} roles, {len(catalog.dag_ids)} DAGs; from {where})",
    )


def check(raw: bytes, source: str, database: DatabaseView) -> tuple[list[Finding], RoleMapping | None]:
    """Validate as the webserver does (built-in + database roles known), then lint; return findings."""
    known = None if database.roles is None else database.roles | set(BUILTIN_ROLES)
    try:
        mapping = parse_mapping(raw, source=source, known_roles=known)
    except MappingError as e:
        errors = findings_from_error(e)
        if known is None:
            return errors, None
        try:  # only role names are wrong? Still lint the rest.
            mapping = parse_mapping(raw, source=source)
        except MappingError:
            return errors, None
        return sorted([*errors, *lint(mapping, dag_ids=database.dag_ids)], key=lambda f: f.line), mapping
    return lint(mapping, dag_ids=database.dag_ids), mapping


def exit_code_for(findings: list[Finding]) -> int:
    """Return 1 if any error, 3 if any warning, else 0."""
    severities = {f.severity for f in findings}
    if "error" in severities:
        return EXIT_FAILURE
    if "warning" in severities:
        return EXIT_WARNINGS
    return EXIT_OK


def _checked(args: argparse.Namespace) -> tuple[str, DatabaseView, list[Finding], RoleMapping | None]:
    """Check the file as the webserver would load it: its path, the database read, findings, the mapping if valid."""
    path = mapping_path(args.file)
    database = read_database(args)
    try:
        findings, mapping = check(_read(path), path, database)
    except MappingError as e:
        findings, mapping = findings_from_error(e), None
    return path, database, findings, mapping


def run_check(args: argparse.Namespace) -> int:
    """Run check-mapping."""
    path, database, findings, mapping = _checked(args)
    if args.require_db and database.roles is None:
        findings.append(
            Finding(
                "error", "database_unreachable", 1, database.note, "fix the database URL or drop --require-db", path
            )
        )
    code = exit_code_for(findings)
    counts = {severity: sum(1 for f in findings if f.severity == severity) for severity in ("error", "warning", "info")}
    if args.json:
        report = {
            "file": path,
            "ok": code == EXIT_OK,
            "exit_code": code,
            "version": mapping.digest[:12] if mapping else None,
            "database": {
                "checked": database.roles is not None,
                "note": database.note,
                "roles": len(database.roles) if database.roles is not None else None,
                "dags": len(database.dag_ids) if database.dag_ids is not None else None,
            },
            "summary": counts,
            "findings": [f.as_dict() for f in findings],
        }
        emit(json.dumps(report, indent=2))
        return code
    for finding in findings:
        emit(finding.text())
    verdict = {EXIT_OK: "OK", EXIT_FAILURE: "INVALID", EXIT_WARNINGS: "valid, with warnings"}[code]
    emit(
        f"{path}: {verdict} — {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s); "
        f"{database.note}"
    )
    return code


# --------------------------------------------------------------------------- explain


def parse_groups(groups: str, extra: list[str]) -> list[str]:
    """Return the group names from ``--groups "a,b"`` and repeated ``--group``, trimmed, first occurrence kept."""
    names = [name.strip() for name in groups.split(",")] + [name.strip() for name in extra]
    return list(dict.fromkeys(name for name in names if name))


def explain(
    mapping: RoleMapping, groups: list[str], *, groups_filter: str = "", agent: str | None = None
) -> dict[str, Any]:
    """Return the explanation as data: matches per group, roles, refusal, and the agent's roles if asked."""
    try:
        allowed = GroupFilter.parse(groups_filter)
    except ValueError as e:
        raise UsageError(f"--groups-filter: {e}") from e
    considered = list(allowed.apply(groups))
    filtered_out = [g for g in groups if g not in considered]
    pairs = mapping.explain(considered)
    matched_groups = {group for group, _rule in pairs}
    roles = sorted(mapping.resolve(considered))
    via_default = bool(roles) and not pairs
    declared = {spec.name: spec for spec in mapping.roles}
    step_up = mapping.step_up
    return {
        "file": mapping.source,
        "version": mapping.digest[:12],
        "groups": groups,
        "groups_filter": allowed.describe(),
        "filtered_out": filtered_out,
        "matches": [
            {"group": group, "rule": rule.pattern, "kind": rule.kind, "line": rule.line, "roles": list(rule.roles)}
            for group, rule in pairs
        ],
        "unmatched_groups": [g for g in considered if g not in matched_groups],
        "roles": roles,
        "via_default_role": via_default,
        "declared_roles": {
            name: {
                "based_on": declared[name].based_on,
                "dags": {
                    grant.pattern: {r: sorted(a) for r, a in grant.actions.items()} for grant in declared[name].dags
                },
                "all_dags": sorted(declared[name].all_dags),
            }
            for name in roles
            if name in declared
        },
        "step_up_roles": sorted(set(roles) & step_up.roles) if step_up else [],
        "step_up_max_age_minutes": step_up.max_age_seconds // 60 if step_up else None,
        "refused": not roles,
        "refusal_code": "no_mapped_role" if not roles else None,
        **({"agent": explain_agent(mapping, agent, roles)} if agent is not None else {}),
    }


def explain_agent(mapping: RoleMapping, client_id: str, person_roles: list[str]) -> dict[str, Any]:
    """Return what an AI agent may use for a person with ``person_roles``: its patterns, the roles, or the refusal."""
    rule = mapping.agents.get(client_id)
    try:
        roles, refusal = sorted(mapping.agents.grant(client_id, person_roles)), None
    except (AgentNotMapped, AgentNoCommonRole) as e:
        roles, refusal = [], e
    return {
        "client_id": client_id,
        "name": rule.name if rule else None,
        "label": rule.label() if rule else repr(client_id),
        "line": rule.line if rule else None,
        "allowed": list(rule.roles) if rule else [],
        "roles": roles,
        "refused": refusal is not None,
        "refusal_code": refusal.code if refusal else None,
        "refusal_message": refusal.message if refusal else None,
    }


def render_explanation(data: dict[str, Any]) -> str:
    """Return the explanation as text."""
    lines = [f"Mapping {data['file']} (version {data['version']})"]
    lines.append(f"Groups ({len(data['groups'])}): {', '.join(data['groups']) or '(none)'}")
    if data["filtered_out"]:
        lines.append(f"Ignored by the groups filter ({data['groups_filter']}): {', '.join(data['filtered_out'])}")
    for match in data["matches"]:
        lines.append(
            f"  {match['group']}  <- line {match['line']}: {match['rule']!r} ({match['kind']}) "
            f"grants {', '.join(match['roles'])}"
        )
    if data["unmatched_groups"]:
        lines.append(f"  no rule matches: {', '.join(data['unmatched_groups'])}")
    if data["refused"]:
        lines.append(
            "Result: login REFUSED [no_mapped_role] — no group matches a rule and default_role is null; "
            "the user sees a refusal page and gets no session"
        )
    elif data["via_default_role"]:
        lines.append(f"Result: roles {', '.join(data['roles'])} (default_role: no group matches a rule)")
    else:
        lines.append(f"Result: roles {', '.join(data['roles'])}")
    if data["step_up_roles"]:
        others = [r for r in data["roles"] if r not in data["step_up_roles"]]
        lines.append(
            f"  step-up: {', '.join(data['step_up_roles'])} only with a multi-factor sign-in of at most "
            f"{data['step_up_max_age_minutes']} minutes ago; without one: "
            + (", ".join(others) if others else "refused [step_up_required], offered the step-up")
        )
    for name, spec in data["declared_roles"].items():
        dags = "; ".join(f"{pattern}: {actions}" for pattern, actions in spec["dags"].items()) or "none"
        extra = f", all DAGs: {', '.join(spec['all_dags'])}" if spec["all_dags"] else ""
        lines.append(f"  {name} is declared in the file: based on {spec['based_on'] or 'nothing'}; DAGs: {dags}{extra}")
    agent = data.get("agent")
    if agent is not None:
        lines.append(
            f"Agent {agent['label']}: not under 'agents:'"
            if agent["line"] is None
            else f"Agent {agent['label']}, line {agent['line']}, may use: {', '.join(agent['allowed'])}"
        )
        lines.append(
            f"Result for the agent: REFUSED [{agent['refusal_code']}] — {agent['refusal_message']}"
            if agent["refused"]
            else f"Result for the agent: roles {', '.join(agent['roles'])} (the person's roles it may use)"
        )
    return "\n".join(lines)


def run_explain(args: argparse.Namespace) -> int:
    """Run explain: validate exactly as check-mapping does, then explain a valid file."""
    groups = parse_groups(args.groups, args.group)
    spec = args.groups_filter if args.groups_filter is not None else setting(GROUPS_FILTER_ENV)
    path, database, findings, mapping = _checked(args)
    errors = [f for f in findings if f.severity == "error"]
    if errors or mapping is None:
        for finding in errors:
            print(finding.text(), file=sys.stderr)
        print(
            f"okta-airflow: error [invalid_mapping]: {path} is invalid ({len(errors)} error(s)); the webserver "
            "would refuse it and keep its last good version — nothing to explain",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    data = explain(mapping, groups, groups_filter=spec, agent=args.agent)
    data["database"] = {"checked": database.roles is not None, "note": database.note}
    emit(
        json.dumps(data, indent=2)
        if args.json
        else f"{render_explanation(data)}\n{database.note[:1].upper()}{database.note[1:]}"
    )
    return EXIT_OK


# --------------------------------------------------------------------------- sync-roles


def run_sync(args: argparse.Namespace) -> int:
    """Run sync-roles against Airflow's configured database."""
    path = mapping_path(args.file)
    raw = _read(path)
    from okta_security.adapter.role_sync import sync_roles_from_file  # imports Airflow: only for this command

    mapping, report = sync_roles_from_file(raw, path, dry_run=args.dry_run)
    if args.json:
        emit(
            json.dumps(
                {
                    "file": path,
                    "version": mapping.digest[:12],
                    "dry_run": args.dry_run,
                    "applied": report.applied,
                    "dags": report.dag_count,
                    "roles": [
                        {
                            "role": c.role,
                            "create": c.create,
                            "add": sorted(map(list, c.add)),
                            "remove": sorted(map(list, c.remove)),
                        }
                        for c in report.changes
                    ],
                },
                indent=2,
            )
        )
        return EXIT_OK
    if not mapping.roles:
        emit(f"{path}: no 'roles:' section; nothing to sync")
        return EXIT_OK
    for change in report.changes:
        state = "create" if change.create else ("update" if change.changed else "in sync")
        emit(f"{change.role}: {state}")
        for action, resource in sorted(change.add, key=lambda p: (p[1], p[0])):
            emit(f"  + {action} on {resource}")
        for action, resource in sorted(change.remove, key=lambda p: (p[1], p[0])):
            emit(f"  - {action} on {resource}")
    prefix = "dry run: " if args.dry_run else ""
    emit(f"{prefix}{report.summary()}")
    return EXIT_OK
