"""Read and validate okta_security's settings, once, reporting every problem.

**The precedence rule.** Setting ``OKTA_X`` takes the first non-empty value of:

1. ``OKTA_X`` in the environment;
2. the file ``OKTA_X_FILE`` names (Kubernetes/Docker secrets); a secret file is re-read when it
   changes, so a rotated client secret takes effect at the next login;
3. Airflow's configuration, ``[okta] x``, in Airflow's own order (``AIRFLOW__OKTA__X``,
   airflow.cfg, and for secrets ``_CMD`` / ``_SECRET``), handed in by the adapter as
   :class:`ConfigValue` objects: this module never imports Airflow, so the CLI works without it.

A later place is not read once an earlier one gives a value (``okta-airflow doctor`` shows which did).
Only this module reads ``OKTA_*`` variables (or ``AIRFLOW_HOME``); everything else asks it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from okta_security.errors import ConfigError
from okta_security.settings.kinds import Invalid
from okta_security.settings.secrets import FileValue, Secret
from okta_security.settings.specs import SETTINGS, SPECS, OktaSettings, SettingSpec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

SOURCE = "okta_security settings (OKTA_* environment variables, Airflow's [okta] section)"
__all__ = ["SETTINGS", "OktaSettings", "Secret"]  # re-exported: callers import them from here


@dataclass(frozen=True)
class ConfigValue:
    """One ``[okta]`` option as Airflow's configuration gives it (read by the adapter)."""

    text: str
    origin: str  # where Airflow found it: "AIRFLOW__OKTA__ISSUER", "airflow.cfg [okta] issuer", "..._CMD"
    # Read the current value again (a secret from a command or secrets backend, rotated); None: fixed.
    reread: Callable[[], str] | None = field(default=None, compare=False, repr=False)


def airflow_env_form(spec: SettingSpec, environ: Mapping[str, str] | None = None) -> str | None:
    """Return the ``AIRFLOW__OKTA__*`` variable (for secrets also ``_CMD``, ``_SECRET``) that gives ``spec``, or None."""
    env = os.environ if environ is None else environ
    forms = ("", "_CMD", "_SECRET") if spec.secret else ("",)
    return next((spec.airflow_env + form for form in forms if spec.airflow_env + form in env), None)


class _Raw:
    """One setting's text and its place, the first of the precedence rule (ConfigError: an unreadable file)."""

    def __init__(self, spec: SettingSpec, env: Mapping[str, str], airflow: Mapping[str, ConfigValue]) -> None:
        self.spec = spec
        self.file: FileValue | None = None
        self.airflow: ConfigValue | None = None
        self.text, self.origin = env.get(spec.name, "").strip(), spec.name  # origin: NAME, NAME_FILE or Airflow's
        path, given = env.get(spec.file_name), airflow.get(spec.option)
        self.present = spec.name in env or path is not None or given is not None  # given anywhere, even empty
        if not self.text and path is not None:
            self.file, self.origin = FileValue(path, spec.name), spec.file_name
            self.text = self.file.get()
        if not self.text and given is not None:
            self.file, self.airflow, self.text, self.origin = None, given, given.text.strip(), given.origin

    def where(self, text: str, *, default: bool) -> str:  # how a problem names the value, never a secret's
        spec = self.spec
        if default:
            return f"{spec.name}={text!r} (the default)"
        if self.airflow is not None:
            return f"{spec.airflow_name}{'' if spec.secret else f'={text!r}'} (from {self.airflow.origin})"
        if self.file is not None:
            return f"{spec.file_name}={self.file.path}" if spec.secret else f"{spec.file_name} ({text!r})"
        return spec.name if spec.secret else f"{spec.name}={text!r}"

    def secret(self) -> Secret:
        """Return the secret; one from a file (or a command or secrets backend, through Airflow) is re-read."""
        reread = self.file.get if self.file is not None else self.airflow.reread if self.airflow else None
        text = self.text
        return Secret(lambda: reread().strip()) if reread else Secret(lambda: text)


