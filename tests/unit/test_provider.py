"""The provider info Airflow reads: valid against Airflow's own schema, cheap to import, generated from the declarations."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import jsonschema

from okta_security.provider import (
    AUTH_MANAGER,
    CLI_COMMANDS,
    DB_MANAGER,
    PACKAGE_NAME,
    airflow_config_section,
    get_provider_info,
)
from okta_security.settings.kinds import Flag, Number
from okta_security.settings.specs import AIRFLOW_SECTION, SETTINGS


def airflow_schema() -> dict:
    import airflow

    return json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())


def test_provider_info_is_valid_for_this_airflow():
    info = get_provider_info()
    jsonschema.validate(info, airflow_schema())
    assert info["package-name"] == PACKAGE_NAME == metadata.metadata("okta-security")["Name"]
    assert info["auth-managers"] == [AUTH_MANAGER]
    assert info["db-managers"] == [DB_MANAGER]
    assert info["cli"] == [CLI_COMMANDS]
    assert sorted(info["config"]["okta"]["options"]) == sorted(s.option for s in SETTINGS)


def test_the_entry_point_is_installed():
    [entry] = [e for e in metadata.entry_points(group="apache_airflow_provider") if e.value.startswith("okta_security")]
    assert entry.load() is get_provider_info


def test_provider_info_imports_neither_airflow_nor_flask():
    # Airflow calls it while its own configuration is being built: importing Airflow here could loop.
    code = (
        "import sys; from okta_security.provider import get_provider_info; get_provider_info(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'flask', 'sqlalchemy', 'fastapi')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_auth_manager_and_cli_paths_import():
    from airflow._shared.module_loading import import_string

    assert import_string(AUTH_MANAGER).__name__ == "OktaFabAuthManager"
    assert callable(import_string(CLI_COMMANDS))


def test_airflow_config_section_declares_every_setting_once():
    section = airflow_config_section()[AIRFLOW_SECTION]
    options = section["options"]
    assert list(options) == [s.option for s in SETTINGS]
    for spec in SETTINGS:
        option = options[spec.option]
        assert option["default"] == spec.default
        assert option["description"].startswith(spec.doc)
        assert spec.name in option["description"]
        assert spec.file_name in option["description"]
        assert option.get("sensitive", False) is spec.secret
        expected = "string"
        if isinstance(spec.kind, Number):
            expected = "integer" if spec.kind.integer else "float"
        if isinstance(spec.kind, Flag):
            expected = "boolean"
        assert option["type"] == expected
    assert options["clock_skew_seconds"]["type"] == "integer"
    assert options["http_timeout_seconds"]["type"] == "float"
    assert options["adopt_unlinked_accounts"]["type"] == "boolean"
    assert options["issuer"]["default"] is None  # required: Airflow has no default to show
