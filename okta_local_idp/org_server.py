"""The org authorization server: sign-in (``/oauth2/v1/authorize``), its token endpoint, discovery and keys.

Discovery (``/.well-known/openid-configuration``, issuer ``https://{org}``) and ``/oauth2/v1/keys``
publish the keys the org signs with — here the IdP's one signing key; Universal Logout requests
(:mod:`okta_local_idp.universal_logout`) and ID-JAGs (:mod:`okta_local_idp.cross_app_access`) are
verified with them.

Apps sign people in through the org server as through a custom one (authorization code + PKCE,
OpenID scopes only here); its ID tokens' ``iss`` is the org URL, and only those can be exchanged
for ID-JAGs (Okta's Cross App Access).

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

from . import views
from .claims import new_jti
from .context import OIDC_SCOPES, current_idp
from .cross_app_access import IdJagGrant
from .models import TOKEN_EXCHANGE_GRANT_TYPE
from .oauth import (
    INVALID_SCOPE,
    MISSING_SCOPE,
    AuthorizationCodeGrant,
    OktaAuthorizationServer,
    OktaCodeChallenge,
    OktaOpenIDCode,
    OktaPrivateKeyJWT,
)

if TYPE_CHECKING:
    from .context import IdpContext
    from .models import Client, Token, User

log = logging.getLogger(__name__)

ORG_TOKEN_PATH = "/oauth2/v1/token"
ORG_SCOPES = ("okta.users.read", "okta.groups.read")  # the Management API scopes this IdP serves
ORG_TOKEN_LIFETIME = 3600
# What people's sign-ins at the org server may ask for: OpenID scopes (no refresh tokens here).
ORG_SIGN_IN_SCOPES = frozenset(OIDC_SCOPES) - {"offline_access"}
CUSTOM_SCOPES_REFUSED = "Custom scopes are not allowed for this request."
UNKNOWN_SCOPE = "The requested scope is invalid, unknown, or malformed."

blueprint = Blueprint("org_oauth", __name__, url_prefix="/oauth2/v1")
metadata_blueprint = Blueprint("org_metadata", __name__)


class OrgAuthorizationServer(OktaAuthorizationServer):
    """The org authorization server: okta.* scopes for service apps, sign-in for people, ID-JAGs for agents."""

    @property
    def issuer(self) -> str:
        """Return the org URL."""
        return self._idp.base_url

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


class OrgAuthorizationCodeGrant(AuthorizationCodeGrant):
    """People's sign-in to an app through the org server: codes bound to it, OpenID scopes only."""

    def validate_requested_scope(self) -> None:
        """Refuse a missing scope and any scope but the OpenID ones."""
        requested = scope_to_list(self.request.payload.scope) or []
        if not requested:
            raise InvalidScopeError(MISSING_SCOPE)
        if not set(requested) <= ORG_SIGN_IN_SCOPES:
            raise InvalidScopeError(INVALID_SCOPE)


class OrgOpenIDCode(OktaOpenIDCode):
    """ID tokens of the org server: ``iss`` is the org URL."""

    def issuer(self) -> str:
        """Return the org URL."""
        return self._idp.base_url


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
        claims: dict[str, Any] = {
            "ver": 1,
            "jti": new_jti("AT"),
            "iss": self._idp.base_url,
            "aud": self._idp.base_url,
            "iat": now,
            "exp": now + ORG_TOKEN_LIFETIME,
            "cid": client.client_id,
            "scp": scope_to_list(scope) or [],
            "sub": user.login if user else client.client_id,
        }
        if user is not None:
            claims["uid"] = user.id
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
    server.register_grant(OrgAuthorizationCodeGrant, [OktaCodeChallenge(required=True), OrgOpenIDCode(idp)])
    server.register_grant(IdJagGrant)
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
            "authorization_endpoint": f"{org}/oauth2/v1/authorize",
            "jwks_uri": f"{org}/oauth2/v1/keys",
            "token_endpoint": f"{org}{ORG_TOKEN_PATH}",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "client_credentials", TOKEN_EXCHANGE_GRANT_TYPE],
            "scopes_supported": sorted(ORG_SIGN_IN_SCOPES | set(ORG_SCOPES)),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
    )


@blueprint.get("/keys")
def org_keys() -> Response:
    """Serve the org's public signing keys."""
    response = jsonify(current_idp().keys.public_jwks())
    response.headers["Cache-Control"] = "max-age=3600, must-revalidate"
    return response


@blueprint.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response | tuple[str, int] | str:
    """Sign a person in to an app through the org server (the same IdP session as the custom server's)."""
    idp = current_idp()
    server = idp.org_authorization_server
    assert isinstance(server, OrgAuthorizationServer)
    return views.authorize_at(idp, server)


@blueprint.post("/token")
def token() -> Response:
    """Issue org tokens: okta.* scopes (client credentials), sign-in codes, ID-JAGs (token exchange)."""
    server = current_idp().org_authorization_server
    assert server is not None
    return server.create_token_response()
