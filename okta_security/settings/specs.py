"""Every okta_security setting, declared once: the fields of :class:`OktaSettings`.

A field's name gives its places: ``clock_skew_seconds`` is ``OKTA_CLOCK_SKEW_SECONDS``, ``..._FILE`` and
``[okta] clock_skew_seconds``; :func:`setting` gives its kind, default, secrecy and documentation. The loader,
Airflow's ``[okta]`` section (:mod:`okta_security.provider`), the README table and the doctor read them; no
default is written anywhere else. Which place wins: the precedence rule in :mod:`okta_security.settings.loader`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from okta_security.audit import DEFAULT_HANDLER
from okta_security.settings import kinds

if TYPE_CHECKING:
    from collections.abc import Mapping

    from okta_security.mapping.patterns import GroupFilter
    from okta_security.settings.secrets import Secret

AIRFLOW_SECTION = "okta"  # Airflow's configuration section: [okta] <field name>
_DECLARATION = "okta_security.setting"


@dataclass(frozen=True)
class SettingSpec:
    """One declared setting, as the loader, the README and the doctor see it; the names follow its field's."""

    kind: kinds.Kind
    default: str | None = ""  # as written in the environment; None: required
    secret: bool = field(default=False, kw_only=True)
    doc: str = ""  # one line of the README table
    field: str = ""  # the OktaSettings attribute, e.g. clock_skew_seconds; also the [okta] option
    name: str = ""  # the environment variable, e.g. OKTA_CLOCK_SKEW_SECONDS
    file_name: str = ""  # the variable naming a file that holds the value, OKTA_X_FILE
    airflow_name: str = ""  # how messages name the Airflow option, e.g. [okta] issuer
    airflow_env: str = ""  # Airflow's environment variable for the option, AIRFLOW__OKTA__X

    @property
    def option(self) -> str:  # in Airflow's [okta] section
        return self.field

    @property
    def required(self) -> bool:
        return self.default is None

    @property
    def accepts(self) -> str:
        """Return what the setting takes, in words (README table, Airflow's [okta] section)."""
        return "secret text" if self.secret and type(self.kind) is kinds.Text else self.kind.accepts

    def about(self, doc: str) -> Any:
        """Return the field of :class:`OktaSettings` this declares, documented by ``doc``; its default is the parsed
        ``default`` (None for secrets), as the loader gives it, except for kinds reading files (``$AIRFLOW_HOME``).
        """
        declared = {_DECLARATION: replace(self, doc=doc)}
        if self.default is None or self.kind.reads_files:
            return field(metadata=declared)
        return field(default=None if self.secret else self.kind.parse(self.default), metadata=declared)


setting = SettingSpec  # a declaration reads ``x: int = setting(kind, "60").about("...")``; default=None: required


