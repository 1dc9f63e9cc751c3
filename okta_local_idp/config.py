"""Load the IdP's YAML file (server settings, clients, users) and re-read it on change."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .faults import FaultError, validate_faults
from .models import (
    AUTH_METHODS,
    EVENT_TYPES,
    GRANT_TYPES,
    SUBJECT_FORMATS,
    TOKEN_EXCHANGE_GRANT_TYPE,
    USER_STATUSES,
    Client,
    CrossAppAccess,
    EventHook,
    Group,
    UniversalLogoutTarget,
    User,
)

if TYPE_CHECKING:
    import os

log = logging.getLogger(__name__)

_USER_ID = re.compile(r"^00u[0-9A-Za-z]{17}$")
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")
MAX_AUDIENCE_LENGTH = 1024  # an ID-JAG audience is a URL; the token endpoint refuses longer ones unread
# Files modified this recently are compared by content too: file timestamps are
# coarse (a clock tick), so two quick same-size writes can share an mtime.
_FRESH_NS = 2_000_000_000


class ConfigError(ValueError):
    """The YAML configuration is unusable; the message lists every problem."""


@dataclass(frozen=True)
class ServerSettings:
    """Authorization-server-wide settings (the ``server:`` section)."""

    groups_claim: bool = True
    groups_claim_filter: str = ".*"
    groups_scope: bool = False
    api_token: str | None = field(default=None, repr=False)
    custom_scopes: tuple[str, ...] = ()
    audience: str = "api://default"  # the authorization server's audience: ``aud`` of its access tokens
    access_token_groups_claim: bool = False  # ``groups`` in user access tokens too (an Access Token claim)
    # ``amr`` and ``auth_time`` in user access tokens (Okta puts them in ID tokens only; a token inline hook can add them)
    access_token_auth_claims: bool = False
    device_code_lifetime: int = 600  # seconds a device/user code lives (Okta: 10 minutes)
    device_poll_interval: int = 5  # seconds a device must wait between polls, else slow_down (Okta: 5)
    api_rate_limit: int = 600
    org_id: str | None = None
    signing_key_file: str | None = None
    faults: Mapping[str, Any] = field(default_factory=dict)

    def groups_filter_matches(self, name: str) -> bool:
        """Return whether group ``name`` passes the groups claim filter regex."""
        return re.fullmatch(self.groups_claim_filter, name) is not None


SERVER_KEYS = frozenset(f.name for f in fields(ServerSettings))


@dataclass(frozen=True)
class IdpConfig:
    """One consistent snapshot of the YAML file."""

    server: ServerSettings
    clients: Mapping[str, Client]
    users: tuple[User, ...]
    groups: Mapping[str, Group]
    event_hooks: tuple[EventHook, ...] = ()

    def client(self, client_id: str | None) -> Client | None:
        """Return the client registered as ``client_id``."""
        return self.clients.get(client_id) if client_id else None

    def find_user(self, key: str | None) -> User | None:
        """Return the user whose id or (case-insensitive) login is ``key``."""
        if not key:
            return None
        folded = key.casefold()
        for user in self.users:
            if user.id == key or user.login.casefold() == folded:
                return user
        return None

    def group(self, name: str) -> Group:
        """Return the group called ``name`` (declared or implied by membership)."""
        return self.groups.get(name) or Group(name=name)

    def user_groups(self, user: User) -> list[Group]:
        """Return the groups ``user`` belongs to, in configuration order."""
        return [self.group(name) for name in user.groups]


class _Problems:
    """Collect validation problems so that one error lists them all."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        """Record a problem at ``where``."""
        self.items.append(f"{where}: {message}")

    def raise_if_any(self) -> None:
        """Raise ConfigError listing every recorded problem."""
        if self.items:
            raise ConfigError(f"{self.source}: " + "; ".join(self.items))


def _mapping(value: Any, where: str, problems: _Problems) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.add(where, "must be a mapping")
        return {}
    return dict(value)


def _list(value: Any, where: str, problems: _Problems) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(where, "must be a list")
        return []
    return value


def _unknown_keys(data: Mapping[str, Any], known: frozenset[str], where: str, problems: _Problems) -> None:
    for key in sorted(set(data) - known):
        problems.add(where, f"unknown key {key!r}")


def _string(
    data: Mapping[str, Any], key: str, where: str, problems: _Problems, default: str | None = None
) -> str | None:
    if data.get(key) is None:
        return default
    value = data[key]
    if not isinstance(value, str) or not value:
        problems.add(f"{where}.{key}", "must be a non-empty string")
        return default
    return value


def _strings(
    data: Mapping[str, Any], key: str, where: str, problems: _Problems, default: tuple[str, ...] = ()
) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        problems.add(f"{where}.{key}", "must be a list of non-empty strings")
        return default
    return tuple(value)


def _boolean(data: Mapping[str, Any], key: str, where: str, problems: _Problems, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        problems.add(f"{where}.{key}", "must be true or false")
        return default
    return value


def _integer(data: Mapping[str, Any], key: str, where: str, problems: _Problems, default: int, minimum: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        problems.add(f"{where}.{key}", f"must be an integer of at least {minimum} (seconds)")
        return default
    return value


def _parse_server(raw: dict[str, Any], base_dir: Path, problems: _Problems) -> ServerSettings:
    where = "server"
    _unknown_keys(raw, SERVER_KEYS, where, problems)
    defaults = ServerSettings()
    pattern = _string(raw, "groups_claim_filter", where, problems, defaults.groups_claim_filter)
    try:
        re.compile(pattern or "")
    except re.error as exc:
        problems.add(f"{where}.groups_claim_filter", f"invalid regex: {exc}")
        pattern = defaults.groups_claim_filter
    scopes = _strings(raw, "custom_scopes", where, problems)
    for scope in scopes:
        if not _SCOPE_TOKEN.match(scope):
            problems.add(f"{where}.custom_scopes", f"invalid scope {scope!r}")
    rate_limit = raw.get("api_rate_limit", defaults.api_rate_limit)
    if not isinstance(rate_limit, int) or isinstance(rate_limit, bool) or rate_limit < 1:
        problems.add(f"{where}.api_rate_limit", "must be a positive integer")
        rate_limit = defaults.api_rate_limit
    device_lifetime = _integer(raw, "device_code_lifetime", where, problems, defaults.device_code_lifetime, 1)
    device_interval = _integer(raw, "device_poll_interval", where, problems, defaults.device_poll_interval, 0)
    key_file = _string(raw, "signing_key_file", where, problems)
    if key_file is not None:
        key_file = str((base_dir / key_file).resolve())
    faults = _mapping(raw.get("faults"), f"{where}.faults", problems)
    try:
        faults = validate_faults(faults)
    except FaultError as exc:
        problems.add(f"{where}.faults", str(exc))
        faults = {}
    return ServerSettings(
        groups_claim=_boolean(raw, "groups_claim", where, problems, defaults.groups_claim),
        groups_claim_filter=pattern or defaults.groups_claim_filter,
        groups_scope=_boolean(raw, "groups_scope", where, problems, defaults.groups_scope),
        api_token=_string(raw, "api_token", where, problems),
        custom_scopes=scopes,
        audience=_string(raw, "audience", where, problems, defaults.audience) or defaults.audience,
        access_token_groups_claim=_boolean(
            raw, "access_token_groups_claim", where, problems, defaults.access_token_groups_claim
        ),
        access_token_auth_claims=_boolean(
            raw, "access_token_auth_claims", where, problems, defaults.access_token_auth_claims
        ),
        device_code_lifetime=device_lifetime,
        device_poll_interval=device_interval,
        api_rate_limit=rate_limit,
        org_id=_string(raw, "org_id", where, problems),
        signing_key_file=key_file,
        faults=faults,
    )


_CLIENT_KEYS = frozenset(
    {
        "client_id",
        "client_secret",
        "token_endpoint_auth_method",
        "redirect_uris",
        "post_logout_redirect_uris",
        "grant_types",
        "require_pkce",
        "name",
        "jwks",
        "initiate_login_uri",
        "target_link_uri",
        "universal_logout",
        "assigned_groups",
        "cross_app_access",
    }
)


def _parse_client(raw: dict[str, Any], where: str, problems: _Problems) -> Client | None:
    _unknown_keys(raw, _CLIENT_KEYS, where, problems)
    client_id = _string(raw, "client_id", where, problems)
    if client_id is None:
        problems.add(f"{where}.client_id", "is required")
        return None
    where = f"clients[{client_id}]"
    method = _string(raw, "token_endpoint_auth_method", where, problems, "client_secret_basic")
    if method not in AUTH_METHODS:
        problems.add(f"{where}.token_endpoint_auth_method", f"must be one of {sorted(AUTH_METHODS)}")
    secret = _string(raw, "client_secret", where, problems)
    if secret is None and method not in ("none", "private_key_jwt"):
        problems.add(f"{where}.client_secret", f"is required with {method}")
    jwks = _public_jwks(raw.get("jwks"), f"{where}.jwks", problems)
    if method == "private_key_jwt" and jwks is None:
        problems.add(f"{where}.jwks", "is required with private_key_jwt (the client's public keys, {keys: [...]})")
    redirect_uris = _strings(raw, "redirect_uris", where, problems)
    grant_types = _strings(raw, "grant_types", where, problems, ("authorization_code", "refresh_token"))
    for grant_type in set(grant_types) - GRANT_TYPES:
        problems.add(f"{where}.grant_types", f"unsupported grant type {grant_type!r}")
    if "authorization_code" in grant_types and not redirect_uris:
        problems.add(f"{where}.redirect_uris", "at least one is required for authorization_code")
    cross_app_access = _cross_app_access(raw.get("cross_app_access"), f"{where}.cross_app_access", problems)
    exchanges = TOKEN_EXCHANGE_GRANT_TYPE in grant_types
    if cross_app_access is not None and not exchanges:
        problems.add(f"{where}.grant_types", f"must list {TOKEN_EXCHANGE_GRANT_TYPE} with cross_app_access")
    if exchanges and cross_app_access is None:
        problems.add(f"{where}.cross_app_access", f"is required with {TOKEN_EXCHANGE_GRANT_TYPE} (audiences: [...])")
    if exchanges and method == "none":
        problems.add(f"{where}.token_endpoint_auth_method", "must authenticate the client for cross_app_access")
    assigned = _strings(raw, "assigned_groups", where, problems) if raw.get("assigned_groups") is not None else None
    return Client(
        client_id=client_id,
        client_secret=secret,
        token_endpoint_auth_method=method or "client_secret_basic",
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=_strings(raw, "post_logout_redirect_uris", where, problems),
        grant_types=grant_types,
        require_pkce=_boolean(raw, "require_pkce", where, problems, True),
        name=_string(raw, "name", where, problems, "") or "",
        jwks=jwks,
        initiate_login_uri=_url(raw, "initiate_login_uri", where, problems),
        target_link_uri=_url(raw, "target_link_uri", where, problems),
        universal_logout=_universal_logout(raw.get("universal_logout"), f"{where}.universal_logout", problems),
        assigned_groups=assigned,
        cross_app_access=cross_app_access,
    )


def _cross_app_access(value: Any, where: str, problems: _Problems) -> CrossAppAccess | None:
    """Return a requesting app's Cross App Access settings: ``{audiences: [...], resource_client_id: ...}``."""
    if value is None:
        return None
    data = _mapping(value, where, problems)
    _unknown_keys(data, frozenset({"audiences", "resource_client_id"}), where, problems)
    audiences = _strings(data, "audiences", where, problems)
    if not audiences:
        problems.add(
            f"{where}.audiences", "must list the resources' identifiers (e.g. http://127.0.0.1:8080/auth/token)"
        )
        return None
    for audience in audiences:
        if not audience.startswith(("https://", "http://")) or len(audience) > MAX_AUDIENCE_LENGTH:
            problems.add(
                f"{where}.audiences", f"{audience[:80]!r} is not an http(s) URL of at most {MAX_AUDIENCE_LENGTH}"
            )
    return CrossAppAccess(audiences=audiences, resource_client_id=_string(data, "resource_client_id", where, problems))


