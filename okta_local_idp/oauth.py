"""The authlib authorization server: grants, PKCE, OpenID Connect, endpoints, errors."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
    grants,
    scope_to_list,
)
from authlib.oauth2.rfc6750 import BearerTokenValidator, InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core.grants import OpenIDCode, OpenIDToken
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from flask import Flask, g, session
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .claims import ID_TOKEN_LIFETIME, AccessTokenFactory, id_token_user_claims, new_jti, token_record
from .keys import ALGORITHM
from .misbehaviour import misbehave_id_token
from .models import AuthorizationCode, Client, SignedInUser, Token, User

if TYPE_CHECKING:
    from .context import IdpContext

log = logging.getLogger(__name__)

CODE_LIFETIME = 300
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
CLIENT_ASSERTION_MAX_LIFETIME = 3600  # Okta refuses a client_assertion whose exp is more than an hour after iat
OIDC_ONLY_SCOPES = frozenset({"openid", "profile", "email", "address", "phone", "offline_access"})

INVALID_CLIENT = "Client authentication failed. Either the client or the client credentials are invalid."
INVALID_CODE = "The authorization code is invalid or has expired."
INVALID_REFRESH_TOKEN = "The refresh token is invalid or expired."
PKCE_FAILED = "PKCE verification failed."
INVALID_SCOPE = "One or more scopes are not configured for the authorization server resource."
MISSING_SCOPE = (
    "The authorization server resource does not have any configured default scopes, 'scope' must be provided."
)
INVALID_ACCESS_TOKEN = "The access token is invalid."
MISSING_TOKEN = "The 'token' parameter is required."  # worded as Okta's other missing-parameter errors

# Okta's wording for errors whose authlib wording differs; keyed by error code.
_OKTA_DESCRIPTIONS = {
    "invalid_client": INVALID_CLIENT,
    "unsupported_response_type": (
        "The response type is not supported by the authorization server. Configured response types: [code]."
    ),
    "unsupported_grant_type": "The authorization grant type is not supported by the authorization server.",
    "unauthorized_client": "The client is not authorized to use the provided grant type.",
    "login_required": "The client specified not to prompt, but the user is not logged in.",
    "access_denied": "User is not assigned to the client application.",
}
_OKTA_REWORDING = {
    "Invalid 'redirect_uri' in request.": (
        "The 'redirect_uri' does not match the redirection URI used in the authorization request."
    ),
    "There is no 'user' for this code.": INVALID_CODE,
    "Missing 'code' in request.": "The 'code' parameter is required.",
}


class OktaWordedError(OAuth2Error):
    """An error already carrying Okta's own ``error_description``: :func:`oktaize` keeps it."""


def oktaize(error: OAuth2Error) -> OAuth2Error:
    """Give ``error`` Okta's description (and 401 for invalid_client)."""
    if isinstance(error, OktaWordedError):
        return error
    if error.error in _OKTA_DESCRIPTIONS:
        error.description = _OKTA_DESCRIPTIONS[error.error]
    elif error.description in _OKTA_REWORDING:
        error.description = _OKTA_REWORDING[error.description]
    elif error.error == "invalid_grant" and not error.description:
        error.description = INVALID_REFRESH_TOKEN
    if error.error == "invalid_client":
        error.status_code = 401
    return error


