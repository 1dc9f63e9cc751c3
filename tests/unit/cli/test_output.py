"""stdout carries a command's report and nothing else, whoever else holds stdout."""

from __future__ import annotations

import json
import subprocess
import sys

from okta_security.cli import main

# Airflow configures its logging on import and keeps the stdout it saw then (a handler, a
# structlog logger); a command that logs while it runs must not corrupt its --json report.
NOISY_COMMAND = """
import logging, os, sys
held = logging.StreamHandler(sys.stdout)
log = logging.getLogger("airflow-like")
log.addHandler(held)
log.setLevel(logging.INFO)
from okta_security.cli.output import emit, report_only_on_stdout
print("before")
with report_only_on_stdout():
    log.info("a log line through a handler that kept stdout")
    print("a stray print")
    sys.__stdout__.write("a write to the original stdout object\\n")
    os.write(1, b"a write to descriptor 1\\n")
    emit('{"ok": true}')
    log.info("another log line")
print("after")
"""


def test_only_the_report_reaches_stdout() -> None:
    done = subprocess.run([sys.executable, "-c", NOISY_COMMAND], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == 'before\n{"ok": true}\nafter\n'
    for noise in (
        "a log line through a handler that kept stdout",
        "a stray print",
        "a write to the original stdout object",
        "a write to descriptor 1",
        "another log line",
    ):
        assert noise in done.stderr


def test_a_real_command_report_parses_when_airflow_is_not_involved(tmp_path, capsys) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("mappings:\n  airflow-admins: [Admin]\n")
    code = main(["check-mapping", str(mapping), "--no-db", "--json"])
    out, _err = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["ok"] is True
