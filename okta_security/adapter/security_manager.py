"""``OktaSecurityManager``: wires Flask-AppBuilder's OAuth hooks to okta_security's pure logic."""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, cast

import requests
from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride
from authlib.integrations.base_client.errors import OAuthError
from flask import current_app, session
from sqlalchemy.exc import IntegrityError

from okta_security import audit
from okta_security.adapter import (
    admin_edits,
    agents,
    audit_log,
    db,
    login_accounts,
    login_audit,
    metrics,
    outage,
    step_up,
)
from okta_security.adapter.account_changes import EngineAccounts
from okta_security.adapter.agents import EngineDelegations, EngineGrantLedger
from okta_security.adapter.bots import FabServiceUsers, retire_service_users
from okta_security.adapter.compat import with_session_property
from okta_security.adapter.event_hook_view import OktaEventHookView
from okta_security.adapter.role_sync import RoleSyncer
from okta_security.adapter.sessions import enforce_session_max_lifetime
from okta_security.adapter.universal_logout import UniversalLogoutView, build_service, install_session_check
from okta_security.adapter.views import CSRF_CHECKED_BY_THE_VIEW, OktaAuthOAuthView
from okta_security.audit import audit_event
from okta_security.errors import (
    ConfigError,
    DiscoveryMismatch,
    LoginRefused,
    MappingError,
    OktaError,
    OktaUnavailable,
    StateMismatch,
)
from okta_security.lifecycle.changes import OktaChanges
from okta_security.lifecycle.hook_worker import EventHookWorker
from okta_security.lifecycle.okta_directory import OktaDirectory
from okta_security.login.decision import LoginPolicy, needs_userinfo
from okta_security.login.delegation import AgentDoor
from okta_security.login.doors import BotDoor, PersonDoor
from okta_security.login.okta_reader import OktaApiReader
from okta_security.login.outcome import LoginAuditFields, LoginOutcome
from okta_security.login.service import SignInService
from okta_security.mapping.roles import BUILTIN_ROLES  # valid in the mapping even before the first sync
from okta_security.mapping.watch import watch_mapping
from okta_security.oidc.id_token import verify_id_token
from okta_security.oidc.keys import keys_for
from okta_security.oidc.provider import PROVIDER_NAME, client_credential, scopes_for
from okta_security.okta_api.auth import build_groups_client
from okta_security.people.rate_limit import PersonRateLimit
from okta_security.settings.loader import check_webserver_config
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow.providers.fab.auth_manager.models import User

    from okta_security.mapping.rules import RoleMapping
    from okta_security.mapping.store import MappingStore
    from okta_security.settings.loader import OktaSettings

log = logging.getLogger(__name__)

DISCOVERY_MAX_AGE_SECONDS = 3600  # re-read Okta's discovery document at most hourly


