"""``okta-airflow doctor``: check settings, Okta, the mapping and Airflow's configuration where the webserver runs."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import requests

from okta_security import __version__
from okta_security.cli import UsageError, add_command, airflow_options
from okta_security.cli.output import report_stream
from okta_security.doctor.checks import default_checks, exit_code, render_text, run_checks, summary
from okta_security.doctor.live import check_live
from okta_security.doctor.report import DoctorContext
from okta_security.errors import ConfigError

if TYPE_CHECKING:
    import argparse

log = logging.getLogger(__name__)

HELP = "check the Okta and Airflow set-up (run it where the webserver runs)"
DESCRIPTION = """\
Check, where the Airflow webserver runs and with its environment, everything a first Okta login
depends on: the OKTA_* settings and Airflow's [okta] section (each with where it came from),
webserver_config.py where Airflow looks for it, [core] auth_manager, the role mapping and its
roles in Airflow's database, Okta's discovery document, issuer, signing keys, groups claim,
client credentials, redirect URIs and clock skew. Each check prints ✓ or ✗ and, when something
is wrong, how to fix it. Nothing is written anywhere."""
EPILOG = "Exit codes: 0 no check failed (warnings allowed), 1 at least one check failed, 2 usage error."


def register(subparsers: Any) -> None:
    """Add the ``doctor`` subcommand."""
    parser = add_command(subparsers, "doctor", HELP, DESCRIPTION, epilog=EPILOG, json="print a JSON report")
    parser.add_argument(
        "--live",
        action="store_true",
        help="also ask the running API server for its health (GET /auth/okta/health): mapping in force, "
        "last reload or rejection, JWKS age, Okta reachability",
    )
    parser.add_argument("--url", metavar="URL", default="", help="the API server's base URL (default: [api] base_url)")
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        default=None,
        help="file holding an Airflow API token of someone allowed to read Airflow's configuration (for --live)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run every check against this environment; print the report; return 0 or 1."""
    out = report_stream()  # Airflow (and webserver_config.py) may print while imported: that goes to stderr
    facts, airflow_error = _airflow_facts()
    with requests.Session() as http:
        http.headers["User-Agent"] = f"okta-airflow-doctor/{__version__}"
        ctx = DoctorContext(environ=None, airflow=facts, airflow_error=airflow_error, http=http)
        if facts is not None:  # Airflow's [okta] section counts only where Airflow runs
            try:
                ctx.airflow_options = airflow_options()
            except ConfigError as e:
                ctx.airflow_options_problems = list(e.problems)
        if args.live:
            ctx.live_url = args.url
            ctx.live_token = _read_token(args.token_file)
        results = run_checks(ctx, [*default_checks(), check_live] if args.live else None)
    if args.json:
        report = {
            "ok": exit_code(results) == 0,
            "airflow_version": facts.version if facts else None,
            "summary": summary(results),
            "checks": [r.as_dict() for r in results],
        }
        print(json.dumps(report, indent=2), file=out)
    else:
        airflow = f"Airflow {facts.version}" if facts else "Airflow not importable"
        header = f"okta-airflow doctor ({airflow}, okta_security {__version__})"
        print(render_text(results, header=header, ascii_only=not _can_print("✓✗", out)), file=out)
    return exit_code(results)


def _read_token(path: str | None) -> str:
    if path is None:
        return ""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as e:
        raise UsageError(f"--token-file {path}: cannot read: {e.strerror}") from e


def _airflow_facts() -> tuple[Any, str]:
    try:
        from okta_security.adapter.airflow_facts import gather

        return gather(), ""
    except ImportError as e:
        return None, f"{type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - e.g. a broken airflow.cfg; reported by the checks, not a crash
        log.debug("reading Airflow's configuration failed", exc_info=True)
        return None, f"{type(e).__name__}: {e}"


def _can_print(text: str, stream: Any) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True
