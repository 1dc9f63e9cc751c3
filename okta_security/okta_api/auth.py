"""How okta_security authenticates to Okta's Management API: an SSWS API token or an OAuth service app.

The service app (Okta's recommendation) gets access tokens from the org authorization server's
token endpoint ``https://{org}/oauth2/v1/token`` with the client credentials grant and
``private_key_jwt`` client authentication — an RS256 assertion signed with the app's private key
by authlib's :class:`~authlib.oauth2.rfc7523.PrivateKeyJWT` — for the scopes ``okta.users.read``
and ``okta.groups.read``. The token is cached until shortly before it expires. The key comes from
``OKTA_API_PRIVATE_KEY`` (PEM or JWK); given as ``*_FILE`` it is re-read when the file changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from authlib.integrations.requests_client.oauth2_session import OAuth2ClientAuth
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from okta_security.errors import OktaApiRejected

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from okta_security.okta_api.client import OktaHttp, WaitBudget
    from okta_security.settings.loader import OktaSettings

log = logging.getLogger(__name__)

API_SCOPES = ("okta.users.read", "okta.groups.read")  # least privilege for reading users' groups
TOKEN_REFRESH_MARGIN_SECONDS = 60.0  # renew the access token this long before Okta says it expires


def token_endpoint(org_url: str) -> str:
    """Return the org authorization server's token endpoint (the only one issuing okta.* scopes)."""
    return f"{org_url.rstrip('/')}/oauth2/v1/token"


def load_private_key(text: str) -> RSAKey:
    """Parse a private RSA key given as PEM or as a JWK (JSON); ValueError says what is wrong, never the key."""
    text = text.strip()
    if not text:
        raise ValueError("it is empty")
    try:
        key = RSAKey.import_key(json.loads(text)) if text.startswith("{") else RSAKey.import_key(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"it looks like a JWK but is not valid JSON (line {e.lineno}, column {e.colno})") from e
    except (JoseError, ValueError, TypeError, KeyError) as e:
        raise ValueError("it is neither a PEM-encoded RSA private key nor an RSA JWK") from e
    if not key.is_private:
        raise ValueError("it is a public key; the private key is needed (Okta keeps the public half)")
    return key


class SswsAuth:
    """``Authorization: SSWS <API token>`` (the token acts with its creator's admin rights)."""

    can_refresh = False

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def authorization(self, http: OktaHttp, budget: WaitBudget) -> str:
        """Return the header value with the current token (a rotated token file is picked up)."""
        return f"SSWS {self._token()}"

    def invalidate(self) -> None:
        """Do nothing: an API token cannot be renewed by asking again."""

    def __repr__(self) -> str:
        return "SswsAuth(token='**********')"


class ServiceAppAuth:
    """OAuth 2.0 service app: client credentials + ``private_key_jwt``, access token cached."""

    can_refresh = True

    def __init__(
        self,
        org_url: str,
        client_id: str,
        private_key: Callable[[], str],
        *,
        key_id: str | None = None,
        scopes: Sequence[str] = API_SCOPES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_endpoint(org_url)
        self.client_id = client_id
        self.key_id = key_id
        self.scopes = tuple(scopes)
        self._private_key = private_key
        self._clock = clock
        self._lock = threading.Lock()
        self._key: tuple[str, RSAKey] | None = None  # (digest of the key text, parsed key)
        self._access_token: str | None = None
        self._renew_at = float("-inf")

    def authorization(self, http: OktaHttp, budget: WaitBudget) -> str:
        """Return ``Bearer <access token>``, fetching a new token when the cached one is about to expire."""
        with self._lock:
            if self._access_token is None or self._clock() >= self._renew_at:
                self._fetch(http, budget)
            assert self._access_token is not None
            return f"Bearer {self._access_token}"

    def invalidate(self) -> None:
        """Drop the cached access token."""
        with self._lock:
            self._access_token = None

    def _fetch(self, http: OktaHttp, budget: WaitBudget) -> None:
        key = self._current_key()
        kid = self.key_id or key.kid
        # authlib signs a fresh assertion (iss = sub = client id, aud = token endpoint, jti, exp) per request.
        client_auth = OAuth2ClientAuth(
            self.client_id,
            key,
            auth_method=PrivateKeyJWT(self.token_url, headers={"kid": kid} if kid else None),
        )
        what = f"getting an Okta API access token for service app {self.client_id}"
        started = self._clock()
        resp = http.send(
            "POST",
            self.token_url,
            what=what,
            budget=budget,
            data={"grant_type": "client_credentials", "scope": " ".join(self.scopes)},
            headers={"Accept": "application/json"},
            auth=client_auth,
        )
        try:
            body: Any = resp.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        token_type = str(body.get("token_type", "")) if isinstance(body, dict) else ""
        if not isinstance(token, str) or not token or token_type.lower() != "bearer":
            raise OktaApiRejected(
                f"{what}: Okta's token response has no Bearer access token (token_type {token_type!r}) — "
                "turn off DPoP on the service app",
                status=resp.status_code,
                request_id=resp.headers.get("X-Okta-Request-Id"),
            )
        lifetime = _lifetime(body.get("expires_in"))
        self._access_token = token
        self._renew_at = started + lifetime - min(TOKEN_REFRESH_MARGIN_SECONDS, lifetime / 2)
        log.info(
            "Got an Okta API access token for service app %s (scope %s, expires in %d s)",
            self.client_id,
            body.get("scope", " ".join(self.scopes)),
            lifetime,
        )

    def _current_key(self) -> RSAKey:
        text = self._private_key()
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if self._key is None or self._key[0] != digest:
            changed = self._key is not None
            try:
                self._key = (digest, load_private_key(text))
            except ValueError as e:
                raise OktaApiRejected(f"OKTA_API_PRIVATE_KEY cannot be used: {e}") from e
            if changed:
                log.info("OKTA_API_PRIVATE_KEY changed; signing with the new key from now on")
        return self._key[1]

    def __repr__(self) -> str:
        return f"ServiceAppAuth(client_id={self.client_id!r}, key_id={self.key_id!r}, scopes={self.scopes!r})"


def _lifetime(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 300.0  # no usable expires_in: assume a short life rather than a long one
    return seconds if seconds > 0 else 300.0


def build_authorizer(settings: OktaSettings) -> SswsAuth | ServiceAppAuth | None:
    """Return the Management API authentication the settings choose, or None if there is none."""
    if settings.groups_api_token is not None:
        return SswsAuth(settings.groups_api_token.get)
    if settings.groups_api_client_id and settings.groups_api_private_key is not None:
        return ServiceAppAuth(
            settings.groups_api_org_url,
            settings.groups_api_client_id,
            settings.groups_api_private_key.get,
            key_id=settings.groups_api_key_id or None,
        )
    return None
