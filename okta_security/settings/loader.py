"""Read and validate okta_security's settings, once, reporting every problem.

Loading is a loop over the declarations in :mod:`okta_security.settings.specs` plus a few checks
across settings (client credentials, Management API credentials, variables no longer read).
A setting ``OKTA_X`` is read from, in this order of precedence:

1. ``OKTA_X`` in the environment;
2. ``OKTA_X_FILE``: the path of a file holding the value (Kubernetes/Docker secrets); secret files
   are re-read when they change, so a rotated client secret takes effect at the next login;
3. Airflow's configuration, ``[okta] x`` (``AIRFLOW__OKTA__X``, airflow.cfg, and for secrets
   ``AIRFLOW__OKTA__X_CMD`` / ``_SECRET``), handed in by the adapter as ``airflow`` values — this
   module never imports Airflow, so the CLI works on machines without it.

An empty value counts as unset. Giving one setting in two places is an error unless both give
the same text: a webserver must not quietly use one value while ``airflow config get-value``
or the other file shows another (``OKTA_X`` with ``OKTA_X_FILE`` was already refused).

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
from okta_security.settings.sources import ConfigValue
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

SOURCE = "okta_security settings (OKTA_* environment variables, Airflow's [okta] section)"
AIRFLOW_HOME_DEFAULT = "~/airflow"  # Airflow's own default for $AIRFLOW_HOME
__all__ = [
    "SETTINGS",
    "SPECS",
    "ConfigValue",
    "FileValue",
    "OktaSettings",
    "Secret",
    "SettingSpec",
    "airflow_home",
    "check_webserver_config",
    "describe_settings",
    "env_value",
    "setting_source",
    "given_settings",
    "load_settings",
    "settings_table",
]


class _Raw:
    """One setting's text and where it came from: ``OKTA_X``, ``OKTA_X_FILE``, Airflow's ``[okta] x``, or nowhere."""

    def __init__(
        self, spec: SettingSpec, env: Mapping[str, str], airflow: Mapping[str, ConfigValue], problems: list[str]
    ) -> None:
        self.spec = spec
        self.file: FileValue | None = None
        self.airflow: ConfigValue | None = None  # the Airflow value in use (nothing in OKTA_* gives one)
        self.also: str = ""  # another place giving the same text
        self.text = ""
        self.usable = True  # False: misused (both forms, unreadable file, a conflict) and already reported
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
        elif inline is not None:
            self.text = inline.strip()
        given = airflow.get(spec.option)
        if given is not None and given.text.strip() and self.usable:
            other = given.text.strip()
            if not self.text:
                self.text, self.airflow = other, given
            elif other != self.text:
                problems.append(
                    f"{self.where(self.text, default=False)} and {_airflow_where(spec, given, other)} differ — "
                    f"give {spec.name} in one place only: the OKTA_* environment or Airflow's configuration"
                )
                self.usable = False
            else:
                self.also = given.origin
        self.present = inline is not None or path is not None or given is not None

    @property
    def origin(self) -> str:
        """Return where the value in use came from ("" when none was given)."""
        if self.airflow is not None:
            return self.airflow.origin
        if self.file is not None:
            return self.spec.file_name
        return self.spec.name if self.text else ""

    def where(self, text: str, *, default: bool) -> str:
        """Return how a problem names this value (never a secret's content)."""
        if default:
            return f"{self.spec.name}={text!r} (the default)"
        if self.airflow is not None:
            return _airflow_where(self.spec, self.airflow, text)
        if self.file is not None:
            return (
                f"{self.spec.file_name}={self.file.path}" if self.spec.secret else f"{self.spec.file_name} ({text!r})"
            )
        return self.spec.name if self.spec.secret else f"{self.spec.name}={text!r}"


def _airflow_where(spec: SettingSpec, given: ConfigValue, text: str) -> str:
    value = "" if spec.secret else f"={text!r}"
    return f"{spec.airflow_name}{value} (from {given.origin})"


def load_settings(
    environ: Mapping[str, str] | None = None, airflow: Mapping[str, ConfigValue] | None = None
) -> OktaSettings:
    """Read every setting from ``environ`` (default: the process's) and ``airflow`` (Airflow's ``[okta]`` options).

    Raise :class:`ConfigError` listing all problems.
    """
    env = os.environ if environ is None else environ
    options = airflow or {}
    problems = [r.problem(var) for r in RETIRED for var in (r.name, r.name + FILE_SUFFIX) if var in env]
    values: dict[str, Any] = {}
    given: set[str] = set()  # settings with a non-empty value, valid or not
    broken: set[str] = set()  # settings misused or in conflict (already reported)
    present: set[str] = set()  # settings given anywhere, even empty
    for spec in SETTINGS:
        raw = _Raw(spec, env, options, problems)
        if raw.present:
            present.add(spec.name)
        if not raw.usable:
            broken.add(spec.name)
            continue
        if raw.text:
            given.add(spec.name)
        elif spec.required:
            problems.append(
                f"{spec.name} is empty — {spec.doc}"
                if raw.present
                else f"{spec.name} is not set — {spec.doc} (or set {spec.file_name} to a file, "
                f"or {spec.airflow_name} in Airflow's configuration)"
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
    _check_client_credentials(values.get("token_auth_method"), given | broken, present, problems)
    _check_api_credentials(values.get("groups_source"), given, problems)
    if problems:
        raise ConfigError(problems, source=SOURCE)
    return OktaSettings(**values)


def _secret(raw: _Raw) -> Secret:
    """Return the secret; one from a file (or a command or secrets backend, through Airflow) is re-read."""
    if raw.file is not None:
        return Secret(raw.file.get)
    reread = raw.airflow.reread if raw.airflow is not None else None
    if reread is not None:
        return Secret(lambda: reread().strip())
    text = raw.text
    return Secret(lambda: text)


def _check_client_credentials(method: str | None, provided: set[str], present: set[str], problems: list[str]) -> None:
    """Require the credential the token endpoint authentication method needs (``method`` None: itself invalid)."""
    if method == "private_key_jwt":
        if "OKTA_CLIENT_PRIVATE_KEY" not in provided:
            problems.append(
                "OKTA_TOKEN_AUTH_METHOD=private_key_jwt needs OKTA_CLIENT_PRIVATE_KEY_FILE (or OKTA_CLIENT_PRIVATE_KEY): "
                "the app's private RSA key, PEM or JWK"
            )
    elif "OKTA_CLIENT_SECRET" in present:
        if "OKTA_CLIENT_SECRET" not in provided:
            problems.append("OKTA_CLIENT_SECRET is empty — set the Okta app's client secret")
    else:
        problems.append(
            "OKTA_CLIENT_SECRET is not set — set the Okta app's client secret (or OKTA_CLIENT_SECRET_FILE, or "
            "[okta] client_secret in Airflow's configuration, e.g. AIRFLOW__OKTA__CLIENT_SECRET_CMD), "
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


def env_value(
    name: str, environ: Mapping[str, str] | None = None, airflow: Mapping[str, ConfigValue] | None = None
) -> str:
    """Return one setting's text as the loader reads it: ``NAME``, ``NAME_FILE``, Airflow's ``[okta]``, else its default.

    For tools that need a single setting without the full, validated set (the CLI); raise
    :class:`ConfigError` when it is given in conflicting ways or its file cannot be read.
    """
    return setting_source(name, environ, airflow)[0]


def setting_source(
    name: str, environ: Mapping[str, str] | None = None, airflow: Mapping[str, ConfigValue] | None = None
) -> tuple[str, str]:
    """Return one setting's text (as :func:`env_value`) and where it came from.

    The origin is ``NAME``, ``NAME_FILE``, Airflow's (``AIRFLOW__OKTA__X``, ``airflow.cfg [okta] x``,
    ``..._CMD``, ``..._SECRET``), ``"default"``, or ``""`` when the setting is unset and has no default.
    """
    spec = SPECS[name]
    env = os.environ if environ is None else environ
    problems: list[str] = []
    raw = _Raw(spec, env, airflow or {}, problems)
    if problems:
        raise ConfigError(problems, source=SOURCE)
    if raw.text:
        return raw.text, raw.origin
    default = _expand(spec.default or "", env)
    return default, "default" if default else ""


def given_settings(
    environ: Mapping[str, str] | None = None, airflow: Mapping[str, ConfigValue] | None = None
) -> list[str]:
    """Return the declared settings given anywhere (``OKTA_X``, ``OKTA_X_FILE``, ``[okta] x``), in declaration order."""
    env = os.environ if environ is None else environ
    options = airflow or {}
    return [s.name for s in SETTINGS if s.name in env or s.file_name in env or s.option in options]


def describe_settings(
    environ: Mapping[str, str] | None = None, airflow: Mapping[str, ConfigValue] | None = None
) -> dict[str, str]:
    """Return each setting as it will be used and where it comes from; secrets only as "set" (never their value).

    A value from ``OKTA_X`` itself is shown bare (the line names the variable); every other source says
    "(from ...)".
    """
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for spec in SETTINGS:
        problems: list[str] = []
        raw = _Raw(spec, env, airflow or {}, problems)
        if problems:
            out[spec.name] = "(unusable: " + "; ".join(problems) + ")"
        elif raw.airflow is not None:
            shown = "set" if spec.secret else raw.text
            out[spec.name] = f"{shown} (from {raw.airflow.origin})"
        elif raw.file is not None:
            path = raw.file.path
            out[spec.name] = (
                f"set (from {spec.file_name}={path})" if spec.secret else f"{raw.text} (from {spec.file_name})"
            )
        elif spec.name in env:
            value = env[spec.name]
            out[spec.name] = ("set" if value.strip() else "(empty)") if spec.secret else value
        else:
            out[spec.name] = "(not set)" if spec.required or not spec.default else f"{spec.default!r} (default)"
        if raw.also:
            out[spec.name] += f" (also given, the same, in {raw.also})"
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
