"""``airflow okta <command>``: every okta-airflow command, parsed by Airflow's parser exactly as by ours."""

from __future__ import annotations

import argparse

import pytest
from airflow.cli.cli_parser import AirflowHelpFormatter, DefaultHelpParser, _add_command

from okta_security.cli import EXIT_USAGE, build_parser
from okta_security.cli.airflow_group import GROUP, exclusive_conflict, get_airflow_commands, run

IGNORED = {"func", "subcommand", "command"}  # how each parser records the chosen command


def airflow_parser() -> argparse.ArgumentParser:
    parser = DefaultHelpParser(prog="airflow", formatter_class=AirflowHelpFormatter)
    sub = parser.add_subparsers(dest="subcommand", metavar="GROUP_OR_COMMAND")
    for command in get_airflow_commands():
        _add_command(sub, command)
    return parser


def ours() -> dict[str, argparse.ArgumentParser]:
    return next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices


def parsed(namespace: argparse.Namespace) -> dict[str, object]:
    return {k: v for k, v in vars(namespace).items() if k not in IGNORED}


def test_every_okta_airflow_command_is_an_airflow_okta_command():
    [group] = get_airflow_commands()
    assert group.name == GROUP
    assert sorted(c.name for c in group.subcommands) == sorted(ours())
    for command in group.subcommands:
        options = {flag for arg in command.args for flag in arg.flags}
        expected = {f for a in ours()[command.name]._actions for f in a.option_strings or [a.dest]} - {"-h", "--help"}
        assert expected | {"-v", "--verbose"} == options, command.name


@pytest.mark.parametrize(
    "argv",
    [
        ["doctor"],
        ["doctor", "--json"],
        ["check-mapping", "m.yaml", "--no-db", "--json"],
        ["check-mapping", "--db-url", "sqlite://", "--require-db"],
        ["explain", "--groups", "a,b", "--group", "c", "--group", "d,e", "--groups-filter", "re:x.*"],
        ["sync-roles", "--dry-run"],
        ["sync-users", "--dry-run", "--max-deactivations", "5", "--strategy", "search", "--no-progress"],
        ["migrate-usernames", "--dry-run", "--no-okta", "--json"],
        ["init", "--force", "--dry-run"],
        ["relink", "alice", "--to-okta-user", "00u2", "--dry-run", "--json"],
        ["login", "--airflow-url", "http://a", "--print", "--no-browser", "--timeout", "3"],
    ],
)
def test_airflow_parses_like_okta_airflow(argv):
    mine = build_parser().parse_args(argv)
    theirs = airflow_parser().parse_args([GROUP, *argv])
    assert parsed(theirs) == parsed(mine)


def test_verbose_goes_after_the_command_in_airflow():
    assert build_parser().parse_args(["-v", "doctor"]).verbose is True
    assert airflow_parser().parse_args([GROUP, "doctor", "-v"]).verbose is True


def test_bad_choices_are_refused_by_airflows_parser(capsys):
    with pytest.raises(SystemExit):
        airflow_parser().parse_args([GROUP, "sync-users", "--strategy", "guess"])


def test_help_is_airflows_and_keeps_brackets_as_text(capsys):
    with pytest.raises(SystemExit):
        airflow_parser().parse_args([GROUP, "doctor", "--help"])
    out = capsys.readouterr().out
    assert "Usage: airflow okta doctor" in out  # rich-argparse's heading, not argparse's "usage:"
    assert "[core]" in out
    assert "\\[" not in out


def test_mutually_exclusive_options_are_still_refused(capsys):
    theirs = airflow_parser().parse_args([GROUP, "check-mapping", "--no-db", "--db-url", "sqlite://"])
    assert exclusive_conflict(ours()["check-mapping"], theirs) == (
        "argument --no-db: not allowed with argument --db-url"
    )
    with pytest.raises(SystemExit) as exit_:
        theirs.func(theirs)
    assert exit_.value.code == EXIT_USAGE
    assert "airflow okta: error: argument --no-db" in capsys.readouterr().err


def test_exit_codes_reach_the_shell(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("mappings:\n  a: [Admn\n")
    theirs = airflow_parser().parse_args([GROUP, "check-mapping", str(bad), "--no-db"])
    with pytest.raises(SystemExit) as exit_:
        run(ours()["check-mapping"], theirs)
    assert exit_.value.code == 1
    good = tmp_path / "good.yaml"
    good.write_text("default_role: null\nmappings:\n  airflow-viewers: [Viewer]\n")
    theirs = airflow_parser().parse_args([GROUP, "check-mapping", str(good), "--no-db"])
    assert run(ours()["check-mapping"], theirs) is None  # exit code 0: Airflow returns normally
