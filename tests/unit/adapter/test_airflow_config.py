"""Reading [okta] from a real AirflowConfigParser: what counts as set, where it came from, _cmd and failures."""

from __future__ import annotations

import os

import pytest
from airflow.configuration import AirflowConfigParser

from okta_security.adapter import airflow_config
from okta_security.adapter.airflow_config import okta_options
from okta_security.errors import ConfigError

# What Airflow writes into the airflow.cfg it generates: every provider default, uncommented.
GENERATED = """
[okta]
client_secret =
role_mapping_file = $AIRFLOW_HOME/okta_role_mapping.yaml
token_auth_method = client_secret_basic
clock_skew_seconds = 60
groups_claim = groups
"""


def parser(text: str) -> AirflowConfigParser:
    config = AirflowConfigParser()
    config.read_string(text)
    return config


@pytest.fixture(autouse=True)
def no_airflow_okta_env(monkeypatch):
    for name in [n for n in os.environ if n.startswith("AIRFLOW__OKTA__")]:
        monkeypatch.delenv(name)


def test_the_generated_defaults_are_not_choices():
    assert okta_options({}, parser(GENERATED)) == {}


def test_values_changed_in_airflow_cfg_are_set_and_named():
    options = okta_options({}, parser(GENERATED.replace("= 60", "= 120") + "issuer = https://a.okta.com\n"))
    assert {k: (v.text, v.origin) for k, v in options.items()} == {
        "issuer": ("https://a.okta.com", "airflow.cfg [okta] issuer"),
        "clock_skew_seconds": ("120", "airflow.cfg [okta] clock_skew_seconds"),
    }


