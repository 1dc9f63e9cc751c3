"""Settings of the groups source, the group filter and the Management API."""

from __future__ import annotations

import json

import pytest

from okta_security.errors import ConfigError
from okta_security.settings.loader import load_settings


@pytest.fixture
def key_file(tmp_path, key):
    path = tmp_path / "service-app.pem"
    path.write_bytes(key.as_pem(private=True))
    return str(path)


def problems(environ) -> str:
    with pytest.raises(ConfigError) as err:
        load_settings(environ)
    return str(err.value)


def test_defaults_use_claims_only_and_no_api(env):
    s = load_settings(env)
    assert s.groups_source == "auto"
    assert s.groups_filter.apply(["x", "y"]) == ("x", "y")
    assert not s.groups_api_configured
    assert (s.api_token, s.api_client_id, s.api_private_key) == (None, "", None)
    assert s.api_max_wait_seconds == 10.0


@pytest.mark.parametrize(
    ("issuer", "org"),
    [
        ("https://dev-123456.okta.com/oauth2/default", "https://dev-123456.okta.com"),
        ("https://dev-123456.okta.com", "https://dev-123456.okta.com"),
        ("http://127.0.0.1:9000/oauth2/default", "http://127.0.0.1:9000"),
    ],
)
def test_the_api_org_comes_from_the_issuer(env, issuer, org):
    assert load_settings({**env, "OKTA_ISSUER": issuer}).groups_api_org_url == org


def test_api_token_from_a_file_is_secret_and_re_read(env, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("00first\n")
    s = load_settings({**env, "OKTA_API_TOKEN_FILE": str(token_file), "OKTA_GROUPS_SOURCE": "api"})
    assert s.groups_api_configured
    assert s.groups_source == "api"
    assert s.api_token is not None
    assert s.api_token.get() == "00first"
    assert "00first" not in repr(s)
    token_file.write_text("00second-longer\n")
    assert s.api_token.get() == "00second-longer"


@pytest.mark.parametrize("as_jwk", [False, True])
def test_service_app_with_pem_or_jwk(env, tmp_path, key, as_jwk):
    path = tmp_path / "k"
    path.write_text(json.dumps(key.as_dict(private=True)) if as_jwk else key.as_pem(private=True).decode())
    s = load_settings({**env, "OKTA_API_CLIENT_ID": "0oasvc", "OKTA_API_PRIVATE_KEY_FILE": str(path)})
    assert s.groups_api_configured
    assert s.api_client_id == "0oasvc"
    assert "PRIVATE" not in repr(s)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (
            {"OKTA_GROUPS_SOURCE": "ldap"},
            "OKTA_GROUPS_SOURCE='ldap' is not one of auto, claims, api — see docs/groups.md",
        ),
        ({"OKTA_GROUPS_SOURCE": "api"}, "OKTA_GROUPS_SOURCE=api needs Okta API credentials"),
        ({"OKTA_GROUPS_FILTER": "re:airflow-("}, "OKTA_GROUPS_FILTER='re:airflow-(' is not a valid filter: invalid"),
        ({"OKTA_GROUPS_FILTER": "re:"}, "OKTA_GROUPS_FILTER='re:' is not a valid filter: empty regular expression"),
        ({"OKTA_API_CLIENT_ID": "0oasvc"}, "OKTA_API_CLIENT_ID is set but OKTA_API_PRIVATE_KEY is not"),
        ({"OKTA_API_PRIVATE_KEY": "x"}, "OKTA_API_PRIVATE_KEY is set but OKTA_API_CLIENT_ID is not"),
        ({"OKTA_API_CLIENT_ID": "a", "OKTA_API_PRIVATE_KEY": "garbage"}, "OKTA_API_PRIVATE_KEY cannot be used"),
        ({"OKTA_API_TOKEN": "t", "OKTA_API_CLIENT_ID": "0oasvc"}, "choose one way to call Okta's API"),
        ({"OKTA_API_MAX_WAIT_SECONDS": "301"}, "OKTA_API_MAX_WAIT_SECONDS='301' is out of range"),
    ],
)
def test_each_mistake_is_named_with_its_fix(env, extra, needle):
    assert needle in problems({**env, **extra})


def test_a_bad_key_file_is_named_but_its_content_never_shown(env, tmp_path):
    path = tmp_path / "not-a-key.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ1dC1ub3QtYS1rZXk=\n-----END PRIVATE KEY-----\n")
    text = problems({**env, "OKTA_API_CLIENT_ID": "0oasvc", "OKTA_API_PRIVATE_KEY_FILE": str(path)})
    assert f"OKTA_API_PRIVATE_KEY_FILE={path} cannot be used" in text
    assert "c2VjcmV0" not in text
    text = problems({**env, "OKTA_API_CLIENT_ID": "0oasvc", "OKTA_API_PRIVATE_KEY": "not-a-key-c2VjcmV0"})
    assert "OKTA_API_PRIVATE_KEY cannot be used" in text
    assert "c2VjcmV0" not in text


def test_all_groups_problems_are_reported_together(env):
    text = problems(
        {**env, "OKTA_GROUPS_SOURCE": "api", "OKTA_GROUPS_FILTER": "re:(", "OKTA_API_MAX_WAIT_SECONDS": "-1"}
    )
    assert text.count("\n  - ") == 3
