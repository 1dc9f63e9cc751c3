"""Assembling webserver_config.py: Airflow's [okta] options join the OKTA_* ones, which come first."""

from __future__ import annotations

import logging
import os

import pytest

from okta_security import health
from okta_security.adapter import metrics
from okta_security.audit import unregister_sink
from okta_security.errors import ConfigError
from okta_security.okta_api import observe
from okta_security.webserver import build_webserver_config


@pytest.fixture(autouse=True)
def no_airflow_okta_env(monkeypatch):
    for name in [n for n in os.environ if n.startswith("AIRFLOW__OKTA__")]:
        monkeypatch.delenv(name)
    yield
    for name in (metrics.SINK_NAME, health.SINK_NAME):  # what a successful build installs, process-wide
        unregister_sink(name)
        observe.remove_observer(name)


@pytest.fixture
def mapping(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("default_role: null\nmappings:\n  a: [Viewer]\n")
    return str(path)


def test_settings_come_from_airflow_and_the_secret_from_a_command(monkeypatch, mapping):
    monkeypatch.setenv("AIRFLOW__OKTA__ISSUER", "https://dev-1.okta.com/oauth2/default")
    monkeypatch.setenv("AIRFLOW__OKTA__CLIENT_ID", "0oaairflow")
    monkeypatch.setenv("AIRFLOW__OKTA__CLIENT_SECRET_CMD", "echo from-command")
    config = build_webserver_config({**os.environ, "OKTA_ROLE_MAPPING_FILE": mapping})
    assert config.settings.client_id == "0oaairflow"
    assert config.settings.client_secret is not None
    assert config.settings.client_secret.get() == "from-command"
    remote = config.oauth_providers[0]["remote_app"]
    assert remote["client_id"] == "0oaairflow"
    assert callable(remote["compliance_fix"])  # authlib's token and userinfo calls are observed


def test_an_okta_variable_comes_before_airflow_s_option(monkeypatch, mapping):
    monkeypatch.setenv("AIRFLOW__OKTA__CLIENT_ID", "0oaairflow")
    monkeypatch.setenv("AIRFLOW__OKTA__CLOCK_SKEW_SECONDS", "lots")  # never read: OKTA_CLOCK_SKEW_SECONDS comes first
    environ = {
        **os.environ,
        "OKTA_ISSUER": "https://dev-1.okta.com/oauth2/default",
        "OKTA_CLIENT_ID": "0oaother",
        "OKTA_CLIENT_SECRET": "s",
        "OKTA_CLOCK_SKEW_SECONDS": "5",
        "OKTA_ROLE_MAPPING_FILE": mapping,
    }
    config = build_webserver_config(environ)
    assert (config.settings.client_id, config.settings.clock_skew_seconds) == ("0oaother", 5)
    with pytest.raises(ConfigError, match="clock_skew_seconds='lots'"):
        build_webserver_config(
            {**environ, "OKTA_CLOCK_SKEW_SECONDS": ""}, exit_on_error=False
        )  # empty: Airflow's value is next


def test_a_bad_setting_stops_the_process_with_one_message_and_no_traceback(mapping, caplog):
    """The server's start: the problems logged once, at error level; the stack only at debug level."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OKTA_", "AIRFLOW__OKTA__"))}
    environ["OKTA_ROLE_MAPPING_FILE"] = mapping
    caplog.set_level(logging.DEBUG, logger="okta_security.webserver")
    with pytest.raises(SystemExit) as stopped:
        build_webserver_config(environ)
    assert stopped.value.code == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    text = errors[0].getMessage()
    assert text.startswith("okta_security could not start")
    assert "OKTA_ISSUER is not set" in text
    assert "OKTA_CLIENT_ID is not set" in text
    assert errors[0].exc_info is None  # no traceback in front of the message
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert debug
    assert debug[0].stack_info
