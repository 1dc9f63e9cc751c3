"""Read and validate okta_security's settings from the environment, once, reporting every problem.

Loading is a loop over the declarations in :mod:`okta_security.settings.specs` plus a few checks
across settings (client credentials, Management API credentials, variables no longer read).
Every setting ``OKTA_X`` may instead be given as ``OKTA_X_FILE``: the path of a file holding the
value (Kubernetes/Docker secrets). Secret files are re-read when they change, so a rotated
client secret takes effect at the next login without a restart. An empty value counts as unset.

This module is the only code in okta_security that reads ``OKTA_*`` variables (or
``AIRFLOW_HOME``); everything else asks it (:func:`load_settings`, :func:`env_value`).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from okta_security.errors import ConfigError
from okta_security.settings.kinds import Invalid
from okta_security.settings.secrets import FileValue, Secret
from okta_security.settings.specs import (
    FILE_SUFFIX,
    RETIRED,
    SETTINGS,
    SPECS,
    OktaSettings,
    SettingSpec,
    settings_table,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

log = logging.getLogger(__name__)

SOURCE = "okta_security settings (environment variables OKTA_*)"
AIRFLOW_HOME_DEFAULT = "~/airflow"  # Airflow's own default for $AIRFLOW_HOME
__all__ = [
    "SETTINGS",
    "SPECS",
    "FileValue",
    "OktaSettings",
    "Secret",
    "SettingSpec",
    "airflow_home",
    "check_webserver_config",
    "describe_settings",
    "env_value",
    "given_settings",
    "load_settings",
    "settings_table",
]


class _Raw:
    """One setting's text as found in the environment: inline, from ``_FILE``, or absent."""

    def __init__(self, spec: SettingSpec, env: Mapping[str, str], problems: list[str]) -> None:
        self.spec = spec
        self.file: FileValue | None = None
        self.text = ""
        self.usable = True  # False: misused (both forms, unreadable file) and already reported
        inline, path = env.get(spec.name), env.get(spec.file_name)
        if inline is not None and path is not None:
            problems.append(f"{spec.name} and {spec.file_name} are both set — set only one of them")
            self.usable = False
        elif path is not None:
            self.file = FileValue(path, spec.name)
            try:
                self.text = self.file.get()
            except ConfigError as e:
                problems.extend(e.problems)
                self.usable = False
            except (OSError, UnicodeDecodeError) as e:
                problems.append(f"{spec.file_name}={path}: cannot read: {e}")
                self.usable = False
        elif inline is not None:
            self.text = inline.strip()
        self.present = inline is not None or path is not None

    def where(self, text: str, *, default: bool) -> str:
        """Return how a problem names this value (never a secret's content)."""
        if default:
            return f"{self.spec.name}={text!r} (the default)"
        if self.file is not None:
            return (
                f"{self.spec.file_name}={self.file.path}" if self.spec.secret else f"{self.spec.file_name} ({text!r})"
            )
        return self.spec.name if self.spec.secret else f"{self.spec.name}={text!r}"


def load_settings(environ: Mapping[str, str] | None = None) -> OktaSettings:
    """Read every setting from ``environ`` (default: the process's); raise :class:`ConfigError` listing all problems."""
    env = os.environ if environ is None else environ
    problems = [r.problem(var) for r in RETIRED for var in (r.name, r.name + FILE_SUFFIX) if var in env]
    values: dict[str, Any] = {}
    given: set[str] = set()  # settings with a non-empty value, valid or not
    broken: set[str] = set()  # settings set in both forms, or whose file cannot be read (already reported)
    for spec in SETTINGS:
        raw = _Raw(spec, env, problems)
        if not raw.usable:
            broken.add(spec.name)
            continue
        if raw.text:
            given.add(spec.name)
        elif spec.required:
            problems.append(
                f"{spec.name} is empty — {spec.doc}"
                if raw.present
                else f"{spec.name} is not set — {spec.doc} (or set {spec.file_name} to a file)"
            )
            continue
        if spec.secret and not raw.text:
            values[spec.field] = None  # no secret: nothing to parse
            continue
        text = raw.text or _expand(spec.default or "", env)
        try:
            value = spec.kind.parse(text)
        except Invalid as e:
            problems.extend(f"{raw.where(text, default=not raw.text)} {reason}" for reason in e.reasons)
            continue
        values[spec.field] = _secret(raw) if spec.secret else value

    if "OKTA_TOKEN_AUTH_METHOD" not in given and "OKTA_CLIENT_PRIVATE_KEY" in given:
        values["token_auth_method"] = "private_key_jwt"  # the key says how the app authenticates
    _check_client_credentials(values.get("token_auth_method"), given | broken, env, problems)
    _check_api_credentials(values.get("groups_source"), given, problems)
    if problems:
        raise ConfigError(problems, source=SOURCE)
    return OktaSettings(**values)


def _secret(raw: _Raw) -> Secret:
    """Return the secret; one from a file is re-read when the file changes."""
    if raw.file is not None:
        return Secret(raw.file.get)
    text = raw.text
    return Secret(lambda: text)


