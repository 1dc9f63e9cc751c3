"""Loading the settings: required values, issuer rules, secrets and their files, client credentials."""

from __future__ import annotations

import os

import pytest

from okta_security.errors import ConfigError
from okta_security.settings.loader import (
    Secret,
    check_webserver_config,
    describe_settings,
    env_value,
    given_settings,
    load_settings,
)


def problems(environ) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_settings(environ)
    return err.value.problems


def test_valid_settings_have_the_declared_defaults(env):
    s = load_settings(env)
    assert s.issuer == env["OKTA_ISSUER"]
    assert s.discovery_url == "https://dev-123456.okta.com/oauth2/default/.well-known/openid-configuration"
    assert (s.token_auth_method, s.groups_claim, s.clock_skew_seconds, s.http_timeout_seconds) == (
        "client_secret_basic",
        "groups",
        60,
        10.0,
    )
    assert s.client_private_key is None
    assert s.event_hook_secret is None


def test_secret_never_shows_in_repr(env):
    s = load_settings(env)
    assert s.client_secret is not None
    assert s.client_secret.get() == "s3cr3t-value"
    assert "s3cr3t" not in repr(s)
    assert "s3cr3t" not in str(s.client_secret)
    assert repr(Secret(lambda: "x")) == "Secret('**********')"


def test_every_problem_reported_at_once(tmp_path):
    found = problems(
        {
            "OKTA_ISSUER": "http://okta.example.com/oauth2/default/",
            "OKTA_TOKEN_AUTH_METHOD": "client_secret_jwt",
            "OKTA_CLOCK_SKEW_SECONDS": "lots",
            "OKTA_ROLE_MAPPING_FILE": str(tmp_path / "missing.yaml"),
        }
    )
    text = "\n".join(found)
    for needle in (
        "OKTA_CLIENT_ID is not set",
        "OKTA_CLIENT_SECRET is not set",
        "uses http:// for a non-loopback host",
        "remove the trailing slash",
        "OKTA_TOKEN_AUTH_METHOD='client_secret_jwt' is not one of client_secret_basic, client_secret_post",
        "OKTA_CLOCK_SKEW_SECONDS='lots' is not a whole number — set it to a value between 0 and 300",
        f"OKTA_ROLE_MAPPING_FILE='{tmp_path / 'missing.yaml'}' does not exist — create it",
    ):
        assert needle in text
    assert len(found) == 7


@pytest.mark.parametrize(
    ("issuer", "ok"),
    [
        ("https://dev-1.okta.com", True),
        ("https://dev-1.okta.com/oauth2/default", True),
        ("http://127.0.0.1:9000/oauth2/default", True),
        ("http://localhost:9000/oauth2/default", True),
        ("http://[::1]:9000/oauth2/default", True),
        ("http://10.0.0.5/oauth2/default", False),
        ("http://dev-1.okta.com", False),
        ("dev-1.okta.com", False),
        ("https://dev-1.okta.com/oauth2/default/.well-known/openid-configuration", False),
        ("https://dev-1.okta.com/oauth2/v1/authorize", False),
        ("https://dev-1.okta.com?x=1", False),
    ],
)
def test_issuer_rules(env, issuer, ok):
    env["OKTA_ISSUER"] = issuer
    if ok:
        assert load_settings(env).issuer == issuer
    else:
        assert all(p.startswith(f"OKTA_ISSUER={issuer!r} ") for p in problems(env))


def test_the_bot_issuer_follows_the_issuer_rules(env):
    assert load_settings(env).access_token_issuer == env["OKTA_ISSUER"]
    assert load_settings({**env, "OKTA_BOT_ISSUER": "https://dev-1.okta.com/oauth2/bots"}).access_token_issuer == (
        "https://dev-1.okta.com/oauth2/bots"
    )
    [problem] = problems({**env, "OKTA_BOT_ISSUER": "https://dev-1.okta.com/oauth2/bots/"})
    assert problem.startswith("OKTA_BOT_ISSUER='https://dev-1.okta.com/oauth2/bots/' ends with '/'")


