"""Read and validate okta_security's settings from the environment, once, reporting every problem.

Every setting ``OKTA_X`` may instead be given as ``OKTA_X_FILE``: the path of a file holding the
value (Kubernetes/Docker secrets). Such files are re-read when they change, so a rotated client
secret takes effect at the next login without a restart.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from okta_security.errors import ConfigError
from okta_security.login.groups_source import GROUPS_SOURCES, GroupFilter
from okta_security.settings.secrets import FileValue, Secret
from okta_security.settings.specs import SETTINGS, SPECS, SettingSpec, default_mapping_file, settings_table

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger(__name__)

TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
LOOPBACK_HOSTS = frozenset({"localhost"})
__all__ = ["SETTINGS", "SPECS", "FileValue", "OktaSettings", "Secret", "SettingSpec", "load_settings", "settings_table"]


@dataclass(frozen=True)
class OktaSettings:
    """Validated settings; build with :func:`load_settings`."""

    issuer: str
    client_id: str
    client_secret: Secret
    role_mapping_file: str
    token_auth_method: str = "client_secret_basic"
    client_private_key: Secret | None = None
    client_key_id: str = ""
    groups_claim: str = "groups"
    extra_scopes: tuple[str, ...] = ()
    clock_skew_seconds: int = 60
    http_timeout_seconds: float = 10.0
    jwks_refetch_interval_seconds: float = 30.0  # see okta_security.oidc.id_token.JwksCache
    post_logout_redirect_uri: str = ""
    session_max_lifetime_minutes: int = 720

    bot_issuer: str = ""  # empty: bots' tokens come from ``issuer``
    bot_audience: str = "api://default"
    bot_scopes: tuple[str, ...] = ("airflow.api",)

    groups_source: str = "auto"  # see okta_security.login.groups_source
    groups_filter: GroupFilter = field(default_factory=GroupFilter)
    groups_api_token: Secret | None = None  # SSWS
    groups_api_client_id: str = ""  # OAuth service app (private_key_jwt)
    groups_api_private_key: Secret | None = None
    groups_api_key_id: str = ""
    groups_api_connect_timeout_seconds: float = 5.0
    groups_api_read_timeout_seconds: float = 10.0
    groups_api_max_retries: int = 2
    groups_api_max_wait_seconds: float = 10.0

    audit_log_handler: str = "stdout"
    event_hook_secret: Secret | None = None

    @property
    def groups_api_org_url(self) -> str:
        """Return the Okta org URL (scheme and host of ``OKTA_ISSUER``) that serves the Management API."""
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def groups_api_configured(self) -> bool:
        """Return whether credentials for Okta's Management API are set."""
        return self.groups_api_token is not None or self.groups_api_private_key is not None

    @property
    def access_token_issuer(self) -> str:
        """Return the issuer bots' access tokens must name (``OKTA_BOT_ISSUER``, else ``OKTA_ISSUER``)."""
        return self.bot_issuer or self.issuer

    @property
    def discovery_url(self) -> str:
        """Return the OpenID Connect discovery URL of the issuer."""
        return f"{self.issuer}/.well-known/openid-configuration"


def _read(environ: Mapping[str, str], name: str, problems: list[str]) -> tuple[str | None, FileValue | None]:
    """Return (inline value, file value) for ``name``; note misuse in ``problems``."""
    inline = environ.get(name)
    file_path = environ.get(f"{name}_FILE")
    if inline is not None and file_path is not None:
        problems.append(f"{name} and {name}_FILE are both set — set only one of them")
        return None, None
    if file_path is not None:
        fv = FileValue(file_path, name)
        try:
            fv.get()
        except ConfigError as e:
            problems.extend(e.problems)
            return None, None
        except (OSError, UnicodeDecodeError) as e:
            problems.append(f"{name}_FILE={file_path}: cannot read: {e}")
            return None, None
        return None, fv
    return inline, None