def _check_client_credentials(
    method: str | None, provided: set[str], env: Mapping[str, str], problems: list[str]
) -> None:
    """Require the credential the token endpoint authentication method needs (``method`` None: itself invalid)."""
    if method == "private_key_jwt":
        if "OKTA_CLIENT_PRIVATE_KEY" not in provided:
            problems.append(
                "OKTA_TOKEN_AUTH_METHOD=private_key_jwt needs OKTA_CLIENT_PRIVATE_KEY_FILE (or OKTA_CLIENT_PRIVATE_KEY): "
                "the app's private RSA key, PEM or JWK"
            )
    elif "OKTA_CLIENT_SECRET" in env or "OKTA_CLIENT_SECRET_FILE" in env:
        if "OKTA_CLIENT_SECRET" not in provided:
            problems.append("OKTA_CLIENT_SECRET is empty — set the Okta app's client secret")
    else:
        problems.append(
            "OKTA_CLIENT_SECRET is not set — set the Okta app's client secret (or OKTA_CLIENT_SECRET_FILE), "
            "or use OKTA_TOKEN_AUTH_METHOD=private_key_jwt with OKTA_CLIENT_PRIVATE_KEY_FILE"
        )


def _check_api_credentials(source: str | None, given: set[str], problems: list[str]) -> None:
    """Require one complete way to call Okta's Management API when any is configured or needed."""
    token, client_id, key = ("OKTA_API_TOKEN", "OKTA_API_CLIENT_ID", "OKTA_API_PRIVATE_KEY")
    if token in given and {client_id, key} & given:
        problems.append(
            "OKTA_API_TOKEN and OKTA_API_CLIENT_ID/OKTA_API_PRIVATE_KEY are both set — choose one way to call "
            "Okta's API: the service app (recommended) or the API token"
        )
    elif client_id in given and key not in given:
        problems.append(
            "OKTA_API_CLIENT_ID is set but OKTA_API_PRIVATE_KEY is not — set OKTA_API_PRIVATE_KEY_FILE "
            "to the service app's private key (PEM or JWK)"
        )
    elif key in given and client_id not in given:
        problems.append(
            "OKTA_API_PRIVATE_KEY is set but OKTA_API_CLIENT_ID is not — set it to the service app's client ID"
        )
    if source == "api" and not {token, key} & given:
        problems.append(
            "OKTA_GROUPS_SOURCE=api needs Okta API credentials — set OKTA_API_CLIENT_ID and OKTA_API_PRIVATE_KEY_FILE "
            "(service app, recommended) or OKTA_API_TOKEN_FILE"
        )


def airflow_home(environ: Mapping[str, str] | None = None) -> str:
    """Return ``$AIRFLOW_HOME``, else Airflow's default ``~/airflow``."""
    env = os.environ if environ is None else environ
    return env.get("AIRFLOW_HOME") or os.path.expanduser(AIRFLOW_HOME_DEFAULT)


def _expand(default: str, env: Mapping[str, str]) -> str:
    """Return a declared default with ``$AIRFLOW_HOME`` resolved (the only variable a default may name)."""
    prefix = "$AIRFLOW_HOME/"
    return os.path.join(airflow_home(env), default[len(prefix) :]) if default.startswith(prefix) else default


def env_value(name: str, environ: Mapping[str, str] | None = None) -> str:
    """Return one setting's text as the loader reads it: ``NAME``, the content of ``NAME_FILE``, else its default.

    For tools that need a single setting without the full, validated set (the CLI); raise
    :class:`ConfigError` when both forms are set or the file cannot be read.
    """
    spec = SPECS[name]
    env = os.environ if environ is None else environ
    problems: list[str] = []
    raw = _Raw(spec, env, problems)
    if problems:
        raise ConfigError(problems, source=SOURCE)
    return raw.text or _expand(spec.default or "", env)


def given_settings(environ: Mapping[str, str] | None = None) -> list[str]:
    """Return the declared settings the environment sets (inline or as ``_FILE``), in declaration order."""
    env = os.environ if environ is None else environ
    return [s.name for s in SETTINGS if s.name in env or s.file_name in env]


def describe_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return each setting as it will be used, secrets as "set" (never their value)."""
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for spec in SETTINGS:
        file_path, value = env.get(spec.file_name), env.get(spec.name)
        if file_path is not None:
            out[spec.name] = f"set (from {spec.file_name}={file_path})" if spec.secret else f"(from {file_path})"
            if not spec.secret and os.path.isfile(file_path):
                try:
                    with open(file_path, encoding="utf-8") as f:
                        out[spec.name] = f"{f.read().strip()} (from {spec.file_name})"
                except OSError:
                    pass
        elif value is not None:
            out[spec.name] = ("set" if value.strip() else "(empty)") if spec.secret else value
        else:
            out[spec.name] = "(not set)" if spec.required or not spec.default else f"{spec.default!r} (default)"
    return out


def check_webserver_config(config: Iterable[str]) -> None:
    """Refuse settings assigned in ``webserver_config.py`` (Flask config keys): they are read from the environment."""
    stray = [key for key in config if key in SPECS]
    if stray:
        raise ConfigError(
            [
                f"{key} is set in webserver_config.py, where it is not read — set it as an environment variable "
                f"(or {SPECS[key].file_name}) and remove it from webserver_config.py"
                for key in sorted(stray)
            ],
            source=SOURCE,
        )
