"""The declarations drive loading: every setting loads from its variable and its _FILE, bounds name the fix."""

from __future__ import annotations

import dataclasses
import json

import pytest

from okta_security.errors import ConfigError
from okta_security.settings.kinds import Number
from okta_security.settings.loader import load_settings
from okta_security.settings.secrets import Secret
from okta_security.settings.specs import SETTINGS, OktaSettings

NUMBERS = [s for s in SETTINGS if isinstance(s.kind, Number)]


def samples(key, tmp_path) -> dict[str, tuple[str, object]]:
    """Return a valid, non-default text for every setting and the value it must load as."""
    mapping = tmp_path / "other-map.yaml"
    mapping.write_text("mappings: {b: [Op]}\n")
    jwk = json.dumps(key.as_dict(private=True))
    return {
        "OKTA_ISSUER": ("https://dev-9.okta.com/oauth2/aus1", "https://dev-9.okta.com/oauth2/aus1"),
        "OKTA_CLIENT_ID": ("0oaother", "0oaother"),
        "OKTA_CLIENT_SECRET": ("another-secret", "another-secret"),
        "OKTA_ROLE_MAPPING_FILE": (str(mapping), str(mapping)),
        "OKTA_ROLE_MAPPING_CHECK_SECONDS": ("0.2", 0.2),
        "OKTA_TOKEN_AUTH_METHOD": ("client_secret_post", "client_secret_post"),
        "OKTA_CLIENT_PRIVATE_KEY": (jwk, jwk),
        "OKTA_GROUPS_CLAIM": ("okta_groups", "okta_groups"),
        "OKTA_EXTRA_SCOPES": ("offline_access  custom", ("offline_access", "custom")),
        "OKTA_CLOCK_SKEW_SECONDS": ("120", 120),
        "OKTA_HTTP_TIMEOUT_SECONDS": ("2.5", 2.5),
        "OKTA_POST_LOGOUT_REDIRECT_URI": ("https://airflow.example.com/bye", "https://airflow.example.com/bye"),
        "OKTA_SESSION_MAX_LIFETIME_MINUTES": ("0", 0),
        "OKTA_ADOPT_UNLINKED_ACCOUNTS": ("False", False),
        "OKTA_BOT_ISSUER": ("https://dev-9.okta.com/oauth2/bots", "https://dev-9.okta.com/oauth2/bots"),
        "OKTA_BOT_AUDIENCE": ("api://airflow", "api://airflow"),
        "OKTA_BOT_SCOPES": ("airflow.api airflow.trigger", ("airflow.api", "airflow.trigger")),
        "OKTA_CLI_CLIENT_ID": ("0oacli1 0oacli2", ("0oacli1", "0oacli2")),
        "OKTA_PERSON_SIGN_INS_PER_MINUTE": ("12", 12),
        "OKTA_GROUPS_SOURCE": ("claims", "claims"),
        "OKTA_GROUPS_FILTER": ("re:airflow-.*", "re:airflow-.*"),
        "OKTA_API_TOKEN": ("00apitoken", "00apitoken"),
        "OKTA_API_CLIENT_ID": ("0oasvc", "0oasvc"),
        "OKTA_API_PRIVATE_KEY": (jwk, jwk),
        "OKTA_API_MAX_WAIT_SECONDS": ("0", 0.0),
        "OKTA_JWKS_REFETCH_INTERVAL_SECONDS": ("3600", 3600.0),
        "OKTA_ROLE_SYNC_CHECK_SECONDS": ("1", 1.0),
        "OKTA_AUDIT_LOG_HANDLER": ("stderr", "stderr"),
        "OKTA_AUDIT_COUNT_WRITE_SECONDS": ("0.5", 0.5),
        "OKTA_EVENT_HOOK_SECRET": ("hook-secret", "hook-secret"),
        "OKTA_UNIVERSAL_LOGOUT_ENDPOINT": (
            "https://airflow.example.com/auth/okta/global-token-revocation",
            "https://airflow.example.com/auth/okta/global-token-revocation",
        ),
        "OKTA_AGENT_AUDIENCE": ("https://airflow.example.com/auth/token", "https://airflow.example.com/auth/token"),
        "OKTA_AGENT_TOKEN_MINUTES": ("5", 5),
    }


# Settings that are only valid with a partner (the other half of the service app's credentials).
PARTNERS = {"OKTA_API_CLIENT_ID": "OKTA_API_PRIVATE_KEY", "OKTA_API_PRIVATE_KEY": "OKTA_API_CLIENT_ID"}


