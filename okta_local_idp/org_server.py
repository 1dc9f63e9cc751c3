"""The org authorization server: its token endpoint (``/oauth2/v1/token``), discovery and keys.

Discovery (``/.well-known/openid-configuration``, issuer ``https://{org}``) and ``/oauth2/v1/keys``
publish the keys the org signs with — here the IdP's one signing key; Universal Logout requests
(:mod:`okta_local_idp.universal_logout`) are verified with them.

Okta issues access tokens for its own Management API only from the org authorization server
(issuer ``https://{org}``), only with the client credentials grant and ``private_key_jwt``
client authentication, and only for ``okta.*`` scopes; custom servers cannot issue them. The
tokens are accepted by ``/api/v1`` as ``Authorization: Bearer`` (see :func:`org_access_token`).
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidScopeError, grants, scope_to_list
from flask import Blueprint, Flask, Response, jsonify
from joserfc import jws
from joserfc.errors import JoseError

from .claims import new_jti
from .context import current_idp
from .oauth import MISSING_SCOPE, OktaAuthorizationServer, OktaPrivateKeyJWT

if TYPE_CHECKING:
    from .context import IdpContext
    from .models import Client, Token, User

log = logging.getLogger(__name__)

ORG_TOKEN_PATH = "/oauth2/v1/token"
ORG_SCOPES = ("okta.users.read", "okta.groups.read")  # the Management API scopes this IdP serves
ORG_TOKEN_LIFETIME = 3600
CUSTOM_SCOPES_REFUSED = "Custom scopes are not allowed for this request."
UNKNOWN_SCOPE = "The requested scope is invalid, unknown, or malformed."

blueprint = Blueprint("org_oauth", __name__, url_prefix="/oauth2/v1")
metadata_blueprint = Blueprint("org_metadata", __name__)


class OrgAuthorizationServer(OktaAuthorizationServer):
    """The org authorization server: only okta.* scopes, only for service apps."""

    def validate_requested_scope(self, scope: str | None) -> None:
        """Refuse a missing scope, custom scopes, and okta.* scopes this IdP does not serve."""
        requested = scope_to_list(scope) or []
        if not requested:
            raise InvalidScopeError(MISSING_SCOPE)
        if any(not s.startswith("okta.") for s in requested):
            raise InvalidScopeError(CUSTOM_SCOPES_REFUSED)
        if not set(requested) <= set(ORG_SCOPES):
            raise InvalidScopeError(UNKNOWN_SCOPE)


class OrgClientCredentialsGrant(grants.ClientCredentialsGrant):
    """Client credentials for okta.* scopes: Okta accepts only ``private_key_jwt`` here."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["private_key_jwt"]


class OrgPrivateKeyJWT(OktaPrivateKeyJWT):
    """``private_key_jwt`` whose assertion ``aud`` must be the org token endpoint."""

    def get_audiences(self) -> list[str]:
        """Return the org server's token endpoint URL."""
        return [self._idp.base_url + ORG_TOKEN_PATH]


class OrgAccessTokenFactory:
    """Okta-style JWT access tokens of the org server (``iss`` and ``aud`` are the org URL)."""

    def __init__(self, idp: IdpContext) -> None:
        self._idp = idp

    def __call__(
        self,
        grant_type: str,
        client: Client,
        user: User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """Return the token response body."""
        scope = client.get_allowed_scope(scope)
        now = int(time.time())
        claims = {
            "ver": 1,
            "jti": new_jti("AT"),
            "iss": self._idp.base_url,
            "aud": self._idp.base_url,
            "iat": now,
            "exp": now + ORG_TOKEN_LIFETIME,
            "cid": client.client_id,
            "scp": scope_to_list(scope) or [],
            "sub": client.client_id,
        }
        log.info("org server issued an access token to %s for %s", client.client_id, scope)
        return {
            "token_type": "Bearer",
            "expires_in": ORG_TOKEN_LIFETIME,
            "access_token": self._idp.keys.sign(claims),
            "scope": scope,
        }


def org_access_token(idp: IdpContext, token_string: str) -> Token | None:
    """Return the live access token ``token_string`` if the org server issued it, else None."""
    token = idp.store.find_access_token(token_string)
    if token is None or token.is_expired() or token.is_revoked():
        return None
    try:
        # The token is one this IdP stored, so its own payload can be read without re-verifying it.
        claims = json.loads(jws.extract_compact(token_string.encode("ascii")).payload)
    except (JoseError, ValueError, UnicodeEncodeError):
        return None
    return token if isinstance(claims, dict) and claims.get("iss") == idp.base_url else None


def init_org_server(app: Flask, idp: IdpContext) -> None:
    """Create the org authorization server for ``idp`` and serve its token endpoint."""
    server = OrgAuthorizationServer(idp)
    server.init_app(app)
    server.register_token_generator("default", OrgAccessTokenFactory(idp))
    server.register_client_auth_method(OrgPrivateKeyJWT.CLIENT_AUTH_METHOD, OrgPrivateKeyJWT(idp))
    server.register_grant(OrgClientCredentialsGrant)
    idp.org_authorization_server = server
    app.register_blueprint(blueprint)
    app.register_blueprint(metadata_blueprint)


@metadata_blueprint.get("/.well-known/openid-configuration")
def org_discovery() -> Response:
    """Serve the org authorization server's metadata (the part apps read: issuer, keys, token endpoint)."""
    org = current_idp().base_url
    return jsonify(
        {
            "issuer": org,
            "jwks_uri": f"{org}/oauth2/v1/keys",
            "token_endpoint": f"{org}{ORG_TOKEN_PATH}",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
    )


@blueprint.get("/keys")
def org_keys() -> Response:
    """Serve the org's public signing keys."""
    response = jsonify(current_idp().keys.public_jwks())
    response.headers["Cache-Control"] = "max-age=3600, must-revalidate"
    return response


@blueprint.post("/token")
def token() -> Response:
    """Issue an org-server access token (client credentials + private_key_jwt, okta.* scopes)."""
    server = current_idp().org_authorization_server
    assert server is not None
    return server.create_token_response()
