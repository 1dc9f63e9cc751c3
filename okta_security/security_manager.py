"""``OktaSecurityManager``: wires Flask-AppBuilder's OAuth hooks to okta_security's pure logic."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from flask import current_app, session

from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride
from okta_security.errors import (
    EmailConflict,
    LoginRefused,
    MappingError,
    NoMappedRole,
    OktaError,
    OktaUnavailable,
    StateMismatch,
)
from okta_security.identity import OktaIdentity, has_groups_claim, identity_from_claims
from okta_security.mapping import MappingStore, RoleMapping
from okta_security.oidc import JwksCache, verify_id_token
from okta_security.provider import PROVIDER_NAME, scopes_for
from okta_security.settings import OktaSettings
from okta_security.views import OktaAuthOAuthView

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.providers.fab.auth_manager.models import User

log = logging.getLogger(__name__)

# Roles Airflow's FAB auth manager creates itself; valid in the mapping even before the first sync.
BUILTIN_ROLES = ("Admin", "Op", "User", "Viewer", "Public")


class OktaSecurityManager(FabAirflowSecurityManagerOverride):
    """Security manager that logs people in with Okta and syncs their roles from the mapping file."""

    authoauthview = OktaAuthOAuthView

    def __init__(self, appbuilder: Any) -> None:
        super().__init__(appbuilder)
        config = current_app.config
        self.okta_settings: OktaSettings = config["OKTA_SETTINGS"]
        self.okta_mapping: MappingStore = config["OKTA_ROLE_MAPPING_STORE"]
        self.okta_jwks = JwksCache(self._fetch_jwks)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        # Role names are only checkable once the database is reachable: fail start-up on unknown ones.
        self.okta_mapping.attach(
            known_roles=self._known_roles, on_reload=lambda old, new: self._on_mapping_reload(app, old, new)
        )

    # -- configuration hooks ------------------------------------------------------------------

    def _known_roles(self) -> list[str]:
        return sorted({r.name for r in self.get_all_roles()} | set(BUILTIN_ROLES))

    @staticmethod
    def _on_mapping_reload(app: Any, old: RoleMapping, new: RoleMapping) -> None:
        # Keep FAB's own view of the policy in step with the file (issue #2).
        app.config["AUTH_ROLES_MAPPING"] = new.exact_roles_mapping()
        log.info("Role mapping reloaded from %s (version %s)", new.source, new.digest[:12])

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
            metadata = remote.load_server_metadata()
        except (requests.RequestException, ValueError) as e:
            raise OktaUnavailable(
                "Okta is not answering (its discovery document could not be loaded). Try again in a minute."
            ) from e
        return scopes_for(metadata, self.okta_settings.extra_scopes)

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
        claims = verify_id_token(
            token.get("id_token", ""),
            jwks=self.okta_jwks,
            issuer=self.okta_settings.issuer,
            client_id=self.okta_settings.client_id,
            nonce=state_data.get("nonce"),
            leeway=self.okta_settings.clock_skew_seconds,
        )
        userinfo = None
        if not has_groups_claim(claims, self.okta_settings.groups_claim):
            userinfo = self._userinfo(remote, token)
        identity = identity_from_claims(claims, userinfo, groups_claim=self.okta_settings.groups_claim)
        roles = self.okta_mapping.current().resolve(identity.groups)
        if not roles:
            raise NoMappedRole(identity.username, identity.groups)
        user = self._upsert_user(identity, sorted(roles))
        return user, identity

    def _exchange_code(self, remote: Any, code: str, state_data: dict[str, Any]) -> dict[str, Any]:
        remote.client_secret = self.okta_settings.client_secret.get()  # picks up a rotated secret file
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

    def _upsert_user(self, identity: OktaIdentity, role_names: list[str]) -> User:
        roles = [r for r in (self.find_role(n) for n in role_names) if r is not None]
        if not roles:
            raise MappingError([f"roles {role_names} are mapped but none exists in Airflow's database"])
        user = self.find_user(username=identity.username)
        owner = self.find_user(email=identity.email) if identity.email else None
        if owner is not None and (user is None or owner.id != user.id):
            raise EmailConflict(
                f"Another Airflow user ({owner.username!r}) already has the email address {identity.email!r}. "
                "Ask your Airflow administrator to rename or remove that account."
            )
        if user is None:
            user = self.add_user(
                username=identity.username,
                first_name=identity.first_name or identity.username,
                last_name=identity.last_name or "-",
                email=identity.email or f"{identity.sub}@okta.invalid",
                role=roles,
            )
            if not user:
                raise LoginRefused("Airflow could not create your account; see the webserver log.")
            log.info("Created Airflow user %s from Okta (sub %s) with roles %s", identity.username, identity.sub, role_names)
            return user
        if not user.is_active:
            raise LoginRefused("Your Airflow account is deactivated. Ask your Airflow administrator to reactivate it.")
        before = sorted(r.name for r in user.roles)
        user.first_name = identity.first_name or user.first_name
        user.last_name = identity.last_name or user.last_name
        if identity.email:
            user.email = identity.email
        user.roles = roles
        self.update_user(user)
        if before != role_names:
            log.info("Roles of %s changed: %s -> %s", identity.username, before, role_names)
        return user