def loaded(value: object) -> object:
    """Return what a test compares: a secret's text, a filter's spec, else the value."""
    if isinstance(value, Secret):
        return value.get()
    return getattr(value, "spec", value)


def test_every_setting_has_a_sample(key, tmp_path):
    assert list(samples(key, tmp_path)) == [s.name for s in SETTINGS]


@pytest.mark.parametrize("spec", SETTINGS, ids=lambda s: s.name)
@pytest.mark.parametrize("as_file", [False, True], ids=["inline", "_FILE"])
def test_every_setting_loads_from_its_variable_and_its_file(env, tmp_path, key, spec, as_file):
    table = samples(key, tmp_path)
    text, expected = table[spec.name]
    environ = {k: v for k, v in env.items() if k != spec.name}
    if spec.name in PARTNERS:
        environ[PARTNERS[spec.name]] = table[PARTNERS[spec.name]][0]
    if as_file:
        path = tmp_path / "value"
        path.write_text(f"{text}\n")
        environ[spec.file_name] = str(path)
    else:
        environ[spec.name] = text
    value = getattr(load_settings(environ), spec.field)
    assert loaded(value) == expected
    assert isinstance(value, Secret) is spec.secret


# The client secret is needed by the default authentication method; a path's default depends on
# $AIRFLOW_HOME (test_loader checks both).
DEFAULTED = [s for s in SETTINGS if not s.required and not s.kind.reads_files and s.name != "OKTA_CLIENT_SECRET"]


@pytest.mark.parametrize("spec", DEFAULTED, ids=lambda s: s.name)
def test_the_field_default_is_the_declared_default(env, spec):
    environ = {k: v for k, v in env.items() if k != spec.name}
    field = next(f for f in dataclasses.fields(OktaSettings) if f.name == spec.field)
    assert getattr(load_settings(environ), spec.field) == field.default


@pytest.mark.parametrize("spec", NUMBERS, ids=lambda s: s.name)
def test_bounds_name_the_variable_and_the_fix(env, spec):
    kind = spec.kind
    assert isinstance(kind, Number)
    fix = f"set it to a value between {kind.lo:g} and {kind.hi:g}"
    for text, problem in (
        (str(kind.hi + 1), "is out of range"),
        (str(kind.lo - 1), "is out of range"),
        ("x", "is not a"),
    ):
        with pytest.raises(ConfigError) as err:
            load_settings({**env, spec.name: text})
        [found] = err.value.problems
        assert found.startswith(f"{spec.name}={text!r} {problem}")
        assert found.endswith(fix)
    assert getattr(load_settings({**env, spec.name: f"{kind.hi:g}"}), spec.field) == kind.hi


def test_all_bad_values_are_reported_at_once(env):
    with pytest.raises(ConfigError) as err:
        load_settings({**env, **{s.name: "nonsense" for s in NUMBERS}, "OKTA_GROUPS_SOURCE": "x"})
    assert len(err.value.problems) == len(NUMBERS) + 1


def test_every_field_is_a_declared_setting():
    assert [f.name for f in dataclasses.fields(OktaSettings)] == [s.field for s in SETTINGS]
    assert all(s.name == "OKTA_" + s.field.upper() for s in SETTINGS)
    assert all(s.doc.endswith((".", ")")) and "\n" not in s.doc for s in SETTINGS)


@pytest.mark.parametrize("value", ["0", "0.5"])
def test_keys_can_never_be_refetched_without_a_pause(env, value):
    """A zero interval would let every forged token with a new kid trigger a JWKS fetch."""
    with pytest.raises(ConfigError) as err:
        load_settings({**env, "OKTA_JWKS_REFETCH_INTERVAL_SECONDS": value})
    [problem] = err.value.problems
    assert "OKTA_JWKS_REFETCH_INTERVAL_SECONDS" in problem
    assert "between 1 and 3600" in problem


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("YES", True), ("1", True), ("False", False), ("no", False)]
)
def test_a_flag_reads_the_usual_words(env, text, value):
    assert load_settings({**env, "OKTA_ADOPT_UNLINKED_ACCOUNTS": text}).adopt_unlinked_accounts is value


def test_a_flag_refuses_anything_else_naming_the_fix(env):
    with pytest.raises(ConfigError) as err:
        load_settings({**env, "OKTA_ADOPT_UNLINKED_ACCOUNTS": "maybe"})
    [problem] = err.value.problems
    assert "OKTA_ADOPT_UNLINKED_ACCOUNTS" in problem
    assert "set it to true or false" in problem
