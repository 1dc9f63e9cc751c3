"""Every ``okta-airflow`` command's ``--help`` is plain text: no reStructuredText from docstrings."""

from __future__ import annotations

import argparse
import re

import pytest

from okta_security.cli import build_parser, main

# What reStructuredText looks like when a docstring leaks into a terminal.
RST_MARKUP = [
    re.compile(r"``"),  # inline literal
    re.compile(r":(?:mod|func|class|meth|attr|data|exc|ref|doc|obj|envvar|option):`"),  # roles
    re.compile(r"^\s*(?:==+\s+)+==+\s*$", re.MULTILINE),  # simple-table borders
    re.compile(r"^\s*\.\. [a-z-]+::", re.MULTILINE),  # directives
    re.compile(r"`[^`\n]+`_"),  # hyperlink references
]


def subcommands() -> list[str]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return sorted(actions[0].choices)


def test_every_registered_module_adds_a_command() -> None:
    assert {"doctor", "sync-users", "check-mapping", "explain", "sync-roles", "migrate-usernames"} <= set(subcommands())


@pytest.mark.parametrize("argv", [[], *([name] for name in subcommands())], ids=lambda a: " ".join(a) or "top")
def test_help_is_plain_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: okta-airflow")
    found = [m.group(0) for pattern in RST_MARKUP for m in pattern.finditer(out)]
    assert not found, f"`okta-airflow {' '.join(argv)} --help` shows reStructuredText markup: {found}"


def test_help_still_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    """Plain text keeps the content: sync-users names each exit code."""
    with pytest.raises(SystemExit):
        main(["sync-users", "--help"])
    out = capsys.readouterr().out
    for line in ("0 ", "1 ", "2 ", "3 ", "4 "):
        assert re.search(rf"^\s*{line}", out, re.MULTILINE), line
    assert "--dry-run" in out