@with_session_property  # Airflow 2.11 / FAB 4: `self.session` as on Airflow 3
class OktaSecurityManager(FabAirflowSecurityManagerOverride):
    """Security manager that logs people in with Okta and syncs their roles from the mapping file."""

    authoauthview = OktaAuthOAuthView
    # Accounts come from Okta only: FAB's self-registration views (/register/...) are never added.
    registeruseroauthview = staticmethod(lambda: None)

    def __init__(self, appbuilder: Any) -> None:
        super().__init__(appbuilder)
        config = current_app.config
        check_webserver_config(config)  # an OKTA_* setting assigned there would be silently ignored
        self.okta_settings: OktaSettings = config["OKTA_SETTINGS"]
        self.okta_mapping: MappingStore = config["OKTA_ROLE_MAPPING_STORE"]
        settings = self.okta_settings
        # One key cache per issuer in this process: ID tokens', and access tokens' (often the same).
        keys = functools.partial(
            keys_for, timeout=settings.http_timeout_seconds, min_refetch_interval=settings.jwks_refetch_interval_seconds
        )
        self.okta_jwks = keys(settings.issuer)
        # None without Management API credentials: groups then come from the claims only.
        api = build_groups_client(settings)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        # Roles-as-code: the mapping file's ``roles:``, re-expanded when the DAG list changes.
        self.okta_role_sync = RoleSyncer(self, check_interval=settings.role_sync_check_seconds)
        # Role names are only checkable once the database is reachable: fail start-up on unknown ones.
        self.okta_mapping.attach(
            known_roles=self._known_roles,
            on_reload=lambda old, new: self._on_mapping_reload(app, old, new),
            on_reject=self._on_mapping_reject,
        )
        self._check_step_up(self.okta_mapping.current())
        watch_mapping(app, self.okta_mapping, release=lambda: getattr(self.session, "remove", lambda: None)())
        audit.configure(settings.audit_log_handler)
        audit_log.install(settings.audit_count_write_seconds)  # audit events also become Audit Log rows
        enforce_session_max_lifetime(app)  # Airflow 2.11; on Airflow 3 the FAB provider does it
        install_session_check(app)  # a session that began before Okta's Universal Logout of the person ends
        db.ensure_tables(self.okta_engine)  # okta_security_user / _event_receipt (leavers, event hooks)
        admin_edits.install(self.user_model)  # an administrator's edit outranks okta_security's marker
        # Okta's word on accounts (event hooks, a sign-in that maps to nothing), written with its evidence time.
        self.okta_changes = OktaChanges(
            EngineAccounts(self.okta_engine),
            directory=OktaDirectory(api) if api is not None else None,
            groups_filter=settings.groups_filter,
        )
        self.okta_accounts = login_accounts.FabAccounts(self)
        self.okta_sign_in: SignInService[User] = SignInService(
            accounts=self.okta_accounts,
            okta=OktaApiReader(api) if api is not None else None,
            mapping=self._current_mapping,
            policy=LoginPolicy.from_settings(settings, api_configured=api is not None),
            audit=login_audit.audit,
            adopt_unlinked=settings.adopt_unlinked_accounts,
        )
        access_keys = keys(settings.access_token_issuer)
        limit = PersonRateLimit(settings.person_sign_ins_per_minute)
        self.okta_people: PersonDoor[User] = PersonDoor(
            service=self.okta_sign_in, settings=settings, keys=access_keys, limit=limit, events=login_audit
        )
        self.okta_bots: BotDoor[User] = BotDoor(
            service=self.okta_sign_in, service_users=FabServiceUsers(self), settings=settings, keys=access_keys
        )
        # AI agents acting for a person: ID-JAGs are signed with the Okta org's keys.
        self.okta_agents: AgentDoor[User] = AgentDoor(
            people=self.okta_people,
            org_keys=lambda: keys(settings.groups_api_org_url),
            ledger=EngineGrantLedger(),
            ended=agents.CUTS,
        )
        self._check_discovery_soon()

    def find_user(self, username: str | None = None, email: str | None = None) -> User | None:
        """Return the user by username (any case) or email, its roles' permissions loaded only if asked for."""
        return cast("User | None", db.find_user(self, username=username, email=email))

    def load_user(self, pk: int) -> User | None:
        """Load the session's user; without this browser's step-up evidence, with the other roles' permissions."""
        user = super().load_user(pk)
        limited = step_up.restricted(user, self.okta_mapping.current().step_up, step_up.browser_step_up_until())
        if user is not None and limited is not None:
            user._perms = limited[1]  # type: ignore[assignment]  # FAB's per-instance cache of the permissions; this instance is this request's
        return user

    def _current_mapping(self) -> RoleMapping:
        """Return the mapping a sign-in uses; declared roles' DAG globs pick up new DAGs on the way."""
        mapping = self.okta_mapping.current()
        self.okta_role_sync.maybe_resync(mapping)
        return mapping

    def _known_roles(self) -> list[str]:
        return sorted({r.name for r in self.get_all_roles()} | set(BUILTIN_ROLES))

    def register_views(self) -> None:
        """Register FAB's views, then the Okta Event Hooks and Universal Logout endpoints (``/auth/okta/...``)."""
        super().register_views()
        csrf = self.appbuilder.get_app.extensions.get("csrf")
        for endpoint in CSRF_CHECKED_BY_THE_VIEW if csrf is not None else ():
            csrf.exempt(endpoint)  # it checks the same token itself, reading the body no further than its limit
        hooks, logout = OktaEventHookView(), UniversalLogoutView()
        receipts, changes = db.EngineReceipts(self.okta_engine), self.okta_changes
        hooks.worker = EventHookWorker(
            receipts, changes, self.okta_mapping.current, metrics.event_hook_processed, EngineDelegations()
        )
        logout.service = build_service(self.okta_settings)
        for view in (hooks, logout):  # Okta authenticates with a shared secret or a signed JWT, never a cookie
            self.appbuilder.add_view_no_menu(view)
            if csrf is not None and view.blueprint is not None:
                csrf.exempt(view.blueprint)
        outage.install(self.appbuilder.get_app, lambda: self.session)  # database down: a 503 page, not a 500

    def sync_roles(self) -> None:
        """Sync FAB's built-in roles, then the roles the mapping file declares (at start, ``fab sync-perm``)."""
        once_more_after_a_race(super().sync_roles, self.session.rollback)
        self.okta_role_sync.sync(self.okta_mapping.current(), reason="webserver start")
        retire_service_users(self, self.okta_mapping.current(), trigger="webserver start")  # never raises

    def _on_mapping_reload(self, app: Any, old: RoleMapping, new: RoleMapping) -> None:
        # Keep FAB's own view of the policy in step with the file (its exact-name rules).
        app.config["AUTH_ROLES_MAPPING"] = new.exact_roles_mapping()
        log.info("Role mapping reloaded from %s (version %s)", new.source, new.digest[:12])
        audit_event(
            "mapping.reloaded",
            owner=None,
            file=new.source,
            old_version=old.digest[:12],
            new_version=new.digest[:12],
            rules=len(new.rules),
            default_role=new.default_role,
        )
        try:
            self._check_step_up(new)
        except ConfigError as e:  # the file is the policy: say loudly that part of it is not enforced
            log.error("okta_security: %s", e)
        self.okta_role_sync.sync(new, reason="mapping reload")  # never raises; failures keep the roles as they were
        retire_service_users(self, new, trigger="mapping reload")  # bots' users the file no longer gives

    @staticmethod
    def _check_step_up(mapping: RoleMapping) -> None:
        """Refuse to start with step-up roles Airflow's tokens would not withhold (a stock auth manager)."""
        from airflow.configuration import conf

        problem = step_up.enforcement_problem(conf.get("core", "auth_manager", fallback="") or "")
        if mapping.step_up is not None and problem:
            raise ConfigError([problem], source=mapping.source)

    def _on_mapping_reject(self, error: MappingError) -> None:
        audit_event(
            "mapping.rejected",
            owner=None,
            file=self.okta_mapping.path,
            problems=error.problems,
            outcome="last good mapping kept",
        )

    @property
    def okta_engine(self) -> Any:
        return self.session.get_bind()

    def _oauth_calculate_user_roles(self, userinfo: dict[str, Any]) -> list[Any]:
        """Apply the mapping file, never adding FAB's registration role on top (FAB code paths)."""
        names = self.okta_mapping.current().resolve(userinfo.get("role_keys", []))
        return [r for r in (self.find_role(n) for n in sorted(names)) if r is not None]

    def okta_authorize_scope(self) -> str:
        """Return the scope to request, from the discovery document (cached by authlib)."""
        remote = self.oauth_remotes[PROVIDER_NAME]
        try:
            metadata = self._discovery(remote)
        except (requests.RequestException, ValueError) as e:
            raise OktaUnavailable(
                "Okta is not answering (its discovery document could not be loaded). Try again in a minute."
            ) from e
        if metadata.get("issuer") != self.okta_settings.issuer:
            # OIDC Discovery 4.3: the issuer in the document MUST be the one we were configured with.
            raise DiscoveryMismatch(
                f"Okta's discovery document names the issuer {metadata.get('issuer')!r}, but OKTA_ISSUER is "
                f"{self.okta_settings.issuer!r}. Nobody can sign in until OKTA_ISSUER is set to the exact issuer."
            )
        return scopes_for(metadata, self.okta_settings.extra_scopes)

    @staticmethod
    def _discovery(remote: Any) -> dict[str, Any]:
        """Return the discovery document, re-read hourly (a new scope, a moved endpoint); a failed refresh keeps the copy."""
        metadata = remote.server_metadata
        loaded_at = metadata.get("_loaded_at")
        if loaded_at is not None and time.time() - loaded_at > DISCOVERY_MAX_AGE_SECONDS:
            metadata.pop("_loaded_at", None)
            try:
                return remote.load_server_metadata()
            except (requests.RequestException, ValueError):
                metadata["_loaded_at"] = loaded_at
                log.warning("Could not refresh Okta's discovery document; using the cached copy")
                return metadata
        return remote.load_server_metadata()

    def _check_discovery_soon(self) -> None:
        """Report a wrong OKTA_ISSUER in the log at start, without delaying the start."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def check() -> None:
            with app.app_context():
                try:
                    self.okta_authorize_scope()
                except LoginRefused as e:
                    log.error("okta_security start-up check [%s]: %s", e.code, loggable(e.message, 2000))

        threading.Thread(target=check, name="okta-discovery-check", daemon=True).start()

    def okta_complete_login(self, args: Mapping[str, str], fab_state_ok: bool) -> LoginOutcome[User]:
        """Turn the callback's query into a signed-in user or a refusal: the I/O, in order, around two pure steps."""
        facts, id_token = LoginAuditFields(), None
        try:
            if "error" in args:
                raise OktaError(args["error"], args.get("error_description"))
            remote = self.oauth_remotes[PROVIDER_NAME]
            state_data = self._take_state(remote, args.get("state"), fab_state_ok)
            token = self._exchange_code(remote, args.get("code", ""), state_data)
            answered_at = time.time()  # Okta vouched for the person now: a code is never an old word
            id_token = token.get("id_token")
            claims = self._verify(id_token or "", state_data.get("nonce"))
            facts = LoginAuditFields.from_claims(claims)
            service = self.okta_sign_in
            userinfo = self._userinfo(remote, token) if needs_userinfo(claims, service.policy) else None
            outcome = service.sign_in(claims, userinfo=userinfo, issued_at=answered_at, facts=facts)
        except LoginRefused as e:
            return LoginOutcome(facts, id_token=id_token, refusal=e)
        return replace(outcome, id_token=id_token)

    def _take_state(self, remote: Any, state: str | None, fab_state_ok: bool) -> dict[str, Any]:
        """Return the sign-in this browser started (PKCE verifier, nonce), once; else refuse."""
        state_data = remote.framework.get_state_data(session, state) if state else None
        if not fab_state_ok or not state_data:
            raise StateMismatch(
                "This sign-in response does not belong to a sign-in started in this browser "
                "(it may have expired or been used already). Please sign in again."
            )
        remote.framework.clear_state_data(session, state)
        return dict(state_data)

    def _verify(self, id_token: str, nonce: str | None) -> dict[str, Any]:
        try:
            return verify_id_token(
                id_token,
                jwks=self.okta_jwks,
                issuer=self.okta_settings.issuer,
                client_id=self.okta_settings.client_id,
                nonce=nonce,
                leeway=self.okta_settings.clock_skew_seconds,
            )
        except requests.RequestException as e:  # fetching the JWKS (first load, or after a key rotation)
            raise OktaUnavailable(
                "Okta is not answering (its signing keys could not be loaded). Try again in a minute."
            ) from e

    def okta_logout_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        """Return Okta's end-session URL (RP-initiated logout), or None if Okta can't be reached."""
        remote = self.oauth_remotes[PROVIDER_NAME]
        try:
            metadata = self._discovery(remote)
        except (requests.RequestException, ValueError):
            log.warning("Okta's discovery document is unavailable; logging out of Airflow only")
            return None
        if not metadata.get("end_session_endpoint"):
            return None
        return remote.create_logout_url(
            post_logout_redirect_uri=post_logout_redirect_uri,
            id_token_hint=id_token,
            client_id=self.okta_settings.client_id,
        )["url"]

    def _exchange_code(self, remote: Any, code: str, state_data: dict[str, Any]) -> dict[str, Any]:
        remote.client_secret = client_credential(self.okta_settings)  # picks up a rotated secret or key file
        try:
            return remote.fetch_access_token(
                code=code, redirect_uri=state_data.get("redirect_uri"), code_verifier=state_data.get("code_verifier")
            )
        except OAuthError as e:
            raise OktaError(e.error or "token_error", e.description) from e
        except requests.RequestException as e:
            raise OktaUnavailable("Okta is not answering (token request failed). Try again in a minute.") from e

    def _userinfo(self, remote: Any, token: dict[str, Any]) -> dict[str, Any]:
        try:
            return dict(remote.userinfo(token=token))
        except requests.RequestException as e:
            raise OktaUnavailable("Okta is not answering (userinfo request failed). Try again in a minute.") from e