def _url(raw: dict[str, Any], key: str, where: str, problems: _Problems) -> str | None:
    """Return an absolute http(s) URL setting, or None (a problem if it is something else)."""
    value = _string(raw, key, where, problems)
    if value is not None and not value.startswith(("https://", "http://")):
        problems.add(f"{where}.{key}", "must be an absolute http(s) URL")
        return None
    return value


def _universal_logout(value: Any, where: str, problems: _Problems) -> UniversalLogoutTarget | None:
    """Return an app's Universal Logout settings: ``{url: <its endpoint>, subject_format: iss_sub | email}``."""
    if value is None:
        return None
    data = _mapping(value, where, problems)
    _unknown_keys(data, frozenset({"url", "subject_format"}), where, problems)
    url = data.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        problems.add(f"{where}.url", "must be the app's global token revocation endpoint, an http(s) URL")
        return None
    subject_format = data.get("subject_format", "iss_sub")
    if subject_format not in SUBJECT_FORMATS:
        problems.add(f"{where}.subject_format", f"must be one of {', '.join(SUBJECT_FORMATS)}")
        return None
    return UniversalLogoutTarget(url=url, subject_format=subject_format)


def _public_jwks(value: Any, where: str, problems: _Problems) -> dict[str, Any] | None:
    """Return a client's registered public JWKS (for private_key_jwt), or None."""
    if value is None:
        return None
    keys = value.get("keys") if isinstance(value, Mapping) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(key, Mapping) for key in keys):
        problems.add(where, "must be a JWK set: {keys: [<public JWK>, ...]}")
        return None
    if any("d" in key for key in keys):
        problems.add(where, "holds a private key; register only the public half (Okta refuses private keys)")
        return None
    try:
        KeySet.import_key_set({"keys": [dict(key) for key in keys]})
    except (JoseError, ValueError, TypeError) as exc:
        problems.add(where, f"is not a usable JWK set: {exc}")
        return None
    return {"keys": [dict(key) for key in keys]}


