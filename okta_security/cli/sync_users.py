"""``okta-airflow sync-users``: bring Airflow accounts in line with Okta (leavers, movers, returners).

The command's help (``DESCRIPTION``) says how to run it and what each exit code means.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from okta_security import audit
from okta_security.cli import EXIT_FAILURE, EXIT_OK, JSON_REPORT, UsageError, add_command, setting
from okta_security.cli.output import report_stream
from okta_security.errors import TooManyDeactivations

if TYPE_CHECKING:
    import argparse

    from okta_security.lifecycle.changes import UserSyncReport

EXIT_CHANGED = 3
EXIT_GUARD = 4

# Plain text: argparse prints it as it is (no reStructuredText in a terminal).
HELP = "deactivate leavers, recompute roles and reactivate returners from Okta"
DESCRIPTION = """\
Bring Airflow accounts in line with Okta: deactivate leavers, recompute roles of movers from the
mapping file and reactivate returners.

Run it where airflow runs (same AIRFLOW_HOME and database settings) with the OKTA_* settings of
the webserver plus Management API credentials.

Exit codes:
  0  in sync: nothing to change
  1  failure: Okta unreadable, bad configuration, or a change failed (nothing is applied from a
     partial read; run it again when fixed)
  2  usage error
  3  changes applied (with --dry-run: changes pending)
  4  refused: the plan deactivates more accounts than allowed (--force overrides)"""


def register(subparsers: Any) -> None:
    """Add the ``sync-users`` subcommand."""
    parser = add_command(
        subparsers, "sync-users", HELP, DESCRIPTION, dry_run="print the plan; change nothing", json=JSON_REPORT
    )
    parser.add_argument("--force", action="store_true", help="apply even if many accounts would be deactivated")
    parser.add_argument(
        "--max-deactivations",
        type=int,
        metavar="N",
        help="refuse to apply a plan deactivating more than N accounts (default: 10%% of accounts, at least 10)",
    )
    parser.add_argument(
        "--strategy",
        choices=("auto", "list", "search"),
        default="auto",
        help="how to read statuses: list every Okta user, search by id in chunks, or auto (default)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress line even on a terminal")
    parser.set_defaults(func=run)


class Progress:
    """A one-line progress display on a terminal (stderr); silent otherwise."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self._width = 0

    def fetch(self, what: str, pages: int, objects: int) -> None:
        """Show paging progress."""
        self._show(f"{what}: page {pages}, {objects} objects")

    def apply(self, done: int, total: int) -> None:
        """Show a bar while changes are applied."""
        filled = int(30 * done / total) if total else 30
        self._show(f"applying [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")

    def done(self) -> None:
        """Clear the progress line."""
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def _show(self, text: str) -> None:
        if not self.enabled:
            return
        text = text[:100]
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = max(self._width, len(text))


def configure_audit_for_the_report() -> None:
    """Load Airflow and send audit JSON lines (stdout by default) to stderr: stdout carries the report."""
    from okta_security.adapter.user_sync_runner import load_airflow

    load_airflow()
    spec = setting("OKTA_AUDIT_LOG_HANDLER")
    audit.configure("stderr" if spec.lower() == "stdout" else spec)


def run(args: argparse.Namespace) -> int:
    """Run the sync; return the exit code."""
    if args.max_deactivations is not None and args.max_deactivations < 0:
        raise UsageError("--max-deactivations must be 0 or more")
    configure_audit_for_the_report()
    return _run(args, report_stream())


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from okta_security.adapter.user_sync_runner import run_from_env

    progress = Progress(sys.stderr, enabled=not args.no_progress)
    try:
        report = run_from_env(
            dry_run=args.dry_run,
            force=args.force,
            max_deactivations=args.max_deactivations,
            strategy=args.strategy,
            progress=progress.fetch,
            on_apply=progress.apply,
        )
    except TooManyDeactivations as e:
        progress.done()
        print(f"okta-airflow: refused [{e.code}]: {e}", file=sys.stderr)
        return EXIT_GUARD
    finally:
        progress.done()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2), file=out)
    else:
        print_plan(report, out)
    print_summary(report, sys.stderr if args.json else out)
    if report.failed:
        return EXIT_FAILURE
    return EXIT_CHANGED if report.plan.changes else EXIT_OK


def print_plan(report: UserSyncReport, out: TextIO) -> None:
    """Print one line per change (and per account left alone for a reason worth knowing)."""
    outcomes = {r.change.user_id: r for r in report.results}
    for entry in report.plan.entries:
        if entry.action == "unchanged":
            continue
        result = outcomes.get(entry.user_id)
        status = f" -> {result.outcome}" + (f" ({result.detail})" if result and result.detail else "") if result else ""
        roles = (
            f" roles {list(entry.roles_before)} -> {list(entry.roles_after)}"
            if entry.roles_before != entry.roles_after
            else ""
        )
        verb = "would " + entry.action if report.dry_run and entry.is_change else entry.action
        print(f"{verb:<20} {entry.username} (okta {entry.okta_status}, {entry.reason}){roles}{status}", file=out)


def print_summary(report: UserSyncReport, out: TextIO) -> None:
    """Print the counts of the run."""
    s = report.summary()
    head = "dry run, nothing changed" if report.dry_run else f"{s['applied']} change(s) applied"
    print(
        f"sync-users: {head}; {s['accounts']} Okta account(s): {s['deactivate']} to deactivate, "
        f"{s['reactivate']} to reactivate, {s['set_roles']} with new roles, {s['unchanged']} unchanged, "
        f"{s['skipped']} skipped; {s['conflicts']} conflict(s), {s['failed']} failed; "
        f"{s['unmanaged']} Airflow user(s) not from Okta left alone; {s['okta_calls']} Okta API call(s) "
        f"in {report.seconds:.1f} s",
        file=out,
    )
