"""Okta's Cross App Access at the org authorization server: a person's ID token traded for an ID-JAG.

A requesting app (an AI agent acting for a person) that signed the person in through the org
server asks its token endpoint for an Identity Assertion JWT Authorization Grant
(draft-ietf-oauth-identity-assertion-authz-grant §4.3) with RFC 8693 token exchange, then presents
the ID-JAG to the resource's authorization server with the RFC 7523 jwt-bearer grant. Like Okta,
only ID tokens of the org server are accepted, only from the app they were issued to, only for the
audiences the app is connected to (``cross_app_access.audiences``), and only while the person is
active and assigned to the app.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, UnauthorizedClientError, grants
from joserfc import jwt
from joserfc.errors import JoseError

from .claims import new_jti
from .config import MAX_AUDIENCE_LENGTH
from .keys import ALGORITHM
from .models import TOKEN_EXCHANGE_GRANT_TYPE

if TYPE_CHECKING:
    from .context import IdpContext
    from .models import Client, User

log = logging.getLogger(__name__)

ID_JAG_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id-jag"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ID_JAG_TYP = "oauth-id-jag+jwt"  # the ID-JAG's JWT header ``typ`` (draft §3)
ID_JAG_LIFETIME = 300  # seconds, as Okta issues them
MAX_SUBJECT_TOKEN_LENGTH = 16384  # far above any ID token this IdP signs; longer ones are refused unread
MAX_SCOPE_LENGTH = 1024

SUBJECT_TOKEN_INVALID = "subject token is invalid"  # Okta's wording for every unusable subject_token
USER_NOT_ACTIVE = "The user is not active."
USER_NOT_ASSIGNED = "User is not assigned to the client application."
AUDIENCE_NOT_ALLOWED = "The 'audience' is not a resource this client may access with Cross App Access."


class InvalidTargetError(OAuth2Error):
    """RFC 8693 §2.2.2: no token will be issued for the audience or resource asked for."""

    error = "invalid_target"


def _required(data: Any, name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"The '{name}' parameter is required.")
    if len(value) > limit:
        raise InvalidRequestError(f"The '{name}' parameter is too long.")
    return value


class IdJagGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    """RFC 8693 token exchange of an org ID token for an ID-JAG (``requested_token_type=...:id-jag``)."""

    GRANT_TYPE = TOKEN_EXCHANGE_GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
    _subject: dict[str, Any]  # the subject ID token's claims, once validated

    @property
    def idp(self) -> IdpContext:
        """Return the IdP context of the server this grant belongs to."""
        return self.server._idp

    def validate_token_request(self) -> None:
        """Authenticate the app, check the parameters, the audience, the subject token and its person."""
        client: Client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE) or client.cross_app_access is None:
            raise UnauthorizedClientError()
        self.request.client = client
        data = self.request.payload.data
        if _required(data, "requested_token_type", 256) != ID_JAG_TOKEN_TYPE:
            raise InvalidRequestError(f"The 'requested_token_type' must be {ID_JAG_TOKEN_TYPE}.")
        subject_token = _required(data, "subject_token", MAX_SUBJECT_TOKEN_LENGTH)
        if _required(data, "subject_token_type", 256) != ID_TOKEN_TYPE:
            raise InvalidRequestError(f"The 'subject_token_type' must be {ID_TOKEN_TYPE}.")
        audience = _required(data, "audience", MAX_AUDIENCE_LENGTH)
        if audience not in client.cross_app_access.audiences:
            raise InvalidTargetError(AUDIENCE_NOT_ALLOWED)
        resource = data.get("resource")
        if resource is not None and (
            not isinstance(resource, str)
            or not resource.startswith(("https://", "http://"))
            or len(resource) > MAX_AUDIENCE_LENGTH
        ):
            raise InvalidTargetError("The 'resource' must be an absolute http(s) URI (RFC 8707).")
        scope = data.get("scope")
        if scope is not None and (not isinstance(scope, str) or len(scope) > MAX_SCOPE_LENGTH):
            raise InvalidRequestError("The 'scope' parameter is too long.")
        self._subject = self._subject_claims(subject_token, client)  # authlib runs both steps on one grant
        self.request.user = self._person(self._subject, client)

    def _subject_claims(self, subject_token: str, client: Client) -> dict[str, Any]:
        """Return the claims of an ID token the org server issued to ``client`` and that is still valid."""
        try:
            token = jwt.decode(subject_token, self.idp.keys.public_key_set(), algorithms=[ALGORITHM])
            # Okta: an ID token of this org server (iss), issued to the app asking (aud), not expired.
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.idp.base_url},
                aud={"essential": True, "value": client.client_id},
                sub={"essential": True},
                exp={"essential": True},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            log.info("ID-JAG refused to %s: the subject token is unusable (%s)", client.client_id, type(exc).__name__)
            raise InvalidGrantError(SUBJECT_TOKEN_INVALID) from exc
        if token.header.get("typ") == ID_JAG_TYP:  # an ID-JAG is no ID token, whatever its aud
            raise InvalidGrantError(SUBJECT_TOKEN_INVALID)
        return dict(token.claims)

    def _person(self, subject: dict[str, Any], client: Client) -> User:
        """Return the subject's user if they are still active and assigned to ``client``."""
        user = self.idp.config.find_user(str(subject["sub"]))
        if user is None or user.id != subject["sub"] or not user.is_active:
            raise InvalidGrantError(USER_NOT_ACTIVE)
        if not client.is_assigned(user):
            raise InvalidGrantError(USER_NOT_ASSIGNED)
        return user

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Return the RFC 8693 §2.2.1 response carrying a fresh ID-JAG (a new ``jti`` every time)."""
        client: Client = self.request.client
        user: User = self.request.user
        data = self.request.payload.data
        subject = self._subject
        settings = client.cross_app_access
        assert settings is not None
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.idp.base_url,
            "sub": user.id,
            "aud": data["audience"],
            "client_id": settings.resource_client_id or client.client_id,
            "jti": new_jti("JAG"),
            "iat": now,
            "exp": now + ID_JAG_LIFETIME,
        }
        for optional in ("scope", "resource"):
            if data.get(optional):
                claims[optional] = data[optional]
        for copied in ("auth_time", "amr"):  # how and when the person signed in, from the ID token
            if copied in subject:
                claims[copied] = subject[copied]
        body: dict[str, Any] = {
            "issued_token_type": ID_JAG_TOKEN_TYPE,
            "access_token": self.idp.keys.sign(claims, typ=ID_JAG_TYP),
            "token_type": "N_A",  # RFC 8693 §2.2.1: not an access token
            "expires_in": ID_JAG_LIFETIME,
        }
        if data.get("scope"):
            body["scope"] = data["scope"]
        log.info("org server issued an ID-JAG to %s for user %s, audience %s", client.client_id, user.id, claims["aud"])
        return 200, body, self.TOKEN_RESPONSE_HEADER