_USER_KEYS = frozenset(
    {
        "id",
        "login",
        "password",
        "email",
        "given_name",
        "family_name",
        "status",
        "groups",
        "locale",
        "zoneinfo",
        "updated_at",
    }
)


def _parse_user(raw: dict[str, Any], where: str, problems: _Problems, default_updated_at: int) -> User | None:
    _unknown_keys(raw, _USER_KEYS, where, problems)
    user_id = _string(raw, "id", where, problems)
    login = _string(raw, "login", where, problems)
    password = _string(raw, "password", where, problems)
    if user_id is None or login is None or password is None:
        problems.add(where, "id, login and password are required")
        return None
    where = f"users[{login}]"
    if not _USER_ID.match(user_id):
        log.warning("%s: id %r does not look like an Okta user id (00u + 17 chars)", where, user_id)
    status = _string(raw, "status", where, problems, "ACTIVE") or "ACTIVE"
    if status not in USER_STATUSES:
        problems.add(f"{where}.status", f"must be one of {sorted(USER_STATUSES)}")
    updated_at = raw.get("updated_at", default_updated_at)
    if not isinstance(updated_at, int) or isinstance(updated_at, bool):
        problems.add(f"{where}.updated_at", "must be epoch seconds")
        updated_at = default_updated_at
    return User(
        id=user_id,
        login=login,
        password=password,
        email=_string(raw, "email", where, problems, login) or login,
        given_name=_string(raw, "given_name", where, problems, "") or "",
        family_name=_string(raw, "family_name", where, problems, "") or "",
        status=status,
        groups=_strings(raw, "groups", where, problems),
        locale=_string(raw, "locale", where, problems, "en-US") or "en-US",
        zoneinfo=_string(raw, "zoneinfo", where, problems, "America/Los_Angeles") or "America/Los_Angeles",
        updated_at=updated_at,
    )


