"""``okta-airflow doctor`` on the command line: JSON on stdout only, exit codes."""

from __future__ import annotations

import json

import pytest

from okta_security.cli import build_parser, main
from okta_security.cli import doctor as doctor_cli


@pytest.fixture
def no_airflow(monkeypatch):
    def facts():
        print("noise that Airflow prints while imported")
        return None, "ModuleNotFoundError: No module named 'airflow'"

    monkeypatch.setattr(doctor_cli, "_airflow_facts", facts)
    for name in list(__import__("os").environ):
        if name.startswith("OKTA_"):
            monkeypatch.delenv(name)


def test_json_report_is_the_only_thing_on_stdout_and_failure_exits_1(no_airflow, capsys):
    assert main(["doctor", "--json"]) == 1
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["ok"] is False
    assert report["airflow_version"] is None
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["settings"]["status"] == "fail"
    assert "OKTA_ISSUER is not set" in checks["settings"]["detail"]
    assert report["summary"]["fail"] >= 2
    assert "noise" in err


def test_text_report(no_airflow, capsys):
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("okta-airflow doctor (Airflow not importable, okta_security ")
    assert "✗ Settings (OKTA_* / [okta]): " in out
    assert "Summary: " in out


def test_doctor_is_a_registered_subcommand_with_documented_exit_codes(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["doctor", "--help"])
    assert "Exit codes: 0 no check failed" in capsys.readouterr().out
