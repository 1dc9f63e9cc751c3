"""Domain objects: users, groups, clients, authorization codes and tokens."""

from __future__ import annotations

import hashlib
import hmac
import string
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, list_to_scope, scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin

if TYPE_CHECKING:
    from collections.abc import Mapping

_BASE62 = string.digits + string.ascii_letters
USER_STATUSES = frozenset(
    {
        "STAGED",
        "PROVISIONED",
        "ACTIVE",
        "RECOVERY",
        "PASSWORD_EXPIRED",
        "LOCKED_OUT",
        "SUSPENDED",
        "DEPROVISIONED",
    }
)
AUTH_METHODS = frozenset({"client_secret_basic", "client_secret_post", "private_key_jwt", "none"})
DEVICE_CODE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 §3.4
TOKEN_EXCHANGE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693 §2.1
GRANT_TYPES = frozenset(
    {"authorization_code", "refresh_token", "client_credentials", DEVICE_CODE_GRANT_TYPE, TOKEN_EXCHANGE_GRANT_TYPE}
)


def okta_id(prefix: str, seed: str) -> str:
    """Derive a stable Okta-style id (prefix + 17 base62 chars) from ``seed``."""
    number = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest(), "big")
    chars = []
    for _ in range(17):
        number, rem = divmod(number, 62)
        chars.append(_BASE62[rem])
    return prefix + "".join(chars)


def _same_secret(expected: str, given: str) -> bool:
    """Compare two secrets in constant time."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


@dataclass(frozen=True)
class Group:
    """An Okta group (``00g...``), identified by its unique name."""

    name: str
    description: str = ""
    membership_updated_at: int = 0  # epoch seconds of the last membership change at run time; 0: none

    @property
    def id(self) -> str:
        """Return the group's stable Okta id."""
        return okta_id("00g", "group:" + self.name)

    @property
    def type(self) -> str:
        """Return ``BUILT_IN`` for Okta's Everyone group, else ``OKTA_GROUP``."""
        return "BUILT_IN" if self.name == "Everyone" else "OKTA_GROUP"


@dataclass(frozen=True)
class User:
    """An Okta user as configured in the YAML file."""

    id: str
    login: str
    password: str = field(repr=False)
    email: str
    given_name: str = ""
    family_name: str = ""
    status: str = "ACTIVE"
    groups: tuple[str, ...] = ()
    locale: str = "en-US"
    zoneinfo: str = "America/Los_Angeles"
    updated_at: int = 0

    @property
    def name(self) -> str:
        """Return the display name ("given family"), falling back to the login."""
        return f"{self.given_name} {self.family_name}".strip() or self.login

    @property
    def is_active(self) -> bool:
        """Return whether the user may sign in."""
        return self.status == "ACTIVE"

    def get_user_id(self) -> str:
        """Return the Okta user id (the ID token ``sub``)."""
        return self.id

    def check_password(self, password: str) -> bool:
        """Return whether ``password`` is this user's password."""
        return _same_secret(self.password, password)


@dataclass(frozen=True)
class SignedInUser:
    """A user together with the time they authenticated at the IdP."""

    user: User
    auth_time: int
    amr: tuple[str, ...] = ("pwd",)  # how: a password, or a password and the one-time code (step-up)