def _parse_groups(raw: list[Any], problems: _Problems) -> dict[str, Group]:
    groups: dict[str, Group] = {}
    for index, item in enumerate(raw):
        where = f"groups[{index}]"
        data = _mapping(item, where, problems)
        _unknown_keys(data, frozenset({"name", "description"}), where, problems)
        name = _string(data, "name", where, problems)
        if name is None:
            problems.add(f"{where}.name", "is required")
            continue
        groups[name] = Group(name=name, description=_string(data, "description", where, problems, "") or "")
    return groups


def parse_event_hooks(raw: Any, problems: Any) -> tuple[EventHook, ...]:
    """Validate the ``event_hooks:`` list; ``problems.add(where, message)`` collects errors."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add("event_hooks", "must be a list")
        return ()
    hooks = []
    for index, item in enumerate(raw):
        where = f"event_hooks[{index}]"
        if not isinstance(item, Mapping):
            problems.add(where, "must be a mapping")
            continue
        for key in sorted(set(item) - {"name", "url", "authorization", "events"}):
            problems.add(where, f"unknown key {key!r}")
        url, authorization = item.get("url"), item.get("authorization")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            problems.add(f"{where}.url", "must be an http(s) URL")
            continue
        if not isinstance(authorization, str) or not authorization:
            problems.add(f"{where}.authorization", "must be a non-empty string (the Authorization header value)")
            continue
        events = item.get("events", list(EVENT_TYPES))
        if not isinstance(events, list) or any(e not in EVENT_TYPES for e in events):
            problems.add(f"{where}.events", f"must be a list of: {', '.join(EVENT_TYPES)}")
            continue
        given = item.get("name")
        name = given if isinstance(given, str) else f"hook-{index}"
        hooks.append(EventHook(name=name, url=url, authorization=authorization, events=tuple(events)))
    return tuple(hooks)


def parse_config(
    data: Any,
    *,
    source: str = "<config>",
    base_dir: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    default_updated_at: int = 0,
) -> IdpConfig:
    """Validate parsed YAML ``data`` (plus server ``overrides``) into an IdpConfig."""
    problems = _Problems(source)
    top = _mapping(data, "top level", problems)
    _unknown_keys(top, frozenset({"server", "clients", "users", "groups", "event_hooks"}), "top level", problems)
    server_raw = {**_mapping(top.get("server"), "server", problems), **dict(overrides or {})}
    server = _parse_server(server_raw, base_dir or Path.cwd(), problems)

    clients: dict[str, Client] = {}
    for index, item in enumerate(_list(top.get("clients"), "clients", problems)):
        client = _parse_client(_mapping(item, f"clients[{index}]", problems), f"clients[{index}]", problems)
        if client is not None:
            if client.client_id in clients:
                problems.add(f"clients[{client.client_id}]", "duplicate client_id")
            clients[client.client_id] = client

    users: list[User] = []
    seen: set[str] = set()
    for index, item in enumerate(_list(top.get("users"), "users", problems)):
        user = _parse_user(_mapping(item, f"users[{index}]", problems), f"users[{index}]", problems, default_updated_at)
        if user is None:
            continue
        for key in (user.id, user.login.casefold()):
            if key in seen:
                problems.add(f"users[{user.login}]", f"duplicate id or login {key!r}")
            seen.add(key)
        users.append(user)

    groups = _parse_groups(_list(top.get("groups"), "groups", problems), problems)
    event_hooks = parse_event_hooks(top.get("event_hooks"), problems)
    problems.raise_if_any()
    return IdpConfig(server=server, clients=clients, users=tuple(users), groups=groups, event_hooks=event_hooks)


def load_config(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> IdpConfig:
    """Read and validate the YAML file at ``path``."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        mtime = int(file.stat().st_mtime)
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from exc
    return _parse_text(text, file, overrides, mtime)


