"""``OktaSecurityManager``: wires Flask-AppBuilder's OAuth hooks to okta_security's pure logic."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import requests
import sqlalchemy as sa
from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride
from authlib.integrations.base_client.errors import OAuthError
from flask import current_app, g, session

from okta_security import audit
from okta_security.adapter import audit_log as audit_airflow
from okta_security.adapter import db, login_audit
from okta_security.adapter.bots import is_service_user
from okta_security.adapter.compat import with_session_property
from okta_security.adapter.event_hook_view import register_event_hook_view
from okta_security.adapter.role_sync import DAG_CHECK_INTERVAL, RoleSyncer
from okta_security.adapter.views import OktaAuthOAuthView
from okta_security.audit import audit_event
from okta_security.errors import (
    DiscoveryMismatch,
    EmailConflict,
    InactiveUser,
    LoginRefused,
    MappingError,
    NoMappedRole,
    OktaApiMisconfigured,
    OktaApiRejected,
    OktaApiUnavailable,
    OktaError,
    OktaUnavailable,
    ServiceUserLogin,
    StateMismatch,
)
from okta_security.lifecycle.usernames import legacy_username
from okta_security.login.groups_source import wants_api, wants_userinfo
from okta_security.mapping.roles import BUILTIN_ROLES  # valid in the mapping even before the first sync
from okta_security.oidc.id_token import JwksCache, verify_id_token
from okta_security.oidc.identity import OktaIdentity, has_groups_claim, identity_from_claims
from okta_security.oidc.provider import PROVIDER_NAME, client_credential, scopes_for
from okta_security.okta_api.client import OktaApiClient, build_groups_client

if TYPE_CHECKING:
    from collections.abc import Mapping

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

    def __init__(self, appbuilder: Any) -> None:
        super().__init__(appbuilder)
        config = current_app.config
        self.okta_settings: OktaSettings = config["OKTA_SETTINGS"]
        self.okta_mapping: MappingStore = config["OKTA_ROLE_MAPPING_STORE"]
        self.okta_jwks = JwksCache(
            self._fetch_jwks, min_refetch_interval=self.okta_settings.jwks_refetch_interval_seconds
        )
        self.okta_groups_api: OktaApiClient | None = build_groups_client(self.okta_settings)  # issue #4
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        # Roles-as-code: the mapping file's ``roles:`` (issue #3); the interval is a webserver_config.py knob.
        interval = float(config.get("OKTA_ROLE_SYNC_CHECK_SECONDS", DAG_CHECK_INTERVAL))
        self.okta_role_sync = RoleSyncer(self, check_interval=interval)
        # Role names are only checkable once the database is reachable: fail start-up on unknown ones.
        # Roles the file declares count as known (parse_mapping); sync_roles() creates them.
        self.okta_mapping.attach(
            known_roles=self._known_roles,
            on_reload=lambda old, new: self._on_mapping_reload(app, old, new),
            on_reject=self._on_mapping_reject,
        )
        audit.configure(self.okta_settings.audit_log_handler)
        audit_airflow.install()  # audit events also become rows in Airflow's Audit Log (issue #6)
        db.ensure_tables(self.okta_engine)  # okta_security_user / _event_receipt (leavers, event hooks)
        self._check_discovery_soon()

    # -- configuration hooks ------------------------------------------------------------------

    def _known_roles(self) -> list[str]:
        return sorted({r.name for r in self.get_all_roles()} | set(BUILTIN_ROLES))

    def register_views(self) -> None:
        """Register FAB's views, then the Okta Event Hooks endpoint (``/auth/okta/events``, issue #6)."""
        super().register_views()
        register_event_hook_view(self)

    def sync_roles(self) -> None:
        """Sync FAB's built-in roles, then the roles the mapping file declares (at start, ``fab sync-perm``)."""
        super().sync_roles()
        self.okta_role_sync.sync(self.okta_mapping.current(), reason="webserver start")

    def _on_mapping_reload(self, app: Any, old: RoleMapping, new: RoleMapping) -> None:
        # Keep FAB's own view of the policy in step with the file (issue #2).
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
        self.okta_role_sync.sync(new, reason="mapping reload")  # never raises; failures keep the roles as they were

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
        """Return the SQLAlchemy engine of Airflow's metadata database."""
        return self.session.get_bind()

    def _fetch_jwks(self) -> Mapping[str, Any]:
        remote = self.oauth_remotes[PROVIDER_NAME]
        uri = remote.load_server_metadata()["jwks_uri"]
        resp = requests.get(uri, timeout=self.okta_settings.http_timeout_seconds)
        resp.raise_for_status()
        return resp.json()

    def _oauth_calculate_user_roles(self, userinfo: dict[str, Any]) -> list[Any]:
        """Apply the mapping file, never adding FAB's registration role on top (FAB code paths)."""
        names = self.okta_mapping.current().resolve(userinfo.get("role_keys", []))
        return [r for r in (self.find_role(n) for n in sorted(names)) if r is not None]

    # -- login --------------------------------------------------------------------------------

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
        """Return the discovery document, re-fetched when older than DISCOVERY_MAX_AGE_SECONDS.

        authlib caches it for the life of the process; re-reading it hourly picks up a newly
        defined ``groups`` scope or a moved endpoint. A failed refresh keeps the cached copy.
        """
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
                    log.error("okta_security start-up check [%s]: %s", e.code, e.message)

        threading.Thread(target=check, name="okta-discovery-check", daemon=True).start()

    def okta_complete_login(self, args: Mapping[str, str], fab_state_ok: bool) -> tuple[User, OktaIdentity]:
        """Turn the callback's query into a logged-in user, or raise :class:`LoginRefused`."""
        if "error" in args:
            raise OktaError(args["error"], args.get("error_description"))
        remote = self.oauth_remotes[PROVIDER_NAME]
        state = args.get("state")
        state_data = remote.framework.get_state_data(session, state) if state else None
        if not fab_state_ok or not state_data:
            raise StateMismatch(
                "This sign-in response does not belong to a sign-in started in this browser "
                "(it may have expired or been used already). Please sign in again."
            )
        remote.framework.clear_state_data(session, state)
        token = self._exchange_code(remote, args.get("code", ""), state_data)
        g.okta_id_token = token.get("id_token")  # for logout's id_token_hint (views keep it in the session)
        try:
            claims = verify_id_token(
                token.get("id_token", ""),
                jwks=self.okta_jwks,
                issuer=self.okta_settings.issuer,
                client_id=self.okta_settings.client_id,
                nonce=state_data.get("nonce"),
                leeway=self.okta_settings.clock_skew_seconds,
            )
        except requests.RequestException as e:  # fetching the JWKS (first load, or after a key rotation)
            raise OktaUnavailable(
                "Okta is not answering (its signing keys could not be loaded). Try again in a minute."
            ) from e
        login_audit.note_claims(claims)
        userinfo = None
        in_id_token = has_groups_claim(claims, self.okta_settings.groups_claim)
        if wants_userinfo(self.okta_settings.groups_source, id_token_has_claim=in_id_token):
            userinfo = self._userinfo(remote, token)
        identity = identity_from_claims(claims, userinfo, groups_claim=self.okta_settings.groups_claim)
        identity = self._okta_groups(identity)  # Groups API if the source says so, then OKTA_GROUPS_FILTER
        login_audit.note(username=identity.username, groups=list(identity.groups))
        mapping = self.okta_mapping.current()
        self.okta_role_sync.maybe_resync(mapping)  # declared roles' DAG globs pick up new DAGs (issue #3)
        roles = mapping.resolve(identity.groups)
        if not roles:
            raise NoMappedRole(identity.username, identity.groups)
        user = self._upsert_user(identity, sorted(roles))
        return user, identity

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
                code=code,
                redirect_uri=state_data.get("redirect_uri"),
                code_verifier=state_data.get("code_verifier"),
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

    def _okta_groups(self, identity: OktaIdentity) -> OktaIdentity:
        """Read the groups from Okta's Groups API when the source says so; keep those the filter allows.

        Runs before anything is written: if Okta fails, the login is refused and roles stay as they were.
        """
        settings = self.okta_settings
        api = self.okta_groups_api
        if wants_api(settings.groups_source, api_configured=api is not None, claim_groups=identity.groups):
            if api is None:  # refused at start already (OKTA_GROUPS_SOURCE=api needs credentials)
                raise OktaApiMisconfigured("Airflow is set to read groups from Okta's API but has no API credentials.")
            identity = replace(identity, groups=self._groups_from_api(api, identity), groups_source="api")
        return replace(identity, groups=settings.groups_filter.apply(identity.groups))

    @staticmethod
    def _groups_from_api(api: OktaApiClient, identity: OktaIdentity) -> tuple[str, ...]:
        try:
            groups = api.user_group_names(identity.sub)  # the ID token's sub is the Okta user id (00u…)
        except (OktaApiUnavailable, OktaApiRejected) as e:
            log.error(
                "Okta login of %s refused, roles unchanged: %s [%s, Okta request id %s]",
                identity.username,
                e.message,
                e.code,
                e.request_id or "-",
            )
            if isinstance(e, OktaApiUnavailable):
                raise OktaUnavailable(
                    "Okta is not answering (reading your groups failed). You were not signed in and your Airflow "
                    "roles are unchanged. Try again in a minute.",
                    request_id=e.request_id,
                ) from e
            raise OktaApiMisconfigured(
                "Okta refused to tell Airflow your groups. You were not signed in and your Airflow roles are "
                "unchanged. Ask your Airflow administrator to check the Okta API settings (see the webserver log).",
                request_id=e.request_id,
            ) from e
        log.info("Read %d group(s) of %s from Okta's Groups API", len(groups), identity.username)
        return groups

    def _upsert_user(self, identity: OktaIdentity, role_names: list[str]) -> User:
        roles = [r for r in (self.find_role(n) for n in role_names) if r is not None]
        if not roles:
            raise MappingError([f"roles {role_names} are mapped but none exists in Airflow's database"])
        user = self.find_user(username=identity.username) or self._adopt_legacy_account(identity)
        if user is not None and is_service_user(user):  # a bot's account (docs/bots.md): never taken over
            raise ServiceUserLogin(
                f"The Airflow username {user.username!r} belongs to an Okta client's service user (a bot), so "
                "nobody can sign in as it. Ask your Airflow administrator."
            )
        # ab_user.email is UNIQUE: if this account already has the address, nobody else can (one query less).
        taken = identity.email and (user is None or user.email != identity.email)
        owner = self.find_user(email=identity.email) if taken else None
        if owner is not None and user is None and owner.username.lower() == identity.username:
            # A concurrent first login of the same person created the row between our two look-ups.
            user = owner
        elif owner is not None and (user is None or owner.id != user.id):
            raise EmailConflict(
                f"Another Airflow user ({owner.username!r}) already has the email address {identity.email!r}. "
                "Ask your Airflow administrator to rename or remove that account."
            )
        if user is None:
            created = self._okta_add_user(identity, roles)
            if created:
                log.info(
                    "Created Airflow user %s from Okta (sub %s) with roles %s",
                    identity.username,
                    identity.sub,
                    role_names,
                )
                self.update_user_auth_stat(created)
                self._okta_link(created, identity)
                login_audit.audit(
                    "user.created", owner=created.username, user_id=created.id, email=created.email, roles=role_names
                )
                return created
            # A concurrent first login of the same person (another tab, worker or replica) inserted the
            # row between our look-up and our INSERT (issue #9): carry on as an update of that row.
            user = self.find_user(username=identity.username)
            if user is None:
                owner = self.find_user(email=identity.email) if identity.email else None
                if owner is not None:
                    raise EmailConflict(
                        f"Another Airflow user ({owner.username!r}) already has the email address "
                        f"{identity.email!r}. Ask your Airflow administrator to rename or remove that account."
                    )
                raise LoginRefused("Airflow could not create your account; see the webserver log.")
            log.info("Airflow user %s was just created by a concurrent login; updating it", identity.username)
        reactivated = False
        if not user.is_active:
            self._okta_check_reactivation(user)  # raises InactiveUser unless okta_security deactivated it
            user.active = True
            reactivated = True
        before = sorted(r.name for r in user.roles)
        profile_before = {"first_name": user.first_name, "last_name": user.last_name, "email": user.email}
        user.first_name = identity.first_name or user.first_name
        user.last_name = identity.last_name or user.last_name
        if identity.email:
            user.email = identity.email
        user.roles = roles
        self.update_user_auth_stat(user)  # one commit: roles, profile, login count (as FAB's own login does)
        self._okta_link(user, identity)
        if reactivated:
            log.info("Reactivated %s: Okta signed them in and their groups map to %s", user.username, role_names)
            login_audit.audit(
                "user.reactivated", owner=user.username, user_id=user.id, trigger="login", roles=role_names
            )
        if before != role_names:
            log.info("Roles of %s changed: %s -> %s", identity.username, before, role_names)
            login_audit.audit(
                "user.roles_changed",
                owner=user.username,
                user_id=user.id,
                trigger="login",
                before=before,
                after=role_names,
            )
        changes = {
            name: {"before": old, "after": getattr(user, name)}
            for name, old in profile_before.items()
            if getattr(user, name) != old
        }
        if changes:
            login_audit.audit("user.profile_updated", owner=user.username, user_id=user.id, changes=changes)
        return user

    def _okta_add_user(self, identity: OktaIdentity, roles: list[Any]) -> User | None:
        """Insert the user; return None if the INSERT lost a race (unique username or email) or failed.

        FAB 5 (Airflow 3) raises FabException from the IntegrityError, FAB 4 returns False; both
        have rolled the session back, so the caller can re-read.
        """
        try:
            return self.add_user(  # type: ignore[no-any-return]
                username=identity.username,
                first_name=identity.first_name or identity.username,
                last_name=identity.last_name or "-",
                email=identity.email or f"{identity.sub}@okta.invalid",
                role=roles,
            )
        except Exception as e:
            if not isinstance(e.__cause__, sa.exc.IntegrityError):
                raise
            return None

    def _adopt_legacy_account(self, identity: OktaIdentity) -> User | None:
        """Rename this person's ``okta_<sub>`` account from FAB's built-in provider; keep its id and history."""
        legacy = self.find_user(username=legacy_username(identity.sub))
        if legacy is None:
            return None
        old = legacy.username
        legacy.username = identity.username
        self.update_user(legacy)
        log.info("Adopted legacy account %s (id %s) as %s", old, legacy.id, identity.username)
        login_audit.audit("user.renamed", owner=legacy.username, user_id=legacy.id, before=old, after=legacy.username)
        return legacy

    def _okta_link(self, user: User, identity: OktaIdentity) -> None:
        """Remember that ``user`` is Okta user ``identity.sub`` (for sync-users and event hooks)."""
        db.upsert_link(
            self.okta_engine,
            user_id=user.id,
            username=user.username,
            okta_sub=identity.sub,
            groups=list(identity.groups),
        )

    def _okta_check_reactivation(self, user: User) -> None:
        """Raise InactiveUser unless okta_security (not an administrator) deactivated ``user``."""
        with self.okta_engine.connect() as conn:
            link = db.link_for_user(conn, user.id, user.username)
        if link is None or link.deactivated_by is None:
            raise InactiveUser("Your Airflow account is deactivated. Ask your Airflow administrator to reactivate it.")
