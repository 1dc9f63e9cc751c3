"""Assembling webserver_config.py: Airflow's [okta] options join the OKTA_* ones, and a conflict stops the start."""

from __future__ import annotations

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


def test_a_value_given_twice_differently_stops_the_start(monkeypatch, mapping):
    monkeypatch.setenv("AIRFLOW__OKTA__CLIENT_ID", "0oaairflow")
    environ = {
        **os.environ,
        "OKTA_ISSUER": "https://dev-1.okta.com/oauth2/default",
        "OKTA_CLIENT_ID": "0oaother",
        "OKTA_CLIENT_SECRET": "s",
        "OKTA_ROLE_MAPPING_FILE": mapping,
    }
    with pytest.raises(ConfigError) as err:
        build_webserver_config(environ)
    assert err.value.problems == [
        "OKTA_CLIENT_ID='0oaother' and [okta] client_id='0oaairflow' (from AIRFLOW__OKTA__CLIENT_ID) differ — "
        "give OKTA_CLIENT_ID in one place only: the OKTA_* environment or Airflow's configuration"
    ]
