"""Settings from Airflow's [okta] section: the precedence rule, origins shown, secrets never."""

from __future__ import annotations

import pytest

from okta_security.errors import ConfigError
from okta_security.settings.loader import (
    ConfigValue,
    airflow_env_form,
    describe_settings,
    env_value,
    given_settings,
    load_settings,
)
from okta_security.settings.specs import SETTINGS, SPECS

ISSUER = "https://dev-123456.okta.com/oauth2/default"


def only_airflow(mapping_file: str) -> dict[str, ConfigValue]:
    return {
        "issuer": ConfigValue(ISSUER, "AIRFLOW__OKTA__ISSUER"),
        "client_id": ConfigValue("0oaclient", "airflow.cfg [okta] client_id"),
        "client_secret": ConfigValue("from-a-command\n", "AIRFLOW__OKTA__CLIENT_SECRET_CMD"),
        "role_mapping_file": ConfigValue(mapping_file, "AIRFLOW__OKTA__ROLE_MAPPING_FILE"),
    }


def problems(environ, airflow) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_settings(environ, airflow)
    return err.value.problems


def test_every_setting_has_an_airflow_option_named_after_its_variable():
    for spec in SETTINGS:
        assert spec.option == spec.name.removeprefix("OKTA_").lower()
        assert spec.airflow_env == "AIRFLOW__OKTA__" + spec.name.removeprefix("OKTA_")
    assert SPECS["OKTA_ROLE_MAPPING_FILE"].airflow_name == "[okta] role_mapping_file"


def test_airflow_configuration_alone_is_enough(mapping_file):
    s = load_settings({}, only_airflow(mapping_file))
    assert (s.issuer, s.client_id, s.role_mapping_file) == (ISSUER, "0oaclient", mapping_file)
    assert s.client_secret is not None
    assert s.client_secret.get() == "from-a-command"
    assert "from-a-command" not in repr(s)


def test_a_secret_from_a_command_is_read_again_through_its_reread(mapping_file):
    current = ["first"]
    airflow = {
        **only_airflow(mapping_file),
        "client_secret": ConfigValue("first", "AIRFLOW__OKTA__CLIENT_SECRET_SECRET", lambda: current[0]),
    }
    s = load_settings({}, airflow)
    assert s.client_secret is not None
    current[0] = "rotated\n"  # a command's output ends with a newline
    assert s.client_secret.get() == "rotated"


def test_the_okta_variable_comes_before_airflow_and_airflow_is_then_not_read(env, mapping_file):
    airflow = {
        "issuer": ConfigValue("https://other.okta.com/oauth2/default", "AIRFLOW__OKTA__ISSUER"),
        "client_secret": ConfigValue("another-secret", "AIRFLOW__OKTA__CLIENT_SECRET_CMD"),
    }
    s = load_settings(env, airflow)
    assert s.issuer == ISSUER
    assert s.client_secret is not None
    assert s.client_secret.get() == env["OKTA_CLIENT_SECRET"].strip()
    shown = describe_settings(env, airflow)
    assert shown["OKTA_ISSUER"] == ISSUER  # bare: OKTA_ISSUER itself
    assert shown["OKTA_CLIENT_SECRET"] == "set"


