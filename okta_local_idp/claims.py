"""Okta-shaped claims for ID tokens, userinfo and JWT access tokens."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.core import UserInfo
from flask import g

from .models import Client, Token, User

if TYPE_CHECKING:
    from authlib.oauth2.rfc6749 import OAuth2Request

    from .context import IdpContext

ACCESS_TOKEN_LIFETIME = 3600
ID_TOKEN_LIFETIME = 3600


def new_jti(prefix: str) -> str:
    """Return a random token id with Okta's ``AT.``/``ID.`` style prefix."""
    return f"{prefix}.{secrets.token_urlsafe(32)}"


def matching_groups(idp: IdpContext, user: User) -> list[str]:
    """Return the user's group names that pass the groups claim filter."""
    server = idp.config.server
    return [name for name in user.groups if server.groups_filter_matches(name)]


def _profile_claims(user: User) -> dict[str, Any]:
    return {
        "sub": user.id,
        "name": user.name,
        "locale": user.locale,
        "email": user.email,
        "preferred_username": user.login,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "zoneinfo": user.zoneinfo,
        "updated_at": user.updated_at,
        "email_verified": True,
    }


def userinfo_claims(idp: IdpContext, user: User, scope: str) -> dict[str, Any]:
    """Return the ``/v1/userinfo`` body for ``user`` and the token's ``scope``."""
    claims = dict(UserInfo(_profile_claims(user)).filter(scope))
    claims["sub"] = idp.fault("userinfo_sub") or user.id
    if "groups" in (scope_to_list(scope) or []) or idp.config.server.groups_claim:
        groups = matching_groups(idp, user)
        if groups:  # like Okta, no claim rather than an empty one
            claims["groups"] = groups
    return claims


def id_token_user_claims(idp: IdpContext, user: User, scope: str) -> dict[str, Any]:
    """Return the user claims put in an ID token for ``scope``."""
    scopes = scope_to_list(scope) or []
    claims: dict[str, Any] = {"sub": user.id}
    if "profile" in scopes:
        claims.update(name=user.name, preferred_username=user.login)
    if "email" in scopes:
        claims["email"] = user.email
    if idp.config.server.groups_claim and idp.fault("id_token_groups", True):
        groups = matching_groups(idp, user)
        if groups:  # like Okta, no claim rather than an empty one
            claims["groups"] = groups
    return claims


class AccessTokenFactory:
    """The token generator registered with authlib: Okta-style JWT access tokens."""

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
        """Return the token response body (before authlib adds ``id_token``)."""
        scope = client.get_allowed_scope(scope)
        lifetime = expires_in or ACCESS_TOKEN_LIFETIME
        now = int(time.time())
        claims: dict[str, Any] = {
            "ver": 1,
            "jti": new_jti("AT"),
            "iss": self._idp.issuer,
            "aud": self._idp.config.server.audience,
            "iat": now,
            "exp": now + lifetime,
            "cid": client.client_id,
            "scp": scope_to_list(scope) or [],
            "sub": user.login if user else client.client_id,
        }
        if user is not None:
            claims["uid"] = user.id
            sign_in = g.get("okta_sign_in")
            if self._idp.config.server.access_token_auth_claims and sign_in is not None:
                claims["auth_time"], claims["amr"] = sign_in[0], list(sign_in[1])
            if self._idp.config.server.access_token_groups_claim:
                groups = matching_groups(self._idp, user)
                if groups:  # like Okta, no claim rather than an empty one
                    claims["groups"] = groups
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "access_token": self._idp.keys.sign(claims),
            "scope": scope,
        }
        if include_refresh_token and user is not None and "offline_access" in (scope_to_list(scope) or []):
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token


def token_record(idp: IdpContext, token: dict[str, Any], request: OAuth2Request) -> Token:
    """Return the stored form of a freshly issued token response."""
    code = request.authorization_code
    user = request.user
    claims = idp.keys.verify(token["access_token"])
    return Token(
        access_token=token["access_token"],
        jti=str(claims["jti"]),
        client_id=request.client.client_id,
        scope=token.get("scope", ""),
        issued_at=int(claims["iat"]),
        expires_in=int(token["expires_in"]),
        user_id=user.id if isinstance(user, User) else None,
        refresh_token=token.get("refresh_token"),
        code=code.code if code is not None else None,
    )