@dataclass(frozen=True, kw_only=True)
class OktaSettings:
    """Validated settings; build with :func:`okta_security.settings.loader.load_settings`."""

    issuer: str = setting(kinds.Issuer(), None).about(
        "Authorization server issuer, e.g. `https://dev-123456.okta.com/oauth2/default` (custom server) "
        "or `https://dev-123456.okta.com` (org server). `http://` only for loopback hosts."
    )
    client_id: str = setting(kinds.Text(), None).about("Client ID of the Okta OIDC web application.")
    client_secret: Secret | None = setting(kinds.Text(), secret=True).about(
        "Client secret of the Okta OIDC web application. Required unless `OKTA_TOKEN_AUTH_METHOD=private_key_jwt`."
    )
    role_mapping_file: str = setting(kinds.MappingFile(), "$AIRFLOW_HOME/okta_role_mapping.yaml").about(
        "YAML file mapping Okta groups to Airflow roles; re-read when it changes."
    )
    role_mapping_check_seconds: float = setting(kinds.Number(0.1, 3600), "1").about(
        "Least time between two looks at the role mapping file for a change, per webserver process: the "
        "next login after it looks, and a background thread looks this often (never more than twice a second)."
    )
    token_auth_method: str = setting(
        kinds.Choice(("client_secret_basic", "client_secret_post", "private_key_jwt")), "client_secret_basic"
    ).about(
        "Token endpoint client authentication; `private_key_jwt` needs no shared secret (set "
        "`OKTA_CLIENT_PRIVATE_KEY`). Default: `private_key_jwt` when a private key is set."
    )
    client_private_key: Secret | None = setting(kinds.PrivateKey("the Okta app's"), secret=True).about(
        "Private RSA key of the Okta app for `private_key_jwt`; its public half is registered in Okta. "
        "Given as a JWK, its `kid` names the key to Okta (needed once the app has several keys)."
    )
    groups_claim: str = setting(kinds.Text(), "groups").about("Name of the claim that carries the user's Okta groups.")
    extra_scopes: tuple[str, ...] = setting(kinds.Words()).about(
        "Scopes requested on top of `openid profile email` (and `groups` when offered)."
    )
    clock_skew_seconds: int = setting(kinds.Number(0, 300, integer=True), "60").about(
        "Leeway allowed on ID token and access token `exp`/`iat`, in seconds."
    )
    http_timeout_seconds: float = setting(kinds.Number(0.1, 120), "10").about(
        "Connect and read timeout of every call to Okta (discovery, keys, token, userinfo, Management API), in seconds."
    )
    post_logout_redirect_uri: str = setting(
        kinds.AbsoluteUrl("https://airflow.example.com/auth/login/, registered as a sign-out redirect URI in Okta")
    ).about(
        "Where Okta sends the browser after logout; register it as a sign-out redirect URI in Okta. "
        "Empty: Airflow's login page (`<base url>/auth/login/`)."
    )
    session_max_lifetime_minutes: int = setting(kinds.Number(0, 525600, integer=True), "720").about(
        "Hard limit on an Airflow session (and its API token) after login; then the user goes back "
        "through Okta and roles are re-synced. Applied unless `[fab] session_max_lifetime_minutes` is set. 0 = off."
    )
    # Accounts (docs/security.md): an account is pinned to the Okta user it is linked to.
    adopt_unlinked_accounts: bool = setting(kinds.Flag(), "true").about(
        "Let a sign-in take over an Airflow account no Okta user is linked to yet, when its username is the "
        "person's Okta login (an account made before Okta) or FAB's `okta_<user id>` (audited as `user.adopted`). "
        "`false` once migrated: such a sign-in is refused (`unlinked_account`) until `okta-airflow relink USER "
        "--to-okta-user ID` links the account. A linked account is never signed into by another Okta user, "
        "whatever this says."
    )

    # Bots (docs/bots.md): Okta client-credentials access tokens exchanged at POST /auth/token.
    bot_issuer: str = setting(kinds.Issuer()).about(
        "Issuer of the access tokens bots present (an Okta custom authorization server). Empty: `OKTA_ISSUER`."
    )
    bot_audience: str = setting(kinds.Text(), "api://default").about(
        "Required `aud` of bots' access tokens: the custom authorization server's Audience "
        "(`api://default` on Okta's `default` server; e.g. `api://airflow` on a dedicated one)."
    )
    bot_scopes: tuple[str, ...] = setting(kinds.Words(), "airflow.api").about(
        "Scopes a bot's access token must all carry in `scp` (custom scopes defined in Okta)."
    )
    # People on the API (docs/people-api.md): a person's Okta access token exchanged at POST /auth/token.
    cli_client_id: tuple[str, ...] = setting(kinds.Words()).about(
        "Client IDs of the Okta native apps (Device Authorization grant, no secret) allowed to act for people: "
        "a person's access token from one of them, issued like a bot's (`OKTA_BOT_ISSUER`, `OKTA_BOT_AUDIENCE`, "
        "`OKTA_BOT_SCOPES`), becomes an Airflow token with that person's own roles (`okta-airflow login`). "
        "Empty: people cannot exchange tokens."
    )
    person_sign_ins_per_minute: int = setting(kinds.Number(1, 10000, integer=True), "30").about(
        "Sign-ins one person may make with Okta access tokens per minute on each Airflow worker "
        "(`POST /auth/token`, and the Airflow 2.11 API's first request with a new token); past it the "
        "answer is HTTP 429 with `Retry-After`. Each sign-in reads the person's account and may call Okta."
    )

    # Groups (docs/groups.md): where groups come from, and Okta's Management API for the Groups API source.
    groups_source: str = setting(kinds.Choice(("auto", "claims", "api"), "docs/groups.md"), "auto").about(
        "Where a user's groups come from: `auto` (the ID token's groups claim, else userinfo; Okta's Groups API "
        "only when those carry no groups and API credentials are set), `claims` (never the API) or `api` "
        "(always the Groups API — for users in more than 100 groups)."
    )
    groups_filter: GroupFilter = setting(kinds.GroupFilterSpec()).about(
        "Only groups passing this filter count, from any source: a name prefix such as `airflow-`, or "
        "`re:<regex>` matched against the whole name. Empty: every group."
    )
    api_token: Secret | None = setting(kinds.Text(), secret=True).about(
        "Okta API token for the Groups API, sent as `Authorization: SSWS …`. Set this or the service app "
        "(`OKTA_API_CLIENT_ID` + `OKTA_API_PRIVATE_KEY`), not both."
    )
    api_client_id: str = setting(kinds.Text()).about(
        "Client ID of an Okta API Services app for the Groups API (recommended over an API token): client "
        "credentials with `private_key_jwt` at `https://<org>/oauth2/v1/token`, scopes `okta.users.read okta.groups.read`."
    )
    api_private_key: Secret | None = setting(kinds.PrivateKey("the service app's"), secret=True).about(
        "The service app's private RSA key (its public half is registered in Okta); as a JWK, its `kid` names it."
    )
    api_max_wait_seconds: float = setting(kinds.Number(0, 300), "10").about(
        "Longest one login waits, in total, on Okta's API: for its rate limit to reset (`X-Rate-Limit-Reset`) or "
        'between retries after a 5xx or a connection error; past it the login is refused with "Okta is not '
        'answering" and roles stay as they were.'
    )

    # ID token validation (docs/oidc_conformance.md): how often Okta's signing keys may be re-fetched.
    # never 0: each forged token with a new kid could then make Okta calls
    jwks_refetch_interval_seconds: float = setting(kinds.Number(1, 3600), "30").about(
        "Least time between two re-fetches of Okta's signing keys (JWKS) caused by a token signed with an "
        "unknown `kid` (key rotation); bounds the calls to Okta that forged tokens can trigger. A failed fetch "
        "is retried after 1 s, then 2, 4 ... 60 s, whatever this says."
    )
    # Roles-as-code (docs/mapping-cookbook.md): when a login looks for new DAGs to expand globs to.
    role_sync_check_seconds: float = setting(kinds.Number(0, 86400), "60").about(
        "Least time between two looks at Airflow's DAG list from the login path (one `SELECT dag_id FROM dag`), "
        "per webserver process; a changed list re-syncs the roles the mapping file declares."
    )
    # Audit trail and Okta Event Hooks (docs/audit.md, docs/event_hooks.md).
    audit_log_handler: str = setting(kinds.AuditHandler(), DEFAULT_HANDLER).about(
        "Where audit events go as JSON lines (logger `okta_security.audit`): `logging` leaves it to your logging "
        "configuration, a path is appended to. They also go to Airflow's Audit Log."
    )
    audit_count_write_seconds: float = setting(kinds.Number(0.1, 60), "5").about(
        "Most time the count in an Audit Log row that stands for many refusals (one row per source, reason and "
        "minute once a flood starts) lags the refusals it counts, per webserver process."
    )
    event_hook_secret: Secret | None = setting(kinds.Text(), secret=True).about(
        "The exact `Authorization` header value Okta sends to `/auth/okta/events` (the event hook's "
        "authentication secret). Empty: the endpoint answers 404."
    )
    # Okta's Universal Logout (docs/security.md): the global token revocation endpoint.
    universal_logout_endpoint: str = setting(
        kinds.AbsoluteUrl("https://airflow.example.com/auth/okta/global-token-revocation")
    ).about(
        "Public URL of Airflow's `<base url>/auth/okta/global-token-revocation`, exactly as entered in the Okta "
        "app's Universal Logout settings: the signed JWT's required `aud`. Okta's request then ends every "
        "session of the person and refuses their older Airflow tokens, on every replica. Empty: the endpoint "
        "answers 404."
    )
    # AI agents acting for a person (docs/agents.md): Okta Cross App Access (ID-JAG) and RFC 8693 token exchange.
    agent_audience: str = setting(kinds.AbsoluteUrl("https://airflow.example.com/auth/token")).about(
        "The `aud` an agent's ID-JAG must carry: the resource identifier entered for Airflow in Okta's Cross App "
        "Access set-up, by convention the public URL of Airflow's `<base url>/auth/token`. Empty: ID-JAGs are "
        "refused (token exchange with a person's token still works for agents listed under `agents:`)."
    )
    agent_token_minutes: int = setting(kinds.Number(1, 60, integer=True), "15").about(
        "Longest life of an Airflow token issued to an AI agent acting for a person; it is shorter still when "
        "the ID-JAG, or the person's or the agent's Okta token, expires first."
    )

    @property
    def groups_api_org_url(self) -> str:
        """Return the Okta org URL (scheme and host of ``OKTA_ISSUER``) that serves the Management API."""
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def groups_api_configured(self) -> bool:
        return self.api_token is not None or self.api_private_key is not None

    @property
    def access_token_issuer(self) -> str:
        """Return the issuer bots' access tokens must name (``OKTA_BOT_ISSUER``, else ``OKTA_ISSUER``)."""
        return self.bot_issuer or self.issuer

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


SETTINGS: tuple[SettingSpec, ...] = tuple(
    replace(
        f.metadata[_DECLARATION],
        field=f.name,
        name=f"OKTA_{f.name.upper()}",
        file_name=f"OKTA_{f.name.upper()}_FILE",
        airflow_name=f"[{AIRFLOW_SECTION}] {f.name}",
        airflow_env=f"AIRFLOW__{AIRFLOW_SECTION.upper()}__{f.name.upper()}",
    )
    for f in fields(OktaSettings)
)
SPECS: Mapping[str, SettingSpec] = {s.name: s for s in SETTINGS}
