"""Bad settings or a bad mapping stop the API server at start with every problem listed."""

from __future__ import annotations

import pytest

from okta_devstack.airflow import AirflowServer


def test_invalid_settings_stop_the_server_listing_every_problem(tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text("default_role: null\nmappings:\n  airflow-admins: [Admn]\n  airflow-admins: [Admin]\n")
    server = AirflowServer(
        tmp_path / "airflow",
        okta_env={
            "OKTA_ISSUER": "http://okta.example.com/oauth2/default",
            "OKTA_CLIENT_ID": "x",
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
        },
    )
    server.prepare()
    with pytest.raises(RuntimeError) as err:
        server.start(timeout=120)
    text = str(err.value)
    assert "exited with 1" in text  # stopped, not left running without sign-in
    assert text.count("okta_security could not start") == 1  # one message, every problem in it
    assert "Traceback" not in text  # nothing in front of it (the stack is logged at debug level only)
    assert "OKTA_CLIENT_SECRET is not set" in text
    assert "uses http:// for a non-loopback host" in text


def test_a_setting_assigned_in_webserver_config_stops_the_server(tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text("default_role: null\nmappings:\n  airflow-admins: [Admin]\n")
    server = AirflowServer(
        tmp_path / "airflow",
        okta_env={
            "OKTA_ISSUER": "http://127.0.0.1:1/oauth2/default",
            "OKTA_CLIENT_ID": "x",
            "OKTA_CLIENT_SECRET": "y",
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
        },
    )
    server.prepare()
    config = server.home / "webserver_config.py"
    config.write_text(config.read_text() + "\nOKTA_ROLE_SYNC_CHECK_SECONDS = 5\n")  # read from the environment only
    with pytest.raises(RuntimeError) as err:
        server.start(timeout=120)
    assert "OKTA_ROLE_SYNC_CHECK_SECONDS is set in webserver_config.py, where it is not read" in str(err.value)


def test_unknown_role_in_mapping_stops_the_server_with_file_and_line(tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text("default_role: null\nmappings:\n  airflow-admins: [Admin]\n  airflow-ops: [Opp]\n")
    server = AirflowServer(
        tmp_path / "airflow",
        okta_env={
            "OKTA_ISSUER": "http://127.0.0.1:1/oauth2/default",
            "OKTA_CLIENT_ID": "x",
            "OKTA_CLIENT_SECRET": "y",
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
        },
    )
    server.prepare()
    with pytest.raises(RuntimeError) as err:
        server.start(timeout=120)
    assert "map.yaml:4: unknown role 'Opp'" in str(err.value)
    assert "did you mean 'Op'" in str(err.value)