def load_settings(
    environ: Mapping[str, str] | None = None, airflow: Mapping[str, ConfigValue] | None = None
) -> OktaSettings:
    """Read every setting from ``environ`` (default: the process's) and ``airflow`` (Airflow's ``[okta]`` options).

    Raise :class:`ConfigError` listing all problems.
    """
    env = os.environ if environ is None else environ
    problems: list[str] = []
    values: dict[str, Any] = {}
    raws: dict[str, _Raw] = {}  # without the settings whose file cannot be read (already reported)
    for spec in SETTINGS:
        try:
            raw = raws[spec.name] = _Raw(spec, env, airflow or {})
        except ConfigError as e:
            problems.extend(e.problems)
            continue
        if spec.required and not raw.text:
            how = f"(or set {spec.file_name} to a file, or {spec.airflow_name} in Airflow's configuration)"
            problems.append(
                f"{spec.name} is empty — {spec.doc}" if raw.present else f"{spec.name} is not set — {spec.doc} {how}"
            )
        if not raw.text and (spec.required or spec.secret):
            continue  # an unset secret is the field's default, None
        text = raw.text or _expand(spec.default or "", env)
        try:
            value = spec.kind.parse(text)
        except Invalid as e:
            problems.extend(f"{raw.where(text, default=not raw.text)} {reason}" for reason in e.reasons)
            continue
        values[spec.field] = raw.secret() if spec.secret else value  # a secret's value is never shown
    given = {name for name, raw in raws.items() if raw.text}
    if "OKTA_TOKEN_AUTH_METHOD" not in given and "OKTA_CLIENT_PRIVATE_KEY" in given:
        values["token_auth_method"] = "private_key_jwt"  # the key says how the app authenticates
    problems += _cross_problems(values, raws, given)
    if problems:
        raise ConfigError(problems, source=SOURCE)
    return OktaSettings(**values)


def _cross_problems(values: dict[str, Any], raws: Mapping[str, _Raw], given: set[str]) -> list[str]:
    """Check the settings that only work together: the client's credential, Okta's Management API."""
    problems = []
    secret = raws.get("OKTA_CLIENT_SECRET")
    if values.get("token_auth_method") == "private_key_jwt":
        if "OKTA_CLIENT_PRIVATE_KEY" in raws and "OKTA_CLIENT_PRIVATE_KEY" not in given:
            problems.append(
                "OKTA_TOKEN_AUTH_METHOD=private_key_jwt needs OKTA_CLIENT_PRIVATE_KEY_FILE (or OKTA_CLIENT_PRIVATE_KEY): "
                "the app's private RSA key, PEM or JWK"
            )
    elif secret is not None and not secret.text:
        problems.append(
            "OKTA_CLIENT_SECRET is empty — set the Okta app's client secret"
            if secret.present
            else "OKTA_CLIENT_SECRET is not set — set the Okta app's client secret (or OKTA_CLIENT_SECRET_FILE, or "
            "[okta] client_secret in Airflow's configuration, e.g. AIRFLOW__OKTA__CLIENT_SECRET_CMD), "
            "or use OKTA_TOKEN_AUTH_METHOD=private_key_jwt with OKTA_CLIENT_PRIVATE_KEY_FILE"
        )
    token, client_id, key = "OKTA_API_TOKEN" in given, "OKTA_API_CLIENT_ID" in given, "OKTA_API_PRIVATE_KEY" in given
    if token and (client_id or key):
        problems.append(
            "OKTA_API_TOKEN and OKTA_API_CLIENT_ID/OKTA_API_PRIVATE_KEY are both set — choose one way to call "
            "Okta's API: the service app (recommended) or the API token"
        )
    elif client_id != key:
        problems.append(
            "OKTA_API_CLIENT_ID is set but OKTA_API_PRIVATE_KEY is not — set OKTA_API_PRIVATE_KEY_FILE "
            "to the service app's private key (PEM or JWK)"
            if client_id
            else "OKTA_API_PRIVATE_KEY is set but OKTA_API_CLIENT_ID is not — set it to the service app's client ID"
        )
    if values.get("groups_source") == "api" and not (token or key):
        problems.append(
            "OKTA_GROUPS_SOURCE=api needs Okta API credentials — set OKTA_API_CLIENT_ID and OKTA_API_PRIVATE_KEY_FILE "
            "(service app, recommended) or OKTA_API_TOKEN_FILE"
        )
    return problems


