from __future__ import annotations

from okta_security.cli import EXIT_USAGE, main


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == EXIT_USAGE
    assert "okta-airflow" in capsys.readouterr().err
