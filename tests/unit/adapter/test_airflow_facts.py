"""Facts about Airflow that need no Airflow: webserver_config.py loading, roles from a database."""

from __future__ import annotations

import sqlalchemy as sa

from okta_security.adapter.airflow_facts import (
    _check_auth_manager,
    _roles_in_database,
    inspect_webserver_config,
)
from okta_security.airflow_layout import FAB_AUTH_MANAGER, mentions_okta_security


def test_missing_webserver_config_is_a_fact_not_an_error(tmp_path):
    facts = inspect_webserver_config(str(tmp_path / "webserver_config.py"))
    assert (facts.exists, facts.loaded, facts.ours) == (False, False, None)


def test_webserver_config_that_raises_is_reported_with_its_error(tmp_path):
    path = tmp_path / "webserver_config.py"
    path.write_text("from okta_security.errors import ConfigError\nraise ConfigError(['OKTA_ISSUER is not set'])\n")
    facts = inspect_webserver_config(str(path))
    assert (facts.exists, facts.loaded, facts.ours) == (True, False, True)
    assert "invalid_config" in facts.detail
    path.write_text("AUTH_TYPE = undefined_name\n")
    facts = inspect_webserver_config(str(path))
    assert (facts.loaded, facts.ours) == (False, False)
    assert "NameError" in facts.detail


def test_webserver_config_without_a_security_manager_is_not_ours(tmp_path):
    path = tmp_path / "webserver_config.py"
    path.write_text("AUTH_TYPE = 1\n")
    facts = inspect_webserver_config(str(path))
    assert (facts.loaded, facts.ours) == (True, False)
    assert facts.detail == "it does not set SECURITY_MANAGER_CLASS"


def test_syntax_error_cannot_tell_whose_it_is(tmp_path):
    path = tmp_path / "webserver_config.py"
    path.write_text("def (:\n")
    facts = inspect_webserver_config(str(path))
    assert (facts.loaded, facts.ours) == (False, None)
    assert "SyntaxError" in facts.detail


def testmentions_okta_security():
    assert mentions_okta_security("from okta_security.adapter.security_manager import OktaSecurityManager\n")
    assert mentions_okta_security("import okta_security.webserver\n")
    assert not mentions_okta_security("from flask_appbuilder.const import AUTH_DB\n")
    assert mentions_okta_security("x = (") is None


def test_roles_come_from_ab_role(tmp_path):
    url = f"sqlite:///{tmp_path / 'airflow.db'}"
    assert _roles_in_database(url)[0] is None
    assert "no such table: ab_role" in _roles_in_database(url)[1]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE ab_role (id INTEGER PRIMARY KEY, name VARCHAR(64))"))
        conn.execute(sa.text("INSERT INTO ab_role (name) VALUES ('Admin'), ('DataEngineers')"))
        conn.execute(sa.text("CREATE TABLE dag (dag_id VARCHAR(250) PRIMARY KEY)"))  # Airflow's, read with it
    engine.dispose()
    assert _roles_in_database(url) == (frozenset({"Admin", "DataEngineers"}), "")
    assert _roles_in_database("")[1] == "[database] sql_alchemy_conn is not set"


def test_database_errors_never_show_the_password():
    roles, error = _roles_in_database("postgresql+psycopg2://airflow:hunter2@127.0.0.1:1/airflow")
    assert roles is None
    assert "hunter2" not in error


def test_auth_manager_check():
    assert _check_auth_manager(FAB_AUTH_MANAGER) == (True, "FabAuthManager")
    ok, detail = _check_auth_manager("no_such_module.Manager")
    assert ok is None
    assert "cannot import 'no_such_module.Manager'" in detail


def test_a_webserver_config_that_stops_the_server_is_reported_not_obeyed(tmp_path):
    """okta_security's start-up check exits a server with wrong settings; doctor must report it and go on."""
    from okta_security.adapter.airflow_facts import inspect_webserver_config

    path = tmp_path / "webserver_config.py"
    path.write_text("import okta_security.webserver\nraise SystemExit(1)\n")
    facts = inspect_webserver_config(str(path))
    assert facts.exists
    assert "stops the server (exit 1)" in facts.detail