@dataclass(frozen=True)
class Client(ClientMixin):
    """An OIDC web application registered at the authorization server."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    token_endpoint_auth_method: str = "client_secret_basic"
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    require_pkce: bool = True
    name: str = ""
    jwks: Mapping[str, Any] | None = field(default=None, repr=False, compare=False, hash=False)  # private_key_jwt
    # Okta's "Login initiated by: Either Okta or App": the dashboard tile opens this URI with iss (OIDC Core §4).
    initiate_login_uri: str | None = None
    target_link_uri: str | None = None  # where the app should land after the tile's sign-in (optional)
    # Universal Logout (the app's Authentication → Logout settings): its global token revocation endpoint.
    universal_logout: UniversalLogoutTarget | None = field(default=None, compare=False, hash=False)
    # The app's Assignments tab, by group: None assigns everyone (the stand-in's default), else members of these.
    assigned_groups: tuple[str, ...] | None = None
    # Okta's Cross App Access: the app may ask the org for ID-JAGs naming these resources (None: it may not).
    cross_app_access: CrossAppAccess | None = field(default=None, compare=False, hash=False)

    @property
    def client_metadata(self) -> dict[str, Any]:
        """Return the RFC 7591 style metadata authlib endpoints read."""
        return {
            "client_name": self.name or self.client_id,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "grant_types": list(self.grant_types),
            "response_types": ["code"],
            **({"initiate_login_uri": self.initiate_login_uri} if self.initiate_login_uri else {}),
        }

    def get_client_id(self) -> str:
        """Return the client id."""
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        """Return None: like Okta, ``redirect_uri`` must always be sent."""
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Return the requested scope normalised (the server validated it)."""
        return str(list_to_scope(scope_to_list(scope) or []))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Return whether ``redirect_uri`` is a registered login redirect URI."""
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        """Return whether ``client_secret`` is this client's secret."""
        return self.client_secret is not None and _same_secret(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Return whether ``method`` is the client's one authentication method."""
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        """Return whether the client may use ``response_type`` (only ``code``)."""
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        """Return whether the client may use ``grant_type``."""
        return grant_type in self.grant_types

    def is_assigned(self, user: User) -> bool:
        """Return whether ``user`` is assigned to this app (directly or through one of their groups)."""
        return self.assigned_groups is None or bool(set(self.assigned_groups) & set(user.groups))


@dataclass(frozen=True)
class CrossAppAccess:
    """A requesting app's Cross App Access settings: which resources it may get ID-JAGs for."""

    audiences: tuple[str, ...]  # the resource authorization servers' identifiers: an ID-JAG's ``aud``
    resource_client_id: str | None = None  # the app's client id at the resource (the ``client_id`` claim)


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    """An issued, not yet redeemed authorization code."""

    code: str = field(repr=False)
    client_id: str
    redirect_uri: str
    scope: str
    user_id: str
    auth_time: int
    expires_at: float
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    amr: tuple[str, ...] = ("pwd",)
    issuer: str = ""  # the authorization server that issued it: only that one redeems it

    def get_redirect_uri(self) -> str:
        """Return the redirect URI the code was issued for."""
        return self.redirect_uri

    def get_scope(self) -> str:
        """Return the granted scope."""
        return self.scope

    def get_nonce(self) -> str | None:
        """Return the nonce of the authorization request."""
        return self.nonce

    def get_auth_time(self) -> int:
        """Return when the user authenticated."""
        return self.auth_time

    def get_amr(self) -> list[str]:
        """Return the authentication methods of the sign-in the code was issued for."""
        return list(self.amr)

    def is_expired(self) -> bool:
        """Return whether the code is past its lifetime."""
        return time.time() >= self.expires_at


@dataclass
class Token(TokenMixin):
    """An issued access token (and optional refresh token)."""

    access_token: str = field(repr=False)
    jti: str
    client_id: str
    scope: str
    issued_at: int
    expires_in: int
    user_id: str | None = None
    refresh_token: str | None = field(default=None, repr=False)
    code: str | None = field(default=None, repr=False)
    access_token_revoked: bool = False
    refresh_token_revoked: bool = False

    def check_client(self, client: Client) -> bool:
        """Return whether the token was issued to ``client``."""
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        """Return the granted scope."""
        return self.scope

    def get_expires_in(self) -> int:
        """Return the access token lifetime in seconds."""
        return self.expires_in

    @property
    def expires_at(self) -> int:
        """Return when the access token expires (epoch seconds)."""
        return self.issued_at + self.expires_in

    def is_expired(self) -> bool:
        """Return whether the access token has expired."""
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        """Return whether the access token was revoked."""
        return self.access_token_revoked

    def get_user(self) -> str | None:
        """Return the user id the token was issued for (None for clients)."""
        return self.user_id


EVENT_TYPES: dict[str, str] = {  # type -> Okta's displayMessage
    "user.lifecycle.activate": "Activate Okta user",
    "user.lifecycle.reactivate": "Reactivate Okta user",
    "user.lifecycle.deactivate": "Deactivate Okta user",
    "user.lifecycle.suspend": "Suspend Okta user",
    "user.lifecycle.unsuspend": "Unsuspend Okta user",
    "user.lifecycle.delete.initiated": "Delete Okta user",
    "group.user_membership.add": "Add user to group membership",
    "group.user_membership.remove": "Remove user from group membership",
    "application.user_membership.add": "Add user to application membership",
    "application.user_membership.remove": "Remove user from application membership",
}


SUBJECT_FORMATS = ("iss_sub", "email")  # RFC 9493 formats Okta's Universal Logout sends


@dataclass(frozen=True)
class UniversalLogoutTarget:
    """Where and how the org tells an app to sign a person out (Okta: Universal Logout, Signed JWT)."""

    url: str  # the app's global token revocation endpoint: the JWT's ``aud``
    subject_format: str = "iss_sub"  # "iss_sub" (the Okta user id) or "email"


@dataclass(frozen=True)
class EventHook:
    """One configured event hook."""

    name: str
    url: str
    authorization: str = field(repr=False)
    events: tuple[str, ...] = tuple(EVENT_TYPES)

    @property
    def id(self) -> str:
        """Return the hook's stable Okta id (``who…``)."""
        return okta_id("who", "event-hook:" + self.url)