def once_more_after_a_race(sync: Callable[[], None], rollback: Callable[[], None]) -> None:
    """Run FAB's permission sync; after a unique-key conflict, roll back and run it once more.

    FAB's sync is not safe to race: two replicas starting together on a fresh database insert the same
    permission rows, and the loser's start would fail. Once the winner has committed, a second pass finds
    every row and only adds what is still missing.
    """
    try:
        sync()
    except IntegrityError:
        rollback()
        log.warning("Another Airflow process synced FAB's permissions at the same moment; syncing once more")
        time.sleep(random.uniform(0.2, 1.0))  # noqa: S311 - spreads the retries, no secret involved
        sync()


class TokenDoors(Protocol):
    """The doors the API paths take Okta tokens through (okta_security's security manager has both)."""

    okta_people: PersonDoor[Any]
    okta_bots: BotDoor[Any]
    okta_agents: AgentDoor[Any]
    okta_mapping: MappingStore  # its step_up section: what a person's token may act with

    def get_user_by_id(self, pk: int) -> Any: ...


def token_doors(sm: object) -> TokenDoors:
    """Return ``sm``'s token doors, or say how to configure okta_security's security manager."""
    if isinstance(getattr(sm, "okta_people", None), PersonDoor) and isinstance(getattr(sm, "okta_bots", None), BotDoor):
        return cast("TokenDoors", sm)
    raise ConfigError(
        [
            f"the security manager is {type(sm).__name__}, not okta_security's OktaSecurityManager: use the "
            "webserver_config.py okta-airflow init writes (SECURITY_MANAGER_CLASS = OktaSecurityManager)"
        ],
        source="webserver_config.py",
    )
