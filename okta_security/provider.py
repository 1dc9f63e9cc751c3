"""Build the ``OAUTH_PROVIDERS`` entry that registers Okta with Flask-AppBuilder (authlib)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from okta_security.settings import OktaSettings

PROVIDER_NAME = "okta"
BASE_SCOPES = ("openid", "profile", "email")  # identity; "groups" is added only when the server offers it


def scopes_for(metadata: Mapping[str, Any], extra: tuple[str, ...] = ()) -> str:
    """Return the scope string: base scopes, ``groups`` if the discovery document lists it, then extras.

    Okta custom authorization servers reject scopes they don't define (``invalid_scope``), so
    ``groups`` is only requested when ``scopes_supported`` advertises it.
    """
    scopes = list(BASE_SCOPES)
    if "groups" in (metadata.get("scopes_supported") or ()):
        scopes.append("groups")
    scopes.extend(s for s in extra if s not in scopes)
    return " ".join(scopes)


def build_provider(settings: OktaSettings) -> dict[str, Any]:
    """Return FAB's provider dict: discovery URL, PKCE S256, client authentication method."""
    return {
        "name": PROVIDER_NAME,
        "icon": "fa-circle-o",
        "token_key": "access_token",
        "remote_app": {
            "client_id": settings.client_id,
            "client_secret": settings.client_secret.get(),
            "server_metadata_url": settings.discovery_url,
            "client_kwargs": {
                # Scope is finalised per request from discovery (see scopes_for); this is the floor.
                "scope": " ".join(BASE_SCOPES + settings.extra_scopes),
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": settings.token_auth_method,
                "timeout": settings.http_timeout_seconds,
            },
        },
    }
