"""``okta-airflow relink``: pin an Airflow account to another Okta user, the explicit fix for ``okta_user_changed``.

The command's help (``DESCRIPTION``) says when to use it and what each exit code means.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from okta_security import audit
from okta_security.cli import EXIT_OK, JSON_REPORT, add_command, setting
from okta_security.cli.output import emit

if TYPE_CHECKING:
    import argparse

    from okta_security.login.account_plan import RelinkPlan

EXIT_PENDING = 3

# Plain text for --help (the module docstring is reStructuredText).
HELP = "link an Airflow account to another Okta user (after okta_user_changed)"
DESCRIPTION = """\
Link an Airflow account to another Okta user.

Every Airflow account that came from Okta is pinned to one Okta user (its id, 00u...). A sign-in
by any other Okta user with the same login is refused with okta_user_changed: Okta logins can be
reused or renamed, and the account's history, DAG ownership and roles belong to its person. When
the person is legitimately the same (re-created in Okta, moved to another Okta org), relink the
account to their new Okta user id; the refusal's log line and page name it. Relinking also lets a
sign-in take over an account that was never linked while OKTA_ADOPT_UNLINKED_ACCOUNTS=false.

The account keeps its id, history and roles; its roles are recomputed at the person's next
sign-in. The groups remembered for it are forgotten (they were the previous person's). A
deactivated account stays deactivated: if okta_security deactivated it (a leaver), the person's
next sign-in reactivates it; if an administrator did, reactivate it in Airflow. Sessions already
open on the account are not ended. Every relink is audited (user.relinked).

Exit codes: 0 done / already linked, 1 refused (no such account, a bot's service user, the Okta
user already has another account, a malformed id), 2 usage error, 3 change pending (--dry-run)."""


def register(subparsers: Any) -> None:
    """Add the ``relink`` subcommand."""
    parser = add_command(
        subparsers, "relink", HELP, DESCRIPTION, dry_run="say what would change; change nothing", json=JSON_REPORT
    )
    parser.add_argument("username", metavar="USER", help="the Airflow username of the account")
    parser.add_argument(
        "--to-okta-user", required=True, metavar="ID", help="the Okta user id (00u...) the account belongs to now"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan, print and (unless --dry-run) apply the relink."""
    from okta_security.adapter import audit_log as audit_airflow
    from okta_security.adapter.account_admin import relink
    from okta_security.adapter.account_changes import metadata_engine

    audit.configure(setting("OKTA_AUDIT_LOG_HANDLER"))
    audit_airflow.install()  # relinks are audited in Airflow's Audit Log too, not only the JSON log
    plan = relink(metadata_engine(), args.username, args.to_okta_user.strip(), dry_run=args.dry_run)
    _report(plan, dry_run=args.dry_run, as_json=args.json)
    return EXIT_PENDING if args.dry_run and plan.changes else EXIT_OK


def _report(plan: RelinkPlan, *, dry_run: bool, as_json: bool) -> None:
    if as_json:
        report = {
            "dry_run": dry_run,
            "user_id": plan.user_id,
            "username": plan.username,
            "before": plan.before,
            "after": plan.okta_sub,
            "changed": plan.changes and not dry_run,
            "active": plan.active,
        }
        emit(json.dumps(report, indent=2))
        return
    if not plan.changes:
        emit(f"Airflow account {plan.username!r} (id {plan.user_id}) is already linked to Okta user {plan.okta_sub}.")
        return
    before = f"Okta user {plan.before}" if plan.before else "no Okta user"
    verb = "Would link" if dry_run else "Linked"
    emit(f"{verb} Airflow account {plan.username!r} (id {plan.user_id}) to Okta user {plan.okta_sub} (was {before}).")
    emit("Its roles are recomputed from that person's Okta groups at their next sign-in.")
    if not plan.active:
        if plan.deactivated_by:
            emit(f"The account is deactivated (by {plan.deactivated_by}); that person's next sign-in reactivates it.")
        else:
            emit("The account was deactivated by an administrator; reactivate it in Airflow for the person to sign in.")
