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
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from authlib.integrations.requests_client.oauth2_session import OAuth2ClientAuth
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from okta_security.okta_api.client import HttpPolicy, OktaApiClient, OktaApiRejected, OktaHttp
from okta_security.settings.secrets import load_private_key

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from joserfc.jwk import RSAKey

    from okta_security.okta_api.client import WaitBudget
    from okta_security.settings.loader import OktaSettings

log = logging.getLogger(__name__)

API_SCOPES = ("okta.users.read", "okta.groups.read")  # least privilege for reading users' groups
TOKEN_REFRESH_MARGIN_SECONDS = 60.0  # renew the access token this long before Okta says it expires
BATCH_MAX_RETRIES = 5  # a nightly job can afford to wait out rate limits that a login cannot
BATCH_MAX_WAIT_SECONDS = 120.0  # per page: Okta's rate-limit windows are one minute


def token_endpoint(org_url: str) -> str:
    """Return the org authorization server's token endpoint (the only one issuing okta.* scopes)."""
    return f"{org_url.rstrip('/')}/oauth2/v1/token"


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
        scopes: Sequence[str] = API_SCOPES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_endpoint(org_url)
        self.client_id = client_id
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
        kid = key.kid  # a JWK's own kid; a PEM key has none and Okta uses the app's only key
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
        return f"ServiceAppAuth(client_id={self.client_id!r}, scopes={self.scopes!r})"


def _lifetime(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 300.0  # no usable expires_in: assume a short life rather than a long one
    return seconds if seconds > 0 else 300.0


def build_authorizer(settings: OktaSettings) -> SswsAuth | ServiceAppAuth | None:
    """Return the Management API authentication the settings choose, or None if there is none."""
    if settings.api_token is not None:
        return SswsAuth(settings.api_token.get)
    if settings.api_client_id and settings.api_private_key is not None:
        return ServiceAppAuth(
            settings.groups_api_org_url,
            settings.api_client_id,
            settings.api_private_key.get,
        )
    return None


def build_groups_client(settings: OktaSettings, *, batch: bool = False) -> OktaApiClient | None:
    """Return the Management API client the settings describe, or None if none is configured.

    A ``batch`` client (sync-users, migrate-usernames) waits out rate limits longer than a login can.
    """
    auth = build_authorizer(settings)
    if auth is None:
        return None
    max_retries, max_wait = HttpPolicy.max_retries, settings.api_max_wait_seconds
    if batch:
        max_retries, max_wait = max(max_retries, BATCH_MAX_RETRIES), max(max_wait, BATCH_MAX_WAIT_SECONDS)
    policy = HttpPolicy(
        connect_timeout=settings.http_timeout_seconds,
        read_timeout=settings.http_timeout_seconds,
        max_retries=max_retries,
        max_wait=max_wait,
    )
    return OktaApiClient(settings.groups_api_org_url, auth, OktaHttp(policy))