def _validate_issuer(value: str, problems: list[str]) -> None:
    parts = urlsplit(value)
    example = "e.g. https://dev-123456.okta.com/oauth2/default"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        problems.append(f"OKTA_ISSUER={value!r} is not an absolute http(s) URL — set it to your issuer, {example}")
        return
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        problems.append(
            f"OKTA_ISSUER={value!r} uses http:// for a non-loopback host — use https:// "
            "(http:// is accepted only for 127.0.0.1, localhost and ::1, for local development)"
        )
    if parts.query or parts.fragment:
        problems.append(f"OKTA_ISSUER={value!r} has a query or fragment — remove it, {example}")
    if value.endswith("/"):
        problems.append(f"OKTA_ISSUER={value!r} ends with '/' — remove the trailing slash (Okta issuers have none)")
    if "/.well-known" in parts.path or "/v1/" in parts.path + "/":
        problems.append(
            f"OKTA_ISSUER={value!r} looks like an endpoint, not an issuer — use the issuer itself, {example}"
        )


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _number(name: str, raw: str, problems: list[str], lo: float, hi: float, *, integer: bool) -> Any:
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        problems.append(f"{name}={raw!r} is not a number — set it to a value between {lo:g} and {hi:g}")
        return None
    if not lo <= value <= hi:
        problems.append(f"{name}={raw!r} is out of range — set it to a value between {lo:g} and {hi:g}")
        return None
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> OktaSettings:
    """Read every setting from ``environ``; raise :class:`ConfigError` listing all problems."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    values: dict[str, str] = {}
    files: dict[str, FileValue] = {}
    for spec in SETTINGS:
        inline, fv = _read(env, spec.name, problems)
        if fv is not None:
            files[spec.name] = fv
            values[spec.name] = fv.get()
        elif inline is not None:
            values[spec.name] = inline.strip()
        if spec.required and not values.get(spec.name) and spec.name not in files:
            if f"{spec.name}_FILE" not in env and spec.name not in env:
                problems.append(f"{spec.name} is not set — {spec.description} (or set {spec.name}_FILE to a file)")
        if spec.required and (spec.name in env or spec.name in files) and not values.get(spec.name):
            problems.append(f"{spec.name} is empty — {spec.description}")

    issuer = values.get("OKTA_ISSUER", "")
    if issuer:
        _validate_issuer(issuer, problems)

    mapping_file = values.get("OKTA_ROLE_MAPPING_FILE") or default_mapping_file()
    if not os.path.isfile(mapping_file):
        problems.append(
            f"OKTA_ROLE_MAPPING_FILE={mapping_file} does not exist — create it "
            "(see config/role_mapping.yaml in okta_security) or point OKTA_ROLE_MAPPING_FILE at it"
        )

    has_key = bool(values.get("OKTA_CLIENT_PRIVATE_KEY"))
    method = values.get("OKTA_TOKEN_AUTH_METHOD") or ("private_key_jwt" if has_key else "client_secret_basic")
    if method not in TOKEN_AUTH_METHODS:
        problems.append(
            f"OKTA_TOKEN_AUTH_METHOD={method!r} is not supported — use one of {', '.join(TOKEN_AUTH_METHODS)}"
        )
    _check_client_credentials(method, values, env, files, problems)

    groups_claim = values.get("OKTA_GROUPS_CLAIM") or "groups"
    skew = _number(
        "OKTA_CLOCK_SKEW_SECONDS", values.get("OKTA_CLOCK_SKEW_SECONDS") or "60", problems, 0, 300, integer=True
    )
    timeout = _number(
        "OKTA_HTTP_TIMEOUT_SECONDS", values.get("OKTA_HTTP_TIMEOUT_SECONDS") or "10", problems, 0.1, 120, integer=False
    )
    extra_scopes = tuple((values.get("OKTA_EXTRA_SCOPES") or "").split())
    jwks_refetch = _number(
        "OKTA_JWKS_REFETCH_INTERVAL_SECONDS",
        values.get("OKTA_JWKS_REFETCH_INTERVAL_SECONDS") or "30",
        problems,
        0,
        3600,
        integer=False,
    )
    post_logout = values.get("OKTA_POST_LOGOUT_REDIRECT_URI") or ""
    if post_logout and (urlsplit(post_logout).scheme not in ("http", "https") or not urlsplit(post_logout).netloc):
        problems.append(
            f"OKTA_POST_LOGOUT_REDIRECT_URI={post_logout!r} is not an absolute URL — use e.g. "
            "https://airflow.example.com/auth/login/ (and register it as a sign-out redirect URI in Okta)"
        )
    max_lifetime = _number(
        "OKTA_SESSION_MAX_LIFETIME_MINUTES",
        values.get("OKTA_SESSION_MAX_LIFETIME_MINUTES") or "720",
        problems,
        0,
        525600,
        integer=True,
    )

    bot_issuer = values.get("OKTA_BOT_ISSUER") or ""
    if bot_issuer:
        issuer_problems: list[str] = []
        _validate_issuer(bot_issuer, issuer_problems)
        problems.extend(p.replace("OKTA_ISSUER=", "OKTA_BOT_ISSUER=", 1) for p in issuer_problems)
    bot_audience = values.get("OKTA_BOT_AUDIENCE", "api://default")
    if not bot_audience:
        problems.append(
            "OKTA_BOT_AUDIENCE is empty — set it to the Audience of the Okta authorization server that "
            "issues the bots' tokens (Security → API → Authorization Servers), e.g. api://default"
        )
    bot_scopes = tuple(values.get("OKTA_BOT_SCOPES", "airflow.api").split())
    if not bot_scopes:
        problems.append(
            "OKTA_BOT_SCOPES is empty — name at least one custom scope bots' tokens must carry, e.g. airflow.api "
            "(without one, any token for the audience would be accepted)"
        )

    groups = _groups_settings(values, files, problems)
    audit_handler = values.get("OKTA_AUDIT_LOG_HANDLER") or "stdout"
    if audit_handler.lower() not in ("stdout", "stderr", "logging") and not os.path.isabs(audit_handler):
        problems.append(
            f"OKTA_AUDIT_LOG_HANDLER={audit_handler!r} is not understood — use stdout, stderr, logging, "
            "or the absolute path of a file to append JSON lines to"
        )

    if problems:
        raise ConfigError(problems, source="okta_security settings (environment variables OKTA_*)")

    secret = _secret("OKTA_CLIENT_SECRET", values, files) or Secret(lambda: "")
    return OktaSettings(
        issuer=issuer,
        client_id=values["OKTA_CLIENT_ID"],
        client_secret=secret,
        client_private_key=_secret("OKTA_CLIENT_PRIVATE_KEY", values, files),
        client_key_id=values.get("OKTA_CLIENT_KEY_ID") or "",
        role_mapping_file=mapping_file,
        token_auth_method=method,
        groups_claim=groups_claim,
        extra_scopes=extra_scopes,
        clock_skew_seconds=skew,
        http_timeout_seconds=timeout,
        jwks_refetch_interval_seconds=jwks_refetch,
        post_logout_redirect_uri=post_logout,
        session_max_lifetime_minutes=max_lifetime,
        bot_issuer=bot_issuer,
        bot_audience=bot_audience,
        bot_scopes=bot_scopes,
        **groups,
        audit_log_handler=audit_handler,
        event_hook_secret=_secret("OKTA_EVENT_HOOK_SECRET", values, files),
    )


def _check_client_credentials(
    method: str, values: Mapping[str, str], env: Mapping[str, str], files: Mapping[str, FileValue], problems: list[str]
) -> None:
    """Require the credential the chosen token endpoint authentication method needs."""
    if method == "private_key_jwt":
        raw = values.get("OKTA_CLIENT_PRIVATE_KEY") or ""
        if not raw:
            problems.append(
                "OKTA_TOKEN_AUTH_METHOD=private_key_jwt needs OKTA_CLIENT_PRIVATE_KEY_FILE (or OKTA_CLIENT_PRIVATE_KEY): "
                "the app's private RSA key, PEM or JWK"
            )
            return
        from okta_security.okta_api.auth import load_private_key

        try:
            load_private_key(raw)
        except ValueError as e:
            problems.append(f"OKTA_CLIENT_PRIVATE_KEY: {e} — give the PEM or JWK of the app's private RSA key")
    elif not values.get("OKTA_CLIENT_SECRET"):
        if "OKTA_CLIENT_SECRET" in env or "OKTA_CLIENT_SECRET_FILE" in env:
            problems.append("OKTA_CLIENT_SECRET is empty — set the Okta app's client secret")
        else:
            problems.append(
                "OKTA_CLIENT_SECRET is not set — set the Okta app's client secret (or OKTA_CLIENT_SECRET_FILE), "
                "or use OKTA_TOKEN_AUTH_METHOD=private_key_jwt with OKTA_CLIENT_PRIVATE_KEY_FILE"
            )


def _secret(name: str, values: Mapping[str, str], files: Mapping[str, FileValue]) -> Secret | None:
    """Return the secret ``name`` (inline or ``*_FILE``), or None when unset or empty."""
    if name in files:
        return Secret(files[name].get)
    inline = values.get(name) or ""
    return Secret(lambda: inline) if inline else None


def _groups_settings(values: Mapping[str, str], files: Mapping[str, FileValue], problems: list[str]) -> dict[str, Any]:
    """Validate the groups source, filter and Management API settings; return OktaSettings fields."""
    from okta_security.okta_api.auth import load_private_key

    source = values.get("OKTA_GROUPS_SOURCE") or "auto"
    if source not in GROUPS_SOURCES:
        problems.append(f"OKTA_GROUPS_SOURCE={source!r} is not one of {', '.join(GROUPS_SOURCES)} — see docs/groups.md")
    try:
        group_filter = GroupFilter.parse(values.get("OKTA_GROUPS_FILTER") or "")
    except ValueError as e:
        problems.append(f"OKTA_GROUPS_FILTER: {e} — fix the regex after 're:' or give a plain name prefix")
        group_filter = GroupFilter()
    token = _secret("OKTA_API_TOKEN", values, files)
    client_id = values.get("OKTA_API_CLIENT_ID") or ""
    key = _secret("OKTA_API_PRIVATE_KEY", values, files)
    if token is not None and (client_id or key is not None):
        problems.append(
            "OKTA_API_TOKEN and OKTA_API_CLIENT_ID/OKTA_API_PRIVATE_KEY are both set — choose one way to call "
            "Okta's API: the service app (recommended) or the API token"
        )
    elif client_id and key is None:
        problems.append(
            "OKTA_API_CLIENT_ID is set but OKTA_API_PRIVATE_KEY is not — set OKTA_API_PRIVATE_KEY_FILE "
            "to the service app's private key (PEM or JWK)"
        )
    elif key is not None and not client_id:
        problems.append(
            "OKTA_API_PRIVATE_KEY is set but OKTA_API_CLIENT_ID is not — set it to the service app's client ID"
        )
    if key is not None:
        key_file = files.get("OKTA_API_PRIVATE_KEY")
        where = f"OKTA_API_PRIVATE_KEY_FILE={key_file.path}" if key_file else "OKTA_API_PRIVATE_KEY"
        try:
            load_private_key(key.get())
        except ValueError as e:
            problems.append(f"{where} cannot be used: {e} — give the service app's private RSA key as PEM or JWK")
    if source == "api" and token is None and key is None:
        problems.append(
            "OKTA_GROUPS_SOURCE=api needs Okta API credentials — set OKTA_API_CLIENT_ID and OKTA_API_PRIVATE_KEY_FILE "
            "(service app, recommended) or OKTA_API_TOKEN_FILE"
        )
    numbers = {
        "groups_api_connect_timeout_seconds": ("OKTA_API_CONNECT_TIMEOUT_SECONDS", 0.1, 60, False),
        "groups_api_read_timeout_seconds": ("OKTA_API_READ_TIMEOUT_SECONDS", 0.1, 120, False),
        "groups_api_max_retries": ("OKTA_API_MAX_RETRIES", 0, 10, True),
        "groups_api_max_wait_seconds": ("OKTA_API_MAX_WAIT_SECONDS", 0, 300, False),
    }
    fields: dict[str, Any] = {}
    for field_name, (name, lo, hi, integer) in numbers.items():
        value = _number(name, values.get(name) or str(SPECS[name].default), problems, lo, hi, integer=integer)
        if value is not None:
            fields[field_name] = value
    return {
        "groups_source": source,
        "groups_filter": group_filter,
        "groups_api_token": token,
        "groups_api_client_id": client_id,
        "groups_api_private_key": key if client_id else None,
        "groups_api_key_id": values.get("OKTA_API_KEY_ID") or "",
        **fields,
    }
