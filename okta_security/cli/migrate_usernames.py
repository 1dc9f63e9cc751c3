"""``okta-airflow migrate-usernames``: rename FAB's legacy ``okta_<sub>`` users to their Okta login.

The command's help (``DESCRIPTION``) says what a rename keeps and what each exit code means.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from okta_security import audit
from okta_security.cli import EXIT_FAILURE, EXIT_OK, JSON_REPORT, add_command, airflow_options, setting
from okta_security.cli.output import emit
from okta_security.lifecycle.okta_directory import OktaDirectory
from okta_security.lifecycle.usernames import PlannedRename, legacy_sub, plan_renames
from okta_security.okta_api.auth import build_groups_client
from okta_security.settings.loader import load_settings

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterable, Mapping

EXIT_PENDING = 3

# Plain text for --help (the module docstring is reStructuredText).
HELP = "rename legacy okta_<sub> users (FAB's built-in provider) to their Okta login"
DESCRIPTION = """\
Rename FAB's legacy okta_<sub> users to their Okta login.

FAB's built-in okta provider named every user okta_<Okta user id>; okta_security names them by
their Okta login (preferred_username, lower-cased). Renaming keeps the row, its id, roles and
history. The new name comes from Okta (Management API, when OKTA_API_TOKEN or the service app is
configured) or else from the account's stored email. A name already taken is reported as a
conflict and left alone.

Exit codes: 0 nothing to do / done, 1 failure or conflicts left, 2 usage error, 3 renames
pending (--dry-run)."""


def register(subparsers: Any) -> None:
    """Add the ``migrate-usernames`` subcommand."""
    parser = add_command(
        subparsers,
        "migrate-usernames",
        HELP,
        DESCRIPTION,
        dry_run="print the table of changes; change nothing",
        json=JSON_REPORT,
    )
    parser.add_argument("--no-okta", action="store_true", help="do not ask Okta; use each account's stored email")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan, print and (unless --dry-run) apply the renames."""
    from okta_security.adapter import audit_log as audit_airflow
    from okta_security.adapter.account_admin import apply_renames, read_accounts
    from okta_security.adapter.account_changes import metadata_engine

    engine = metadata_engine()
    audit.configure(setting("OKTA_AUDIT_LOG_HANDLER"))
    audit_airflow.install()  # renames are audited in Airflow's Audit Log too, not only the JSON log
    legacy, others = read_accounts(engine)
    subs = [s for s in (legacy_sub(r.username) for r in legacy) if s]
    logins = {} if args.no_okta or not subs else _okta_logins(subs)
    plan = plan_renames(legacy + others, logins)
    applied = [] if args.dry_run else apply_renames(engine, plan)
    _report(plan, applied, dry_run=args.dry_run, as_json=args.json)
    if any(p.status != "rename" for p in plan):
        return EXIT_FAILURE
    if args.dry_run and plan:
        return EXIT_PENDING
    return EXIT_OK


def _okta_logins(subs: Iterable[str]) -> Mapping[str, str]:
    """Return Okta user id -> login for the given ids, reading the user list page by page."""
    client = build_groups_client(load_settings(airflow=airflow_options()), batch=True)
    if client is None:
        print("okta-airflow: no Okta Management API access configured; using stored emails", file=sys.stderr)
        return {}
    wanted = set(subs)
    try:
        return {
            u["id"]: (u.get("profile") or {}).get("login", "")
            for u in OktaDirectory(client).users()
            if u.get("id") in wanted
        }
    finally:
        client.close()


def _report(plan: list[PlannedRename], applied: list[PlannedRename], *, dry_run: bool, as_json: bool) -> None:
    if as_json:
        emit(
            json.dumps(
                {
                    "dry_run": dry_run,
                    "changes": [
                        {
                            "user_id": p.user_id,
                            "old": p.old,
                            "new": p.new,
                            "status": p.status,
                            "source": p.source,
                            "reason": p.reason,
                        }
                        for p in plan
                    ],
                    "applied": len(applied),
                },
                indent=2,
            )
        )
        return
    if not plan:
        emit("No legacy okta_<sub> users: nothing to migrate.")
        return
    width = max(len(p.old) for p in plan)
    emit(f"{'user id':>7}  {'old username':<{width}}  new username (source) / status")
    for p in plan:
        what = f"{p.new} ({p.source})" if p.status == "rename" else f"{p.status.upper()}: {p.reason}"
        emit(f"{p.user_id:>7}  {p.old:<{width}}  {what}")
    verb = "would rename" if dry_run else "renamed"
    count = sum(p.status == "rename" for p in plan) if dry_run else len(applied)
    emit(f"\n{verb} {count} of {len(plan)} legacy account(s)")
