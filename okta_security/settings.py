"""Read and validate okta_security's settings from the environment, once, reporting every problem.

Every setting ``OKTA_X`` may instead be given as ``OKTA_X_FILE``: the path of a file holding the
value (Kubernetes/Docker secrets). Such files are re-read when they change, so a rotated client
secret takes effect at the next login without a restart.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from okta_security.errors import ConfigError

log = logging.getLogger(__name__)

TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
LOOPBACK_HOSTS = frozenset({"localhost"})


@dataclass(frozen=True)
class SettingSpec:
    """One documented setting: its variable name, default and meaning."""

    name: str
    default: str | None
    description: str
    secret: bool = False
    required: bool = False


def _default_mapping_file() -> str:
    airflow_home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    return os.path.join(airflow_home, "okta_role_mapping.yaml")


# The single source of truth for the settings table in README.md (tests/unit/test_readme.py checks it).
SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "OKTA_ISSUER",
        None,
        "Authorization server issuer, e.g. `https://dev-123456.okta.com/oauth2/default` (custom server) "
        "or `https://dev-123456.okta.com` (org server). `http://` only for loopback hosts.",
        required=True,
    ),
    SettingSpec("OKTA_CLIENT_ID", None, "Client ID of the Okta OIDC web application.", required=True),
    SettingSpec(
        "OKTA_CLIENT_SECRET", None, "Client secret of the Okta OIDC web application.", secret=True, required=True
    ),
    SettingSpec(
        "OKTA_ROLE_MAPPING_FILE",
        "$AIRFLOW_HOME/okta_role_mapping.yaml",
        "YAML file mapping Okta groups to Airflow roles; re-read when it changes.",
    ),
    SettingSpec(
        "OKTA_TOKEN_AUTH_METHOD",
        "client_secret_basic",
        "Token endpoint client authentication: `client_secret_basic` or `client_secret_post`.",
    ),
    SettingSpec("OKTA_GROUPS_CLAIM", "groups", "Name of the claim that carries the user's Okta groups."),
    SettingSpec(
        "OKTA_EXTRA_SCOPES",
        "",
        "Space-separated scopes requested on top of `openid profile email` (and `groups` when offered).",
    ),
    SettingSpec("OKTA_CLOCK_SKEW_SECONDS", "60", "Leeway allowed on ID token `exp`/`iat`, in seconds (0-300)."),
    SettingSpec("OKTA_HTTP_TIMEOUT_SECONDS", "10", "Connect and read timeout for calls to Okta, in seconds."),
)
SPECS: Mapping[str, SettingSpec] = {s.name: s for s in SETTINGS}


class FileValue:
    """A value read from a file, re-read whenever the file's mtime or size changes."""

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self.name = name
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._value = ""

    def get(self) -> str:
        """Return the file's current content, stripped of surrounding whitespace."""
        try:
            st = os.stat(self.path)
        except OSError as e:
            if self._stamp is None:
                raise ConfigError([f"{self.name}_FILE={self.path}: cannot read: {e.strerror}"]) from e
            log.error("%s_FILE=%s became unreadable (%s); keeping the last value read", self.name, self.path, e)
            return self._value
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._value = Path(self.path).read_text(encoding="utf-8").strip()
                self._stamp = stamp
            return self._value


@dataclass(frozen=True)
class Secret:
    """A secret value that never shows itself in repr/str/logs."""

    _read: Callable[[], str] = field(repr=False)

    def get(self) -> str:
        """Return the current secret value."""
        return self._read()

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


@dataclass(frozen=True)
class OktaSettings:
    """Validated settings; build with :func:`load_settings`."""

    issuer: str
    client_id: str
    client_secret: Secret
    role_mapping_file: str
    token_auth_method: str = "client_secret_basic"
    groups_claim: str = "groups"
    extra_scopes: tuple[str, ...] = ()
    clock_skew_seconds: int = 60
    http_timeout_seconds: float = 10.0

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

    mapping_file = values.get("OKTA_ROLE_MAPPING_FILE") or _default_mapping_file()
    if not os.path.isfile(mapping_file):
        problems.append(
            f"OKTA_ROLE_MAPPING_FILE={mapping_file} does not exist — create it "
            "(see config/role_mapping.yaml in okta_security) or point OKTA_ROLE_MAPPING_FILE at it"
        )

    method = values.get("OKTA_TOKEN_AUTH_METHOD") or "client_secret_basic"
    if method not in TOKEN_AUTH_METHODS:
        problems.append(f"OKTA_TOKEN_AUTH_METHOD={method!r} is not supported — use one of {', '.join(TOKEN_AUTH_METHODS)}")

    groups_claim = values.get("OKTA_GROUPS_CLAIM") or "groups"
    skew = _number("OKTA_CLOCK_SKEW_SECONDS", values.get("OKTA_CLOCK_SKEW_SECONDS") or "60", problems, 0, 300, integer=True)
    timeout = _number(
        "OKTA_HTTP_TIMEOUT_SECONDS", values.get("OKTA_HTTP_TIMEOUT_SECONDS") or "10", problems, 0.1, 120, integer=False
    )
    extra_scopes = tuple((values.get("OKTA_EXTRA_SCOPES") or "").split())

    if problems:
        raise ConfigError(problems, source="okta_security settings (environment variables OKTA_*)")

    secret_file = files.get("OKTA_CLIENT_SECRET")
    secret_inline = values["OKTA_CLIENT_SECRET"]
    secret = Secret(secret_file.get if secret_file else (lambda: secret_inline))
    return OktaSettings(
        issuer=issuer,
        client_id=values["OKTA_CLIENT_ID"],
        client_secret=secret,
        role_mapping_file=mapping_file,
        token_auth_method=method,
        groups_claim=groups_claim,
        extra_scopes=extra_scopes,
        clock_skew_seconds=skew,
        http_timeout_seconds=timeout,
    )
