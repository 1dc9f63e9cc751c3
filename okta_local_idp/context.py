"""The per-app IdP context shared by all views: config, keys, runtime state."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

from .faults import validate_faults
from .models import okta_id
from .store import RuntimeStore

if TYPE_CHECKING:
    from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector

    from .config import ConfigStore, IdpConfig
    from .keys import SigningKeys

log = logging.getLogger(__name__)

EXTENSION_KEY = "okta_local_idp"
AUTH_SERVER_PATH = "/oauth2/default"
OIDC_SCOPES = ("openid", "profile", "email", "address", "phone", "offline_access")


@dataclass
class IdpContext:
    """Everything a request handler needs, for one running IdP."""

    base_url: str
    config_store: ConfigStore
    keys: SigningKeys
    store: RuntimeStore = field(default_factory=RuntimeStore)
    authorization_server: AuthorizationServer | None = None
    org_authorization_server: AuthorizationServer | None = None  # /oauth2/v1 (okta.* scopes)
    resource_protector: ResourceProtector | None = None

    @property
    def issuer(self) -> str:
        """Return the issuer of the ``default`` custom authorization server."""
        return self.base_url + AUTH_SERVER_PATH

    @property
    def config(self) -> IdpConfig:
        """Return the current configuration (re-read if the file changed), with runtime directory changes."""
        return self.store.directory.apply(self.config_store.current())

    @property
    def org_id(self) -> str:
        """Return the org id used as the ``idp`` claim."""
        return self.config.server.org_id or okta_id("00o", "org:" + self.base_url)

    def supported_scopes(self, config: IdpConfig | None = None) -> list[str]:
        """Return the scopes defined on the authorization server."""
        server = (config or self.config).server
        scopes = list(OIDC_SCOPES)
        if server.groups_scope:
            scopes.append("groups")
        scopes.extend(s for s in server.custom_scopes if s not in scopes)
        return scopes

    def effective_faults(self) -> dict[str, Any]:
        """Return YAML faults overlaid with runtime overrides."""
        return {**self.config.server.faults, **self.store.faults()}

    def fault(self, name: str, default: Any = None) -> Any:
        """Return the effective value of fault ``name``."""
        return self.effective_faults().get(name, default)

    def api_fault_status(self) -> int | None:
        """Return the HTTP status the ``api_status`` fault imposes on this Management API call, if any."""
        status = self.fault("api_status")
        if status is None:
            return None
        initial = self.config.server.faults.get("api_status_times")
        return int(status) if self.store.count_down("api_status_times", initial) else None

    def set_faults(self, changes: dict[str, Any]) -> None:
        """Validate and merge runtime fault overrides (None removes one)."""
        changes = validate_faults(changes, allow_none=True)
        self.store.update_faults(changes)
        log.warning("runtime faults now %s", self.effective_faults())

    def clear_faults(self) -> None:
        """Drop all runtime fault overrides."""
        self.store.clear_faults()


def current_idp() -> IdpContext:
    """Return the IdP context of the current Flask app."""
    return current_app.extensions[EXTENSION_KEY]