class OktaAuthorizationServer(AuthorizationServer):
    """authlib's Flask authorization server, reading clients and scopes from the config."""

    def __init__(self, idp: IdpContext) -> None:
        super().__init__()
        self._idp = idp

    @property
    def issuer(self) -> str:
        """Return this authorization server's issuer: its ID tokens' ``iss``, what its codes are bound to."""
        return self._idp.issuer

    def query_client(self, client_id: str) -> Client | None:
        """Return the registered client ``client_id``."""
        return self._idp.config.client(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Remember the issued token for userinfo, revocation and introspection."""
        self._idp.store.save_token(token_record(self._idp, token, request))

    def validate_requested_scope(self, scope: str | None) -> None:
        """Reject a missing scope or one not defined on the authorization server."""
        requested = scope_to_list(scope) or []
        if not requested:
            raise InvalidScopeError(MISSING_SCOPE)
        if not set(requested) <= set(self._idp.supported_scopes()):
            raise InvalidScopeError(INVALID_SCOPE)

    def handle_error_response(self, request: OAuth2Request | None, error: OAuth2Error) -> Any:
        """Answer ``error`` with Okta's wording."""
        return super().handle_error_response(request, oktaize(error))


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """Authorization code grant with codes kept in the runtime store."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    @property
    def idp(self) -> IdpContext:
        """Return the IdP context of the server this grant belongs to."""
        return self.server._idp

    def validate_authorization_request(self) -> str:
        """Validate the request; Okta also requires ``state``."""
        redirect_uri: str = super().validate_authorization_request()
        if not self.request.payload.state:
            raise InvalidRequestError(
                "The authorization request is missing the required 'state' parameter.",
                redirect_uri=redirect_uri,
            )
        return redirect_uri

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        """Store the code with everything the token request will need."""
        signed_in: SignedInUser = request.user
        data = request.payload.data
        self.idp.store.save_code(
            AuthorizationCode(
                code=code,
                client_id=request.client.client_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                user_id=signed_in.user.id,
                auth_time=signed_in.auth_time,
                expires_at=time.time() + CODE_LIFETIME,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                amr=signed_in.amr,
                issuer=self.server.issuer,
            )
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode:
        """Consume the code; reject unknown, expired, reused or foreign codes, and codes of another server."""
        item = self.idp.store.take_code(code, client.client_id)
        if item is None or item.issuer != self.server.issuer:
            raise InvalidGrantError(INVALID_CODE)
        return item

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Do nothing: query_authorization_code already consumed the code."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        """Return the code's user if they still exist and are active."""
        user = self.idp.config.find_user(authorization_code.user_id)
        # The access token minted next may carry the sign-in's amr and auth_time (access_token_auth_claims).
        g.okta_sign_in = (authorization_code.auth_time, authorization_code.amr)
        return user if user is not None and user.is_active else None


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Refresh token grant (tokens are issued only with ``offline_access``)."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        """Return the token record owning ``refresh_token``."""
        return self.server._idp.store.find_refresh_token(refresh_token)

    def authenticate_user(self, refresh_token: Token) -> User | None:
        """Return the token's user if they still exist and are active."""
        user = self.server._idp.config.find_user(refresh_token.user_id)
        return user if user is not None and user.is_active else None

    def revoke_old_credential(self, refresh_token: Token) -> None:
        """Keep the refresh token (Okta does not rotate by default)."""


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """Client credentials grant for service clients (custom scopes only)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def validate_token_request(self) -> None:
        """Validate like authlib, then refuse OpenID scopes as Okta does."""
        super().validate_token_request()
        if set(scope_to_list(self.request.payload.scope) or []) & OIDC_ONLY_SCOPES:
            raise InvalidScopeError("Client Credentials requests cannot contain OpenID scopes.")


class OktaPrivateKeyJWT(JWTBearerClientAssertion):
    """``private_key_jwt`` client authentication (RFC 7523 section 2.2) against the client's registered JWKS."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, idp: IdpContext) -> None:
        super().__init__(validate_jti=True)
        self._idp = idp

    def get_audiences(self) -> list[str]:
        """Return the token endpoint URL, the audience Okta requires in a client assertion."""
        return [f"{self._idp.issuer}/v1/token"]

    def resolve_client_public_key(self, client: Client) -> KeySet:
        """Return the public keys registered for ``client``."""
        if not client.jwks:
            raise InvalidClientError(description="The client has no public keys registered for private_key_jwt.")
        return KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]

    def verify_claims(self, claims: Any) -> None:
        """Check iss/sub/aud/exp/jti like authlib, and refuse assertions valid for over an hour."""
        super().verify_claims(claims)
        if int(claims["exp"]) - int(claims.get("iat") or time.time()) > CLIENT_ASSERTION_MAX_LIFETIME:
            raise InvalidClientError(description="The client_assertion token has an expiration too far in the future.")

    def validate_jti(self, claims: Any, jti: str) -> bool:
        """Accept each assertion ``jti`` once per client (replay protection)."""
        return self._idp.store.use_assertion_jti(str(claims["sub"]), str(jti), float(claims["exp"]))


class OktaCodeChallenge(CodeChallenge):
    """PKCE as Okta does it: S256 only, and required when the client says so."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: grants.AuthorizationCodeGrant, redirect_uri: str) -> None:
        """Reject a missing (when required) or non-S256 code challenge."""
        data = grant.request.payload.data
        client: Client = grant.request.client
        if not data.get("code_challenge"):
            if client.require_pkce:
                raise InvalidRequestError("PKCE code challenge is required when the client requires PKCE.")
            return
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("The PKCE code challenge method must be 'S256'.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: grants.AuthorizationCodeGrant, result: Any) -> None:
        """Check the verifier; report every failure as Okta's invalid_grant."""
        try:
            super().validate_code_verifier(grant, result)
        except OAuth2Error as exc:
            raise InvalidGrantError(PKCE_FAILED) from exc


