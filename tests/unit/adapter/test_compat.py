"""Airflow 2.11 / 3.x differences: where settings live, URL prefixes, FAB 4's session attribute."""

from __future__ import annotations

import pytest

from okta_security.adapter.compat import with_session_property
from okta_security.airflow_layout import AIRFLOW_2, AIRFLOW_3, layout_for


@pytest.mark.parametrize(
    ("version", "layout"),
    [
        ("2.11.2", AIRFLOW_2),
        ("2.10.5", AIRFLOW_2),
        ("3.0.0", AIRFLOW_3),
        ("3.3.2", AIRFLOW_3),
        ("3.4.0.dev0", AIRFLOW_3),
    ],
)
def test_layout_follows_the_major_version(version, layout):
    assert layout_for(version) is layout


@pytest.mark.parametrize(
    ("layout", "callback", "login", "config_file", "base_url", "proxy_fix", "server"),
    [
        (
            AIRFLOW_3,
            "/auth/oauth-authorized/okta",
            "/auth/login/",
            ("fab", "config_file"),
            ("api", "base_url"),
            ("fab", "enable_proxy_fix"),
            "airflow api-server",
        ),
        (
            AIRFLOW_2,
            "/oauth-authorized/okta",
            "/login/",
            ("webserver", "config_file"),
            ("webserver", "base_url"),
            ("webserver", "enable_proxy_fix"),
            "airflow webserver",
        ),
    ],
)
def test_layouts(layout, callback, login, config_file, base_url, proxy_fix, server):
    assert (layout.callback_path, layout.login_path) == (callback, login)
    assert (layout.config_file, layout.base_url, layout.enable_proxy_fix) == (config_file, base_url, proxy_fix)
    assert layout.server_command == server


def test_fab4_security_managers_get_a_session_property():
    class Fab4Manager:
        get_session = "the-session"

    assert with_session_property(Fab4Manager)().session == "the-session"


def test_fab5_session_property_is_left_alone():
    class Fab5Manager:
        @property
        def session(self):
            return "fab5"

    prop = Fab5Manager.__dict__["session"]
    assert with_session_property(Fab5Manager).__dict__["session"] is prop