def test_secret_from_file_is_reread_when_it_changes(env, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("first-secret\n")
    del env["OKTA_CLIENT_SECRET"]
    env["OKTA_CLIENT_SECRET_FILE"] = str(secret_file)
    s = load_settings(env)
    assert s.client_secret is not None
    assert s.client_secret.get() == "first-secret"
    secret_file.write_text("second-secret-rotated\n")
    st = os.stat(secret_file)
    os.utime(secret_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert s.client_secret.get() == "second-secret-rotated"


def test_file_variable_errors_name_the_path(env, tmp_path):
    env["OKTA_CLIENT_ID_FILE"] = str(tmp_path / "nope")
    assert load_settings(env).client_id == env["OKTA_CLIENT_ID"]  # OKTA_CLIENT_ID comes first: the file is not read
    del env["OKTA_CLIENT_ID"]
    [problem] = problems(env)
    assert problem.startswith(f"OKTA_CLIENT_ID_FILE={tmp_path / 'nope'}: cannot read")


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_required_value_is_named(env, value):
    env["OKTA_CLIENT_ID"] = value
    [problem] = problems(env)
    assert problem.startswith("OKTA_CLIENT_ID is empty — ")


def test_an_empty_optional_value_takes_the_default(env):
    s = load_settings({**env, "OKTA_CLOCK_SKEW_SECONDS": "", "OKTA_GROUPS_CLAIM": " "})
    assert (s.clock_skew_seconds, s.groups_claim) == (60, "groups")


def test_an_empty_client_secret_is_named(env):
    env["OKTA_CLIENT_SECRET"] = ""
    assert problems(env) == ["OKTA_CLIENT_SECRET is empty — set the Okta app's client secret"]


def test_default_mapping_file_is_in_airflow_home(env, tmp_path):
    (tmp_path / "okta_role_mapping.yaml").write_text("mappings: {a: [Viewer]}\n")
    del env["OKTA_ROLE_MAPPING_FILE"]
    env["AIRFLOW_HOME"] = str(tmp_path)
    assert load_settings(env).role_mapping_file == str(tmp_path / "okta_role_mapping.yaml")
    env["AIRFLOW_HOME"] = str(tmp_path / "elsewhere")
    [problem] = problems(env)
    assert problem.startswith(
        f"OKTA_ROLE_MAPPING_FILE='{tmp_path / 'elsewhere' / 'okta_role_mapping.yaml'}' (the default) does not exist"
    )


def test_private_key_jwt_needs_a_key_not_a_secret(env, tmp_path, key):
    del env["OKTA_CLIENT_SECRET"]
    env["OKTA_TOKEN_AUTH_METHOD"] = "private_key_jwt"
    [problem] = problems(env)
    assert problem.startswith("OKTA_TOKEN_AUTH_METHOD=private_key_jwt needs OKTA_CLIENT_PRIVATE_KEY_FILE")
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(key.as_pem(private=True))
    env["OKTA_CLIENT_PRIVATE_KEY_FILE"] = str(key_file)
    s = load_settings(env)
    assert s.token_auth_method == "private_key_jwt"
    assert "PRIVATE KEY" not in repr(s)
    del env["OKTA_TOKEN_AUTH_METHOD"]
    assert load_settings(env).token_auth_method == "private_key_jwt"  # implied by the key
    key_file.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    assert problems(env) == [  # the key is named, its content never shown; no spurious "secret not set"
        f"OKTA_CLIENT_PRIVATE_KEY_FILE={key_file} cannot be used: it is neither a PEM-encoded RSA private key "
        "nor an RSA JWK — give the Okta app's private RSA key as PEM or JWK"
    ]


def test_env_value_reads_one_setting_like_the_loader(tmp_path):
    assert env_value("OKTA_GROUPS_FILTER", {}) == ""
    assert env_value("OKTA_AUDIT_LOG_HANDLER", {}) == "stdout"
    assert env_value("OKTA_ROLE_MAPPING_FILE", {"AIRFLOW_HOME": "/af"}) == "/af/okta_role_mapping.yaml"
    assert env_value("OKTA_ROLE_MAPPING_FILE", {"OKTA_ROLE_MAPPING_FILE": " /m.yaml "}) == "/m.yaml"
    path = tmp_path / "filter"
    path.write_text("airflow-\n")
    assert env_value("OKTA_GROUPS_FILTER", {"OKTA_GROUPS_FILTER_FILE": str(path)}) == "airflow-"
    assert env_value("OKTA_GROUPS_FILTER", {"OKTA_GROUPS_FILTER": "a", "OKTA_GROUPS_FILTER_FILE": str(path)}) == "a"
    with pytest.raises(ConfigError, match="OKTA_GROUPS_FILTER_FILE=/missing: cannot read"):
        env_value("OKTA_GROUPS_FILTER", {"OKTA_GROUPS_FILTER_FILE": "/missing"})
    with pytest.raises(KeyError):
        env_value("OKTA_NOT_A_SETTING", {})


def test_describe_settings_shows_secrets_only_as_set(env, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("hunter2-in-a-file")
    del env["OKTA_CLIENT_SECRET"]
    shown = describe_settings({**env, "OKTA_CLIENT_SECRET_FILE": str(secret_file), "OKTA_API_TOKEN": "00tok"})
    assert shown["OKTA_ISSUER"] == env["OKTA_ISSUER"]
    assert shown["OKTA_CLIENT_SECRET"] == f"set (from OKTA_CLIENT_SECRET_FILE={secret_file})"
    assert shown["OKTA_API_TOKEN"] == "set"
    assert shown["OKTA_TOKEN_AUTH_METHOD"] == "'client_secret_basic' (default)"
    assert shown["OKTA_EVENT_HOOK_SECRET"] == "(not set)"
    assert "hunter2" not in str(shown)
    assert "00tok" not in str(shown)
    assert given_settings({**env, "OKTA_CLIENT_SECRET_FILE": "/x"})[:4] == [
        "OKTA_ISSUER",
        "OKTA_CLIENT_ID",
        "OKTA_CLIENT_SECRET",
        "OKTA_ROLE_MAPPING_FILE",
    ]


def test_settings_in_webserver_config_are_refused_with_the_fix():
    check_webserver_config({"OKTA_SETTINGS": 1, "OKTA_ROLE_MAPPING_STORE": 2, "AUTH_TYPE": 4})
    with pytest.raises(ConfigError) as err:
        check_webserver_config({"OKTA_ROLE_SYNC_CHECK_SECONDS": 1, "OKTA_ISSUER": "x", "AUTH_TYPE": 4})
    assert err.value.problems == [
        f"{name} is set in webserver_config.py, where it is not read — set it as an environment variable "
        f"(or {name}_FILE) and remove it from webserver_config.py"
        for name in ("OKTA_ISSUER", "OKTA_ROLE_SYNC_CHECK_SECONDS")
    ]