class _OktaIdToken:
    """ID token settings shared by the code and refresh grants."""

    _idp: IdpContext

    def issuer(self) -> str:
        """Return the ID tokens' ``iss``: the ``default`` custom authorization server."""
        return self._idp.issuer

    def resolve_client_private_key(self, client: Client) -> Any:
        """Return the server's signing key."""
        return self._idp.keys.key

    def get_client_algorithm(self, client: Client) -> str:
        """Return RS256, the only algorithm Okta signs ID tokens with."""
        return ALGORITHM

    def get_encode_header(self, client: Client) -> dict[str, str]:
        """Return the JWT header with the signing key's ``kid``."""
        return {"alg": ALGORITHM, "kid": self._idp.keys.kid}

    def encode_id_token(self, token: dict[str, Any], request: OAuth2Request) -> str:
        """Encode the ID token like authlib; an ID token fault (security tests) may then spoil it."""
        id_token: str = super().encode_id_token(token, request)  # type: ignore[misc]
        return misbehave_id_token(self._idp, id_token, request.client)

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        """Return Okta's fixed ID token claims."""
        now = int(time.time())
        return {
            "ver": 1,
            "jti": new_jti("ID"),
            "iss": self.issuer(),
            "aud": client.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME,
            "idp": self._idp.org_id,
            "amr": ["pwd"],
        }

    def generate_user_info(self, user: User, scope: str) -> dict[str, Any]:
        """Return the user claims of the ID token."""
        return id_token_user_claims(self._idp, user, scope)


class OktaOpenIDCode(_OktaIdToken, OpenIDCode):
    """OpenID Connect for the authorization code grant."""

    def __init__(self, idp: IdpContext) -> None:
        super().__init__(require_nonce=False)
        self._idp = idp

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        """Return whether ``nonce`` is already used by an outstanding code."""
        return self._idp.store.nonce_in_use(request.payload.client_id, nonce)


class OktaOpenIDToken(_OktaIdToken, OpenIDToken):
    """OpenID Connect ID tokens for refreshed tokens."""

    def __init__(self, idp: IdpContext) -> None:
        self._idp = idp


class OktaBearerTokenValidator(BearerTokenValidator):
    """Accept access tokens this IdP issued that are neither expired nor revoked."""

    def __init__(self, idp: IdpContext) -> None:
        super().__init__()
        self._idp = idp

    def authenticate_token(self, token_string: str) -> Token | None:
        """Return the stored token for ``token_string``."""
        return self._idp.store.find_access_token(token_string)

    def validate_token(self, token: Token | None, scopes: list[str] | None, request: Any) -> None:
        """Reject unknown, expired, revoked or orphaned tokens with Okta's wording."""
        if token is None or token.is_expired() or token.is_revoked():
            raise InvalidTokenError(INVALID_ACCESS_TOKEN)
        if token.user_id is not None and not self._user_active(token.user_id):
            raise InvalidTokenError(INVALID_ACCESS_TOKEN)
        super().validate_token(token, scopes, request)

    def _user_active(self, user_id: str) -> bool:
        user = self._idp.config.find_user(user_id)
        return user is not None and user.is_active


class UnsupportedTokenType(OAuth2Error):
    """RFC 7009 §2.2.1, answered as RFC 6749 §5.2 says (400): authlib's own is a 401 with no description."""

    error = "unsupported_token_type"
    status_code = 400