def test_the_okta_file_comes_before_airflow_and_the_okta_variable_before_the_file(env, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-the-file\n")
    airflow = {"client_secret": ConfigValue("from-airflow", "airflow.cfg [okta] client_secret")}
    with_file = {**env, "OKTA_CLIENT_SECRET_FILE": str(secret_file)}
    assert load_settings(with_file, airflow).client_secret.get() == env["OKTA_CLIENT_SECRET"].strip()
    del with_file["OKTA_CLIENT_SECRET"]
    assert load_settings(with_file, airflow).client_secret.get() == "from-the-file"
    assert describe_settings(with_file, airflow)["OKTA_CLIENT_SECRET"] == (
        f"set (from OKTA_CLIENT_SECRET_FILE={secret_file})"
    )
    secret_file.write_text("")  # an empty value counts as unset: the next place gives it
    assert load_settings(with_file, airflow).client_secret.get() == "from-airflow"


def test_an_empty_value_anywhere_counts_as_unset(env, mapping_file):
    airflow = {"clock_skew_seconds": ConfigValue("120", "AIRFLOW__OKTA__CLOCK_SKEW_SECONDS")}
    assert load_settings({**env, "OKTA_CLOCK_SKEW_SECONDS": ""}, airflow).clock_skew_seconds == 120
    assert load_settings(env, {"clock_skew_seconds": ConfigValue(" ", "x")}).clock_skew_seconds == 60


def test_airflow_values_are_validated_and_named_as_airflow_options(env):
    airflow = {
        "clock_skew_seconds": ConfigValue("lots", "airflow.cfg [okta] clock_skew_seconds"),
        "api_token": ConfigValue("00token", "AIRFLOW__OKTA__API_TOKEN"),
        "api_client_id": ConfigValue("0oasvc", "AIRFLOW__OKTA__API_CLIENT_ID"),
    }
    found = problems(env, airflow)
    assert found[0] == (
        "[okta] clock_skew_seconds='lots' (from airflow.cfg [okta] clock_skew_seconds) is not a whole number "
        "— set it to a value between 0 and 300"
    )
    assert "OKTA_API_TOKEN and OKTA_API_CLIENT_ID/OKTA_API_PRIVATE_KEY are both set" in found[1]


def test_a_missing_setting_names_every_place_it_can_go():
    found = problems({}, {})
    assert any(
        p.startswith("OKTA_ISSUER is not set")
        and p.endswith("(or set OKTA_ISSUER_FILE to a file, or [okta] issuer in Airflow's configuration)")
        for p in found
    )
    assert any("AIRFLOW__OKTA__CLIENT_SECRET_CMD" in p for p in found)


def test_an_empty_client_secret_from_airflow_is_named(env):
    del env["OKTA_CLIENT_SECRET"]
    assert problems(env, {"client_secret": ConfigValue("", "AIRFLOW__OKTA__CLIENT_SECRET")}) == [
        "OKTA_CLIENT_SECRET is empty — set the Okta app's client secret"
    ]


def test_describe_shows_where_each_value_came_from_and_never_a_secret(tmp_path, mapping_file):
    secret_file = tmp_path / "hook"
    secret_file.write_text("hook-secret-value")
    environ = {"OKTA_GROUPS_CLAIM": "okta_groups", "OKTA_EVENT_HOOK_SECRET_FILE": str(secret_file)}
    shown = describe_settings(environ, only_airflow(mapping_file))
    assert shown["OKTA_ISSUER"] == f"{ISSUER} (from AIRFLOW__OKTA__ISSUER)"
    assert shown["OKTA_CLIENT_ID"] == "0oaclient (from airflow.cfg [okta] client_id)"
    assert shown["OKTA_CLIENT_SECRET"] == "set (from AIRFLOW__OKTA__CLIENT_SECRET_CMD)"
    assert shown["OKTA_GROUPS_CLAIM"] == "okta_groups"
    assert shown["OKTA_EVENT_HOOK_SECRET"] == f"set (from OKTA_EVENT_HOOK_SECRET_FILE={secret_file})"
    assert shown["OKTA_CLOCK_SKEW_SECONDS"] == "'60' (default)"
    assert "from-a-command" not in str(shown)
    assert "hook-secret-value" not in str(shown)
    assert given_settings(environ, only_airflow(mapping_file)) == [
        "OKTA_ISSUER",
        "OKTA_CLIENT_ID",
        "OKTA_CLIENT_SECRET",
        "OKTA_ROLE_MAPPING_FILE",
        "OKTA_GROUPS_CLAIM",
        "OKTA_EVENT_HOOK_SECRET",
    ]
    unreadable = describe_settings({"OKTA_ISSUER_FILE": str(tmp_path / "missing")}, {})["OKTA_ISSUER"]
    assert unreadable.startswith(f"(unusable: OKTA_ISSUER_FILE={tmp_path / 'missing'}: cannot read")


def test_env_value_reads_airflow_after_the_okta_forms(mapping_file):
    airflow = only_airflow(mapping_file)
    assert env_value("OKTA_ROLE_MAPPING_FILE", {}, airflow) == mapping_file
    assert (
        env_value("OKTA_ROLE_MAPPING_FILE", {"OKTA_ROLE_MAPPING_FILE": "/elsewhere.yaml"}, airflow) == "/elsewhere.yaml"
    )
    with pytest.raises(ConfigError, match="OKTA_ROLE_MAPPING_FILE_FILE=/missing: cannot read"):
        env_value("OKTA_ROLE_MAPPING_FILE", {"OKTA_ROLE_MAPPING_FILE_FILE": "/missing"}, airflow)


@pytest.mark.parametrize(
    ("environ", "form"),
    [
        ({}, None),
        ({"AIRFLOW__OKTA__CLIENT_SECRET_SECRET": "okta/secret"}, "AIRFLOW__OKTA__CLIENT_SECRET_SECRET"),
        (
            {"AIRFLOW__OKTA__CLIENT_SECRET_CMD": "cat x", "AIRFLOW__OKTA__CLIENT_SECRET_SECRET": "p"},
            "AIRFLOW__OKTA__CLIENT_SECRET_CMD",
        ),
        ({"AIRFLOW__OKTA__CLIENT_SECRET": "", "AIRFLOW__OKTA__CLIENT_SECRET_CMD": "x"}, "AIRFLOW__OKTA__CLIENT_SECRET"),
    ],
)
def test_airflow_env_forms_follow_airflows_order(environ, form):
    assert airflow_env_form(SPECS["OKTA_CLIENT_SECRET"], environ) == form


def test_only_sensitive_options_have_command_and_secret_forms():
    assert airflow_env_form(SPECS["OKTA_ISSUER"], {"AIRFLOW__OKTA__ISSUER_CMD": "echo x"}) is None