def airflow_home(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")  # Airflow's own default


def _expand(default: str, env: Mapping[str, str]) -> str:
    """Return a declared default with ``$AIRFLOW_HOME`` resolved (the only variable a default may name)."""
    prefix = "$AIRFLOW_HOME/"
    return os.path.join(airflow_home(env), default[len(prefix) :]) if default.startswith(prefix) else default


def env_value(
    name: str, environ: Mapping[str, str] | None = None, airflow: Mapping[str, ConfigValue] | None = None
) -> str:
    """Return one setting's text as the loader reads it (for tools that need one setting, not the validated set)."""
    return setting_source(name, environ, airflow)[0]


def setting_source(
    name: str, environ: Mapping[str, str] | None = None, airflow: Mapping[str, ConfigValue] | None = None
) -> tuple[str, str]:
    """Return one setting's text (as :func:`env_value`) and its origin: ``NAME``, ``NAME_FILE``, Airflow's place
    (``AIRFLOW__OKTA__X``, ``airflow.cfg [okta] x``, ``..._CMD``, ``..._SECRET``), ``"default"``, or ``""``.
    """
    spec = SPECS[name]
    env = os.environ if environ is None else environ
    try:
        raw = _Raw(spec, env, airflow or {})
    except ConfigError as e:
        raise ConfigError(e.problems, source=SOURCE) from None
    if raw.text:
        return raw.text, raw.origin
    default = _expand(spec.default or "", env)
    return default, "default" if default else ""


def given_settings(
    environ: Mapping[str, str] | None = None, airflow: Mapping[str, ConfigValue] | None = None
) -> list[str]:
    """Return the declared settings given anywhere (``OKTA_X``, ``OKTA_X_FILE``, ``[okta] x``), in declaration order."""
    env = os.environ if environ is None else environ
    return [s.name for s in SETTINGS if s.name in env or s.file_name in env or s.option in (airflow or {})]


def describe_settings(
    environ: Mapping[str, str] | None = None, airflow: Mapping[str, ConfigValue] | None = None
) -> dict[str, str]:
    """Return each setting as it will be used, "(from <place>)" unless ``OKTA_X`` gave it; a secret only as "set"."""
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for spec in SETTINGS:
        try:
            raw = _Raw(spec, env, airflow or {})
        except ConfigError as e:
            out[spec.name] = "(unusable: " + "; ".join(e.problems) + ")"
            continue
        if raw.file is not None or raw.airflow is not None:
            place = f"{spec.file_name}={raw.file.path}" if raw.file is not None and spec.secret else raw.origin
            out[spec.name] = f"{'set' if spec.secret else raw.text} (from {place})"
        elif spec.name in env:
            out[spec.name] = ("set" if raw.text else "(empty)") if spec.secret else env[spec.name]
        else:
            out[spec.name] = "(not set)" if spec.required or not spec.default else f"{spec.default!r} (default)"
    return out


def check_webserver_config(config: Iterable[str]) -> None:
    """Refuse settings assigned in ``webserver_config.py`` (Flask config keys): they are read from the environment."""
    if stray := sorted(key for key in config if key in SPECS):
        raise ConfigError(
            [
                f"{key} is set in webserver_config.py, where it is not read — set it as an environment variable "
                f"(or {SPECS[key].file_name}) and remove it from webserver_config.py"
                for key in stray
            ],
            source=SOURCE,
        )
