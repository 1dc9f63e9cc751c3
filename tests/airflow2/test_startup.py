"""Airflow 2.11: a missing setting stops the webserver with one message, no traceback in front of it."""

from __future__ import annotations

import pytest

from okta_devstack.airflow import AirflowServer
from tests.airflow2.conftest import airflow2_bin


def test_a_missing_setting_stops_the_webserver_with_one_message(tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text("default_role: null\nmappings:\n  airflow-admins: [Admin]\n")
    server = AirflowServer(
        tmp_path / "airflow",
        bin_dir=airflow2_bin(),
        okta_env={"OKTA_ISSUER": "http://127.0.0.1:1/oauth2/default", "OKTA_ROLE_MAPPING_FILE": str(mapping)},
        # gunicorn starts a new worker each time one stops, so `airflow webserver` ends only when
        # its wait for the workers times out: 120 s by default (docs/troubleshooting.md).
        airflow_env={"AIRFLOW__WEBSERVER__WEB_SERVER_MASTER_TIMEOUT": "15"},
    )
    server.prepare()
    try:
        with pytest.raises(RuntimeError) as err:
            server.start(timeout=180)
    finally:
        server.stop()
    text = str(err.value)
    assert text.count("okta_security could not start") == 1, text
    assert "OKTA_CLIENT_ID is not set" in text
    assert "OKTA_CLIENT_SECRET is not set" in text
    assert "Traceback" not in text
