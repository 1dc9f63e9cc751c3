from __future__ import annotations

import os

import pytest

from okta_security.errors import ConfigError
from okta_security.settings.loader import SETTINGS, Secret, load_settings


@pytest.fixture
def mapping_file(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("default_role: null\nmappings:\n  a: [Viewer]\n")
    return str(path)


@pytest.fixture
def env(mapping_file):
    return {
        "OKTA_ISSUER": "https://dev-123456.okta.com/oauth2/default",
        "OKTA_CLIENT_ID": "0oaclient",
        "OKTA_CLIENT_SECRET": "s3cr3t-value",
        "OKTA_ROLE_MAPPING_FILE": mapping_file,
    }


def test_valid_settings_have_documented_defaults(env):
    s = load_settings(env)
    assert s.issuer == env["OKTA_ISSUER"]
    assert s.discovery_url == "https://dev-123456.okta.com/oauth2/default/.well-known/openid-configuration"
    assert s.token_auth_method == "client_secret_basic"
    assert s.groups_claim == "groups"
    assert s.clock_skew_seconds == 60
    assert s.http_timeout_seconds == 10.0
    defaults = {spec.name: spec.default for spec in SETTINGS}
    assert str(s.clock_skew_seconds) == defaults["OKTA_CLOCK_SKEW_SECONDS"]
    assert s.token_auth_method == defaults["OKTA_TOKEN_AUTH_METHOD"]


def test_secret_never_shows_in_repr(env):
    s = load_settings(env)
    assert s.client_secret.get() == "s3cr3t-value"
    assert "s3cr3t" not in repr(s)
    assert "s3cr3t" not in str(s.client_secret)


def test_every_problem_reported_at_once(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(
            {
                "OKTA_ISSUER": "http://okta.example.com/oauth2/default/",
                "OKTA_TOKEN_AUTH_METHOD": "client_secret_jwt",
                "OKTA_CLOCK_SKEW_SECONDS": "lots",
                "OKTA_ROLE_MAPPING_FILE": str(tmp_path / "missing.yaml"),
            }
        )
    text = str(err.value)
    for needle in (
        "OKTA_CLIENT_ID is not set",
        "OKTA_CLIENT_SECRET is not set",
        "uses http:// for a non-loopback host",
        "remove the trailing slash",
        "OKTA_TOKEN_AUTH_METHOD='client_secret_jwt' is not supported",
        "OKTA_CLOCK_SKEW_SECONDS='lots' is not a number",
        "missing.yaml does not exist",
    ):
        assert needle in text
    assert len(err.value.problems) == 7


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
        with pytest.raises(ConfigError, match="OKTA_ISSUER"):
            load_settings(env)


def test_secret_from_file_is_reread_when_it_changes(env, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("first-secret\n")
    del env["OKTA_CLIENT_SECRET"]
    env["OKTA_CLIENT_SECRET_FILE"] = str(secret_file)
    s = load_settings(env)
    assert s.client_secret.get() == "first-secret"
    secret_file.write_text("second-secret-rotated\n")
    st = os.stat(secret_file)
    os.utime(secret_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert s.client_secret.get() == "second-secret-rotated"


def test_file_variable_errors_name_the_path(env, tmp_path):
    env["OKTA_CLIENT_ID_FILE"] = str(tmp_path / "nope")
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert "OKTA_CLIENT_ID and OKTA_CLIENT_ID_FILE are both set" in str(err.value)
    del env["OKTA_CLIENT_ID"]
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert f"OKTA_CLIENT_ID_FILE={tmp_path / 'nope'}: cannot read" in str(err.value)


def test_empty_required_value(env):
    env["OKTA_CLIENT_ID"] = "  "
    with pytest.raises(ConfigError, match="OKTA_CLIENT_ID is empty"):
        load_settings(env)


def test_default_mapping_file_is_in_airflow_home(env, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    (tmp_path / "okta_role_mapping.yaml").write_text("mappings: {a: [Viewer]}\n")
    del env["OKTA_ROLE_MAPPING_FILE"]
    assert load_settings(env).role_mapping_file == str(tmp_path / "okta_role_mapping.yaml")


def test_secret_type_masks():
    assert repr(Secret(lambda: "x")) == "Secret('**********')"


def test_private_key_jwt_needs_a_key_not_a_secret(env, tmp_path):
    from joserfc.jwk import RSAKey

    del env["OKTA_CLIENT_SECRET"]
    env["OKTA_TOKEN_AUTH_METHOD"] = "private_key_jwt"
    with pytest.raises(ConfigError, match="private_key_jwt needs OKTA_CLIENT_PRIVATE_KEY_FILE"):
        load_settings(env)
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    env["OKTA_CLIENT_PRIVATE_KEY_FILE"] = str(key_file)
    s = load_settings(env)
    assert s.token_auth_method == "private_key_jwt"
    assert "PRIVATE KEY" not in repr(s)
    del env["OKTA_TOKEN_AUTH_METHOD"]
    assert load_settings(env).token_auth_method == "private_key_jwt"  # implied by the key
    key_file.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ConfigError, match="OKTA_CLIENT_PRIVATE_KEY: it is neither"):
        load_settings(env)
