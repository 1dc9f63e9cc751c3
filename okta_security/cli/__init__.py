"""``okta-airflow``: command-line tools for okta_security (also ``airflow okta <command>``).

Each subcommand lives in its own module exposing ``register(subparsers) -> None``, which adds
a parser whose ``func`` default is ``run(args) -> int``. Add a module to ``SUBCOMMANDS`` to
expose it: the same parser becomes Airflow's ``airflow okta`` group
(:mod:`okta_security.cli.airflow_group`). Exit codes: 0 success, 1 runtime failure, 2 usage
error; a subcommand may document others (e.g. check-mapping: 3 = warnings only).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import logging
import sys
from typing import TYPE_CHECKING, Any

from okta_security import __version__
from okta_security.errors import OktaSecurityError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from okta_security.settings.loader import ConfigValue

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

# Modules under okta_security.cli, one per subcommand (or small family of subcommands).
SUBCOMMANDS: tuple[str, ...] = ("doctor", "sync_users", "mapping", "migrate_usernames", "init", "relink", "login")


class UsageError(OktaSecurityError):
    """The command line itself is wrong (exit code 2)."""

    code = "usage_error"


@functools.cache
def airflow_options() -> Mapping[str, ConfigValue]:
    """Return the ``[okta]`` options Airflow's configuration sets here; nothing where Airflow is not installed.

    Commands read settings as the webserver does: ``OKTA_*`` first, then Airflow's configuration.
    """
    if importlib.util.find_spec("airflow") is None:
        return {}
    from okta_security.adapter.airflow_config import okta_options

    return okta_options()


def setting(name: str, *, announce: bool = True) -> str:
    """Return one setting as the server reads it (``OKTA_X``, ``OKTA_X_FILE``, Airflow's ``[okta] x``, its default).

    With ``announce``, say on stderr which form was used (a secret's value is never shown), so a
    person sees whether the CLI read the same place as the server.
    """
    from okta_security.settings.loader import setting_source
    from okta_security.settings.specs import SPECS

    text, origin = setting_source(name, airflow=airflow_options())
    if announce and origin and origin != "default":
        shown = "(secret)" if SPECS[name].secret else repr(text)
        print(f"okta-airflow: {name} = {shown} (from {origin})", file=sys.stderr)
    return text


def add_command(
    subparsers: Any, name: str, help: str, description: str, *, epilog: str = "", dry_run: str = "", json: str = ""
) -> argparse.ArgumentParser:
    """Add subcommand ``name``; ``dry_run`` and ``json``, when given, are the help of those switches."""
    parser = subparsers.add_parser(
        name, help=help, description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for flag, text in (("--dry-run", dry_run), ("--json", json)):
        if text:
            parser.add_argument(flag, action="store_true", help=text)
    return parser


JSON_REPORT = "print a machine-readable report on stdout"  # the --json of commands that change something


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="okta-airflow", description="Okta identity for Apache Airflow.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    parser.add_argument("--version", action="version", version=f"okta-airflow {__version__} (okta_security)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"okta_security.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``okta-airflow``; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return dispatch(args)


def dispatch(args: argparse.Namespace, *, prog: str = "okta-airflow") -> int:
    """Run the parsed command; report its errors on stderr; return the exit code."""
    from okta_security.cli.output import report_only_on_stdout

    try:
        with report_only_on_stdout():
            return int(args.func(args))
    except UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OktaSecurityError as e:
        print(f"{prog}: error [{e.code}]: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
