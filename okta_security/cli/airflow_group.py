"""``airflow okta <command>``: every okta-airflow command inside Airflow's CLI.

Airflow's providers manager imports :func:`get_airflow_commands` (named in the provider info's
``cli`` list) while it builds its parser; the commands, their options and their help are the
ones ``okta-airflow`` has, and the exit codes are the same. ``okta-airflow`` stays for machines
without Airflow's CLI.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from okta_security.adapter.airflow_cli import command_group
from okta_security.cli import EXIT_USAGE, build_parser, dispatch

if TYPE_CHECKING:
    import argparse

GROUP = "okta"
PROG = f"airflow {GROUP}"
HELP = "Okta sign-in (okta_security): doctor, check-mapping, explain, sync-users, sync-roles, ..."


def get_airflow_commands() -> list[Any]:
    """Return the ``airflow okta`` group for Airflow's CLI parser."""
    return [command_group(build_parser(), name=GROUP, help=HELP, run=run)]


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Run one command as Airflow parsed it; exit with its code (Airflow ignores return values)."""
    conflict = exclusive_conflict(parser, args)
    if conflict:
        print(f"{PROG}: error: {conflict}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    args.func = parser.get_default("func")
    code = dispatch(args, prog=PROG)
    if code:
        raise SystemExit(code)


def exclusive_conflict(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """Return argparse's complaint when two options of one mutually exclusive group are given, else ""."""
    for group in parser._mutually_exclusive_groups:
        given = [a for a in group._group_actions if getattr(args, a.dest, a.default) != a.default]
        if len(given) > 1:
            return f"argument {'/'.join(given[1].option_strings)}: not allowed with argument {'/'.join(given[0].option_strings)}"
    return ""