class _TokenLookup:
    """Token lookup shared by revocation and introspection."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS
    server: OktaAuthorizationServer

    def check_params(self, request: OAuth2Request, client: Client) -> None:
        """Refuse a missing token or an unknown hint, each with a description as every Okta OAuth error has."""
        if not request.form.get("token"):
            raise InvalidRequestError(MISSING_TOKEN)
        hint = request.form.get("token_type_hint")
        if hint and hint not in ("access_token", "refresh_token"):
            raise UnsupportedTokenType("The 'token_type_hint' must be access_token or refresh_token.")

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        """Return the token record for an access or refresh token string."""
        store = self.server._idp.store
        if token_type_hint == "refresh_token":
            return store.find_refresh_token(token_string)
        return store.find_access_token(token_string) or store.find_refresh_token(token_string)


class OktaRevocationEndpoint(_TokenLookup, RevocationEndpoint):
    """``/v1/revoke``."""

    def revoke_token(self, token: Token, request: OAuth2Request) -> None:
        """Revoke the access token, and the refresh token unless hinted otherwise."""
        hint = request.form.get("token_type_hint")
        self.server._idp.store.revoke(token, refresh_too=hint != "access_token")


@dataclass(frozen=True)
class _IdTokenRecord:
    """An ID token presented for introspection: Okta keeps no record of it, its signature and ``exp`` decide."""

    claims: dict[str, Any]

    @classmethod
    def read(cls, idp: IdpContext, token: str) -> _IdTokenRecord | None:
        try:
            claims = idp.keys.verify(token)
        except (JoseError, ValueError):
            return None
        return cls(claims) if claims.get("iss") == idp.issuer else None

    @property
    def client_id(self) -> Any:
        return self.claims.get("aud")

    def is_expired(self) -> bool:
        exp = self.claims.get("exp")
        return not isinstance(exp, int) or exp <= time.time()

    def is_revoked(self) -> bool:
        return False


class OktaIntrospectionEndpoint(_TokenLookup, IntrospectionEndpoint):
    """``/v1/introspect``: access and refresh tokens, and ID tokens (``token_type_hint=id_token``), as Okta's."""

    def check_params(self, request: OAuth2Request, client: Client) -> None:
        """Take Okta's three hints here (revocation takes two)."""
        if request.form.get("token_type_hint") == "id_token" and request.form.get("token"):
            return
        super().check_params(request, client)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        """Return the token record; an ID token is read from the token itself."""
        if token_type_hint == "id_token":
            return _IdTokenRecord.read(self.server._idp, token_string)
        return super().query_token(token_string, token_type_hint)

    def check_permission(self, token: Token, client: Client, request: OAuth2Request) -> bool:
        """Let clients introspect only their own tokens."""
        return token.client_id == client.client_id

    def introspect_token(self, token: Token) -> dict[str, Any]:
        """Return Okta's introspection fields (an ID token's: its claims, as Okta returns them)."""
        if isinstance(token, _IdTokenRecord):
            return {**token.claims, "active": True, "client_id": token.client_id}
        idp = self.server._idp
        user = idp.config.find_user(token.user_id) if token.user_id else None
        payload: dict[str, Any] = {
            "active": True,
            "scope": token.scope,
            "username": user.login if user else token.client_id,
            "exp": token.expires_at,
            "iat": token.issued_at,
            "sub": user.login if user else token.client_id,
            "aud": idp.config.server.audience,
            "iss": idp.issuer,
            "jti": token.jti,
            "token_type": "Bearer",
            "client_id": token.client_id,
        }
        if user:
            payload["uid"] = user.id
        return payload


class OktaEndSessionEndpoint(EndSessionEndpoint):
    """``/v1/logout``: RP-initiated logout ending the IdP session."""

    def get_server_jwks(self) -> KeySet:
        """Return the public keys ID token hints must be signed with."""
        return self.server._idp.keys.public_key_set()

    def get_algorithms(self) -> list[str]:
        """Return RS256 only."""
        return [ALGORITHM]

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        """Close the server-side session and clear the cookie."""
        self.server._idp.store.close_session(session.get("sid"))
        session.clear()


def init_oauth(app: Flask, idp: IdpContext) -> None:
    """Create the authorization server and resource protector for ``idp``."""
    server = OktaAuthorizationServer(idp)
    server.init_app(app)
    server.register_token_generator("default", AccessTokenFactory(idp))
    server.register_client_auth_method(OktaPrivateKeyJWT.CLIENT_AUTH_METHOD, OktaPrivateKeyJWT(idp))
    server.register_grant(AuthorizationCodeGrant, [OktaCodeChallenge(required=True), OktaOpenIDCode(idp)])
    server.register_grant(RefreshTokenGrant, [OktaOpenIDToken(idp)])
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(OktaRevocationEndpoint)
    server.register_endpoint(OktaIntrospectionEndpoint)
    server.register_endpoint(OktaEndSessionEndpoint)

    protector = ResourceProtector()
    protector.register_token_validator(OktaBearerTokenValidator(idp))
    idp.authorization_server = server
    idp.resource_protector = protector