def test_airflow_environment_variables_win_over_the_file_as_in_airflow(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OKTA__GROUPS_CLAIM", "okta_groups")
    [(name, value)] = okta_options(dict(os.environ), parser(GENERATED)).items()
    assert (name, value.text, value.origin) == ("groups_claim", "okta_groups", "AIRFLOW__OKTA__GROUPS_CLAIM")


def test_a_sensitive_option_comes_from_a_command_and_is_read_again(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OKTA__CLIENT_SECRET_CMD", "echo from-command")
    options = okta_options(dict(os.environ), parser("[okta]\n"))
    secret = options["client_secret"]
    assert (secret.text.strip(), secret.origin) == ("from-command", "AIRFLOW__OKTA__CLIENT_SECRET_CMD")
    assert secret.reread is not None
    assert secret.reread() == "from-command"  # fresh: the value read at start, without the newline
    monkeypatch.setattr(airflow_config, "SECRET_REREAD_SECONDS", 0.0)
    monkeypatch.setenv("AIRFLOW__OKTA__CLIENT_SECRET_CMD", "echo rotated")
    assert secret.reread() == "rotated"
    monkeypatch.setenv(
        "AIRFLOW__OKTA__CLIENT_SECRET_CMD", "cat /nonexistent/x"
    )  # a failing command keeps the last value
    assert secret.reread() == "rotated"


def test_a_non_sensitive_option_never_runs_a_command(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OKTA__ISSUER_CMD", "echo https://evil.example.com")
    assert okta_options(dict(os.environ), parser("[okta]\n")) == {}


def test_a_command_in_the_file_hidden_by_the_generated_line_is_reported():
    with pytest.raises(ConfigError) as err:
        okta_options({}, parser(GENERATED + "client_secret_cmd = echo x\n"))
    assert err.value.problems == [
        "airflow.cfg sets [okta] client_secret_cmd, but its 'client_secret =' line comes first in Airflow's "
        "lookup and hides it — delete the 'client_secret =' line from airflow.cfg"
    ]
    options = okta_options({}, parser("[okta]\nclient_secret_cmd = echo from-file\n"))
    assert options["client_secret"].origin == "airflow.cfg [okta] client_secret_cmd"


def test_a_failing_or_empty_command_is_named_without_its_output(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OKTA__CLIENT_SECRET_CMD", "cat /nonexistent/okta-secret")
    with pytest.raises(ConfigError) as err:
        okta_options(dict(os.environ), parser("[okta]\n"))
    [problem] = err.value.problems
    assert problem == (
        "[okta] client_secret (from AIRFLOW__OKTA__CLIENT_SECRET_CMD) could not be read: AirflowConfigException "
        "(its text is not shown: it may hold the secret) — run the command by hand, as the user Airflow runs as, "
        "to see its error"
    )
    monkeypatch.setenv("AIRFLOW__OKTA__CLIENT_SECRET_CMD", "true")
    with pytest.raises(ConfigError, match="AIRFLOW__OKTA__CLIENT_SECRET_CMD gave no value for"):
        okta_options(dict(os.environ), parser("[okta]\n"))


# A command that prints the secret, then fails: Airflow's run_command quotes all it printed.
LEAKED = "s3cret-the-command-printed"


def leaky_command(tmp_path, *, fail: bool) -> str:
    script = tmp_path / "fetch-secret.sh"
    script.write_text(f"#!/bin/sh\ncat {tmp_path / 'secret.txt'}\n{'exit 3' if fail else 'exit 0'}\n")
    (tmp_path / "secret.txt").write_text(LEAKED + "\n")
    return f"sh {script}"  # the command's own text does not hold the secret: only its output does


def everything_said(caplog, *more: object) -> str:
    """Return every log line (with any traceback) and whatever else a failure produced, as one text."""
    lines = [f"{r.getMessage()} {r.exc_text or ''} {r.exc_info or ''}" for r in caplog.records]
    return "\n".join(lines + [repr(m) for m in more] + [str(m) for m in more])


def test_a_failing_command_never_puts_its_output_in_a_log_line_at_start_or_on_re_read(tmp_path, monkeypatch, caplog):
    caplog.set_level("DEBUG")
    monkeypatch.setenv("AIRFLOW__OKTA__CLIENT_SECRET_CMD", leaky_command(tmp_path, fail=True))
    with pytest.raises(ConfigError) as at_start:
        okta_options(dict(os.environ), parser("[okta]\n"))
    monkeypatch.setenv("AIRFLOW__OKTA__CLIENT_SECRET_CMD", "echo first-value")
    secret = okta_options(dict(os.environ), parser("[okta]\n"))["client_secret"]
    monkeypatch.setattr(airflow_config, "SECRET_REREAD_SECONDS", 0.0)
    monkeypatch.setenv("AIRFLOW__OKTA__CLIENT_SECRET_CMD", leaky_command(tmp_path, fail=True))
    assert secret.reread is not None
    assert secret.reread() == "first-value"
    said = everything_said(caplog, at_start.value, *at_start.value.problems)
    assert LEAKED not in said
    for line in [*at_start.value.problems, caplog.records[-1].getMessage()]:
        assert "[okta] client_secret" in line
        assert "AirflowConfigException" in line
        assert "run the command by hand" in line


def test_a_failing_secrets_backend_never_puts_its_error_text_in_a_log_line(monkeypatch, caplog):
    config = parser("[okta]\nclient_secret_secret = airflow/okta-client-secret\n")
    answers: list[object] = ["first-value", RuntimeError(f"the backend read {LEAKED!r} and choked")]

    def backend(path: str) -> str:
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    monkeypatch.setattr(config, "_get_config_value_from_secret_backend", backend)
    secret = okta_options({}, config)["client_secret"]
    monkeypatch.setattr(airflow_config, "SECRET_REREAD_SECONDS", 0.0)
    assert secret.reread is not None
    assert secret.reread() == "first-value"
    with pytest.raises(ConfigError) as at_start:
        okta_options({}, config)
    assert LEAKED not in everything_said(caplog, at_start.value, *at_start.value.problems)
    assert "RuntimeError" in at_start.value.problems[0]
    assert "[secrets] backend" in caplog.records[-1].getMessage()


def test_a_command_that_answers_nothing_on_re_read_keeps_the_last_value_and_says_so(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW__OKTA__CLIENT_SECRET_CMD", "echo first-value")
    secret = okta_options(dict(os.environ), parser("[okta]\n"))["client_secret"]
    monkeypatch.setattr(airflow_config, "SECRET_REREAD_SECONDS", 0.0)
    monkeypatch.setenv("AIRFLOW__OKTA__CLIENT_SECRET_CMD", "true")
    assert secret.reread is not None
    assert secret.reread() == "first-value"
    assert "AIRFLOW__OKTA__CLIENT_SECRET_CMD gave no value for [okta] client_secret" in caplog.text
