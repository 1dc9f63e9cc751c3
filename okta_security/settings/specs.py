"""Every okta_security setting, documented once: name, default, meaning (README's table comes from here)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class SettingSpec:
    """One documented setting: its variable name, default and meaning."""

    name: str
    default: str | None
    description: str
    secret: bool = False
    required: bool = False


def default_mapping_file() -> str:
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
        "OKTA_CLIENT_SECRET",
        None,
        "Client secret of the Okta OIDC web application. Required unless `OKTA_TOKEN_AUTH_METHOD=private_key_jwt`.",
        secret=True,
    ),
    SettingSpec(
        "OKTA_ROLE_MAPPING_FILE",
        "$AIRFLOW_HOME/okta_role_mapping.yaml",
        "YAML file mapping Okta groups to Airflow roles; re-read when it changes.",
    ),
    SettingSpec(
        "OKTA_TOKEN_AUTH_METHOD",
        "client_secret_basic",
        "Token endpoint client authentication: `client_secret_basic`, `client_secret_post` or `private_key_jwt` "
        "(no shared secret; set `OKTA_CLIENT_PRIVATE_KEY`). Default: `private_key_jwt` when a private key is set.",
    ),
    SettingSpec(
        "OKTA_CLIENT_PRIVATE_KEY",
        "",
        "Private RSA key (PEM or JWK) of the Okta app for `private_key_jwt`; its public half is registered in Okta.",
        secret=True,
    ),
    SettingSpec(
        "OKTA_CLIENT_KEY_ID",
        "",
        "Key ID (`kid`) of that key in Okta. Empty: the JWK's own `kid`, if any.",
    ),
    SettingSpec("OKTA_GROUPS_CLAIM", "groups", "Name of the claim that carries the user's Okta groups."),
    SettingSpec(
        "OKTA_EXTRA_SCOPES",
        "",
        "Space-separated scopes requested on top of `openid profile email` (and `groups` when offered).",
    ),
    SettingSpec(
        "OKTA_CLOCK_SKEW_SECONDS", "60", "Leeway allowed on ID token and access token `exp`/`iat`, in seconds (0-300)."
    ),
    SettingSpec("OKTA_HTTP_TIMEOUT_SECONDS", "10", "Connect and read timeout for calls to Okta, in seconds."),
    SettingSpec(
        "OKTA_POST_LOGOUT_REDIRECT_URI",
        "",
        "Where Okta sends the browser after logout; register it as a sign-out redirect URI in Okta. "
        "Empty: Airflow's login page (`<base url>/auth/login/`).",
    ),
    SettingSpec(
        "OKTA_SESSION_MAX_LIFETIME_MINUTES",
        "720",
        "Hard limit on an Airflow session (and its API token) after login; then the user goes back "
        "through Okta and roles are re-synced. Applied unless `[fab] session_max_lifetime_minutes` is set. 0 = off.",
    ),
)
# Bots (docs/bots.md): Okta client-credentials access tokens exchanged at POST /auth/token.
SETTINGS += (
    SettingSpec(
        "OKTA_BOT_ISSUER",
        "",
        "Issuer of the access tokens bots present (an Okta custom authorization server). Empty: `OKTA_ISSUER`.",
    ),
    SettingSpec(
        "OKTA_BOT_AUDIENCE",
        "api://default",
        "Required `aud` of bots' access tokens: the custom authorization server's Audience "
        "(`api://default` on Okta's `default` server; e.g. `api://airflow` on a dedicated one).",
    ),
    SettingSpec(
        "OKTA_BOT_SCOPES",
        "airflow.api",
        "Space-separated scopes a bot's access token must all carry in `scp` (custom scopes defined in Okta).",
    ),
)
# Groups (docs/groups.md): where groups come from, and Okta's Management API for the Groups API source.
SETTINGS += (
    SettingSpec(
        "OKTA_GROUPS_SOURCE",
        "auto",
        "Where a user's groups come from: `auto` (the ID token's groups claim, else userinfo; Okta's Groups API "
        "only when those carry no groups and API credentials are set), `claims` (never the API) or `api` "
        "(always the Groups API — for users in more than 100 groups).",
    ),
    SettingSpec(
        "OKTA_GROUPS_FILTER",
        "",
        "Only groups passing this filter count, from any source: a name prefix such as `airflow-`, or "
        "`re:<regex>` matched against the whole name. Empty: every group.",
    ),
    SettingSpec(
        "OKTA_API_TOKEN",
        None,
        "Okta API token for the Groups API, sent as `Authorization: SSWS …`. Set this or the service app "
        "(`OKTA_API_CLIENT_ID` + `OKTA_API_PRIVATE_KEY`), not both.",
        secret=True,
    ),
    SettingSpec(
        "OKTA_API_CLIENT_ID",
        "",
        "Client ID of an Okta API Services app for the Groups API (recommended over an API token): client "
        "credentials with `private_key_jwt` at `https://<org>/oauth2/v1/token`, scopes `okta.users.read okta.groups.read`.",
    ),
    SettingSpec(
        "OKTA_API_PRIVATE_KEY",
        None,
        "The service app's private RSA key, PEM or JWK (its public half is registered in Okta).",
        secret=True,
    ),
    SettingSpec(
        "OKTA_API_KEY_ID",
        "",
        "Key ID (`kid`) of the service app's public key in Okta. Empty: the JWK's own `kid`, if any.",
    ),
    SettingSpec("OKTA_API_CONNECT_TIMEOUT_SECONDS", "5", "Connect timeout of each Groups API call, in seconds."),
    SettingSpec("OKTA_API_READ_TIMEOUT_SECONDS", "10", "Read timeout of each Groups API call, in seconds."),
    SettingSpec(
        "OKTA_API_MAX_RETRIES", "2", "Retries of a Groups API call after HTTP 429, a 5xx or a connection error (0-10)."
    ),
    SettingSpec(
        "OKTA_API_MAX_WAIT_SECONDS",
        "10",
        "Longest one login waits, in total, for Okta's rate limit to reset (`X-Rate-Limit-Reset`) or between "
        'retries; past it the login is refused with "Okta is not answering" and roles stay as they were.',
    ),
)
# ID token validation (docs/oidc_conformance.md): how often Okta's signing keys may be re-fetched.
SETTINGS += (
    SettingSpec(
        "OKTA_JWKS_REFETCH_INTERVAL_SECONDS",
        "30",
        "Least time between two re-fetches of Okta's signing keys (JWKS) caused by an ID token signed with an "
        "unknown `kid` (key rotation); bounds the calls to Okta that forged tokens can trigger (0-3600).",
    ),
)
# Audit trail and Okta Event Hooks (docs/audit.md, docs/event_hooks.md).
SETTINGS += (
    SettingSpec(
        "OKTA_AUDIT_LOG_HANDLER",
        "stdout",
        "Where audit events go as JSON lines (logger `okta_security.audit`): `stdout`, `stderr`, `logging` "
        "(your logging configuration decides) or an absolute file path. They also go to Airflow's Audit Log.",
    ),
    SettingSpec(
        "OKTA_EVENT_HOOK_SECRET",
        "",
        "The exact `Authorization` header value Okta sends to `/auth/okta/events` (the event hook's "
        "authentication secret). Empty: the endpoint answers 404.",
        secret=True,
    ),
)
SPECS: Mapping[str, SettingSpec] = {s.name: s for s in SETTINGS}


def settings_table() -> str:
    """Return the Markdown settings table README.md embeds (``python -m okta_devstack.readme`` writes it)."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = "(required)" if s.required else (f"`{s.default}`" if s.default else "(empty)")
        secret = f" Secret: prefer `{s.name}_FILE`." if s.secret else ""
        rows.append(f"| `{s.name}` | {default} | {s.description}{secret} |")
    return "\n".join(rows) + "\n"