def _parse_text(text: str, file: Path, overrides: Mapping[str, Any] | None, mtime: int) -> IdpConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: invalid YAML: {_yaml_problem(exc)}") from exc
    return parse_config(
        data,
        source=str(file),
        base_dir=file.resolve().parent,
        overrides=overrides,
        default_updated_at=mtime,
    )


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Describe a YAML error by position only (PyYAML's text quotes the line, maybe a secret)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else str(problem)


@dataclass(frozen=True)
class _Stamp:
    mtime_ns: int
    size: int
    inode: int


class ConfigStore:
    """Hold the current configuration and re-read the file when it changes.

    A change is noticed by the file's mtime/size/inode; recently modified files are
    also compared by content.  An unreadable or invalid new version is logged and the
    previous configuration is kept.
    """

    def __init__(self, path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> None:
        self._path = Path(path)
        self._overrides = dict(overrides or {})
        self._lock = threading.Lock()
        self._stamp = self._read_stamp()
        self._digest, self._config = self._load()

    @property
    def path(self) -> Path:
        """Return the configuration file's path."""
        return self._path

    def current(self) -> IdpConfig:
        """Return the configuration, re-reading the file first if it changed."""
        stamp = self._read_stamp()
        if stamp is None or (stamp == self._stamp and not self._is_fresh(stamp)):
            return self._config
        with self._lock:
            try:
                digest, config = self._load()
            except ConfigError as exc:
                if stamp != self._stamp:
                    log.warning("keeping the previous configuration: %s", exc)
                self._stamp = stamp
                return self._config
            if digest != self._digest:
                log.info("reloaded %s", self._path)
            self._stamp, self._digest, self._config = stamp, digest, config
            return config

    def _load(self) -> tuple[str, IdpConfig]:
        try:
            data = self._path.read_bytes()
            mtime = int(self._path.stat().st_mtime)
        except OSError as exc:
            raise ConfigError(f"{self._path}: cannot read: {exc.strerror}") from exc
        digest = hashlib.sha256(data).hexdigest()
        if digest == getattr(self, "_digest", None):
            return digest, self._config
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{self._path}: not UTF-8") from exc
        return digest, _parse_text(text, self._path, self._overrides, mtime)

    def _read_stamp(self) -> _Stamp | None:
        try:
            st = self._path.stat()
        except OSError:
            return None
        return _Stamp(st.st_mtime_ns, st.st_size, st.st_ino)

    @staticmethod
    def _is_fresh(stamp: _Stamp) -> bool:
        return time.time_ns() - stamp.mtime_ns < _FRESH_NS
