"""Build the ``OAUTH_PROVIDERS`` entry that registers Okta with Flask-AppBuilder (authlib)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign

from okta_security.settings.secrets import load_private_key

if TYPE_CHECKING:
    from collections.abc import Mapping

    from okta_security.settings.loader import OktaSettings

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


def client_credential(settings: OktaSettings) -> Any:
    """Return what authlib signs the token request with: the client secret, or the private key (RSAKey).

    Read at every call so a rotated secret or key file applies at the next login.
    """
    if settings.token_auth_method == "private_key_jwt" and settings.client_private_key is not None:
        return load_private_key(settings.client_private_key.get())
    return settings.client_secret.get() if settings.client_secret is not None else ""


class KeyIdPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """``private_key_jwt`` whose assertion names the signing key's own ``kid``, read at every signature.

    A rotated JWK file thus brings its new ``kid`` along; a PEM key has none, and Okta then uses
    the app's only registered key.
    """

    def sign(self, auth: Any, token_endpoint: str) -> Any:
        """Return the RS256 client assertion (RFC 7523 section 2.2) for ``auth``'s client and key."""
        kid = getattr(auth.client_secret, "kid", None)
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            claims=self.claims,
            header={"kid": kid} if kid else None,
            alg=self.alg,
        )


def client_auth_methods(settings: OktaSettings) -> list[Any]:
    """Return authlib client-auth plug-ins: ``private_key_jwt`` signs an RS256 assertion (RFC 7523)."""
    if settings.token_auth_method != "private_key_jwt":
        return []
    return [KeyIdPrivateKeyJWT(alg="RS256")]


def build_provider(settings: OktaSettings) -> dict[str, Any]:
    """Return FAB's provider dict: discovery URL, PKCE S256, client authentication method."""
    return {
        "name": PROVIDER_NAME,
        "icon": "fa-circle-o",
        "token_key": "access_token",
        "remote_app": {
            "client_id": settings.client_id,
            "client_secret": client_credential(settings),
            "client_auth_methods": client_auth_methods(settings),
            "server_metadata_url": settings.discovery_url,
            "client_kwargs": {
                # Scope is finalised per request from discovery (see scopes_for); this is the floor.
                "scope": " ".join(BASE_SCOPES + settings.extra_scopes),
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": settings.token_auth_method,
                # authlib's name: bounds the token, userinfo and discovery requests (a plain
                # "timeout" here is silently ignored, and a stuck Okta would hold the worker).
                "default_timeout": settings.http_timeout_seconds,
            },
        },
    }
