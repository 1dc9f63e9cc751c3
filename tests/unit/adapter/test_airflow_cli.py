"""Translating argparse commands into Airflow's CLI: every kind of option we use, and never a broken `airflow`."""

from __future__ import annotations

import argparse
import logging

import pytest
from airflow.cli.cli_parser import AirflowHelpFormatter, DefaultHelpParser, _add_command

from okta_security.adapter.airflow_cli import command_group


def sample_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tool", description="A tool.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command")
    one = sub.add_parser("one", help="the first [thing]")
    one.add_argument("user", metavar="USER", help="a required positional")
    one.add_argument("files", nargs="*", help="optional positionals")
    one.add_argument("--to", required=True, metavar="ID")
    one.add_argument("--tag", action="append", default=[])
    one.add_argument("--mode", choices=("a", "b"), default="a")
    one.add_argument("--no-color", action="store_false", dest="color")
    one.add_argument("--limit", type=int)
    one.set_defaults(func=lambda args: 0)
    bad = sub.add_parser("bad", help="uses an action Airflow's Arg cannot express")
    bad.add_argument("-q", action="count", default=0)
    bad.set_defaults(func=lambda args: 0)
    return parser


def airflow_parser(group) -> argparse.ArgumentParser:
    parser = DefaultHelpParser(prog="airflow", formatter_class=AirflowHelpFormatter)
    sub = parser.add_subparsers(dest="subcommand")
    _add_command(sub, group)
    return parser


def test_each_kind_of_option_parses_as_in_the_original(caplog):
    calls = []
    with caplog.at_level(logging.ERROR):
        group = command_group(sample_parser(), name="tool", help="h", run=lambda p, a: calls.append((p.prog, a)))
    assert [c.name for c in group.subcommands] == ["one"]  # "bad" is left out, and said so
    assert "`airflow okta bad` is left out" in caplog.text
    argv = ["one", "alice", "x", "y", "--to", "00u1", "--tag", "a", "--tag", "b", "--mode", "b", "--no-color"]
    theirs = airflow_parser(group).parse_args(["tool", *argv, "--limit", "3", "-v"])
    mine = sample_parser().parse_args(["-v", *argv, "--limit", "3"])
    assert {k: v for k, v in vars(theirs).items() if k not in ("func", "subcommand")} == {
        k: v for k, v in vars(mine).items() if k not in ("func", "command")
    }
    theirs.func(theirs)
    assert calls[0][0].endswith("one")


def test_required_options_and_positionals_stay_required(capsys):
    group = command_group(sample_parser(), name="tool", help="h", run=lambda p, a: None)
    with pytest.raises(SystemExit):
        airflow_parser(group).parse_args(["tool", "one", "alice"])  # --to missing
    with pytest.raises(SystemExit):
        airflow_parser(group).parse_args(["tool", "one", "--to", "x"])  # USER missing
