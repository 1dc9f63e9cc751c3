"""Verify Okta ID tokens with joserfc: RS256 only, keys from the issuer's JWKS, strict claims.

Also the issuer's key cache (:class:`JwksCache`) and the shape check (:func:`token_header`) that
bots' access tokens share: a token that is not a compact RS256 JWS is refused before any key is
fetched, and failed fetches back off (1 s, doubling up to a minute), so neither a flood of junk
tokens nor an unreachable Okta turns every request into two network calls of up to 10 s.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from okta_security.errors import OktaUnavailable, TokenValidationError
from okta_security.settings.specs import OktaSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("RS256",)  # Okta signs ID tokens with RS256; never accept none/HS*.
MAX_KEY_AGE_SECONDS = 3600.0  # re-read the JWKS hourly so a key Okta withdraws stops being trusted
BACKOFF_FIRST_SECONDS = 1.0  # after a failed fetch, the next try waits this long, doubling per failure ...
BACKOFF_MAX_SECONDS = 60.0  # ... up to this
WAIT_FOR_FETCH_SECONDS = 30.0  # a caller with no keys waits this long for another thread's fetch
_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class MalformedToken(ValueError):
    """A token that cannot be an Okta RS256 JWS: refused before any key is fetched."""

    def __init__(self, reason: Literal["malformed", "alg_not_allowed"], detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched, now or on a recent try (``retry_in`` seconds until the next)."""

    def __init__(self, message: str, *, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


def token_header(token: str, *, require_kid: bool) -> Mapping[str, Any]:
    """Return the JOSE header of a compact RS256 JWS; raise :class:`MalformedToken` for anything else.

    Cheap and offline: three non-empty base64url segments, a JSON object header, ``alg`` RS256 and,
    when required, a ``kid``. Only a token passing this may cause a key fetch.
    """
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not _BASE64URL.issuperset(parts[0]):
        raise MalformedToken("malformed", "not a compact JWS (three base64url segments)")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (binascii.Error, ValueError, RecursionError) as e:
        raise MalformedToken("malformed", "the header is not base64url-encoded JSON") from e
    if not isinstance(header, dict):
        raise MalformedToken("malformed", "the header is not a JSON object")
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        # joserfc's own wording, which the refusal page and the conformance docs show
        shown = f"Algorithm of {alg[:20]!r} is not allowed" if isinstance(alg, str) else "no 'alg' in the header"
        raise MalformedToken("alg_not_allowed", shown)
    if not all(part and _BASE64URL.issuperset(part) for part in parts[1:]):
        raise MalformedToken("malformed", "not a compact JWS (three base64url segments)")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise MalformedToken("malformed", "the 'kid' header is not a string")
    if require_kid and not kid:
        raise MalformedToken("malformed", "no 'kid' header")
    return header


@dataclass
class _Fetch:
    """One fetch of the key set in progress; other threads that need its outcome wait on ``done``."""

    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False


class JwksCache:
    """Cache the issuer's key set; re-fetch once on an unknown ``kid``, at most every interval.

    One thread fetches at a time, without holding the lock: a caller that has keys never waits for
    a fetch; one that needs the outcome (no keys yet, an unknown ``kid``) waits for the fetch in
    flight instead of starting its own. A failed fetch is not retried for 1 s, then 2, 4 ... 60 s.
    """

    def __init__(
        self,
        fetch: Callable[[], Mapping[str, Any]],
        *,
        clock: Callable[[], float] = time.monotonic,
        min_refetch_interval: float = OktaSettings.jwks_refetch_interval_seconds,
        max_age: float = MAX_KEY_AGE_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._interval = min_refetch_interval
        self._max_age = max_age
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()  # guards the fields below; never held during a fetch
        self._keys: KeySet | None = None
        # Only re-fetches count against the interval: a key rotated right after the first load
        # must not lock logins out for the rest of the interval.
        self._refreshed_at = float("-inf")
        self._fetched_at: float | None = None  # when Okta last answered with keys (a failed re-read keeps it)
        self._in_flight: _Fetch | None = None
        self._failures = 0  # consecutive failed fetches
        self._retry_at = float("-inf")  # no fetch before this time (back-off)

    def age(self) -> float | None:
        """Return how many seconds ago the keys in use were fetched (None: not yet)."""
        return None if self._fetched_at is None else self._clock() - self._fetched_at

    def get(self) -> KeySet:
        """Return the cached key set, fetching it the first time; raise :class:`KeysUnavailable`."""
        keys, due = self._keys, self._clock() - self._loaded_at > self._max_age
        if keys is None:
            if not self._fetch_or_wait(refresh=False):
                raise KeysUnavailable(
                    "Okta's signing keys could not be fetched; try again in a minute.", retry_in=self._retry_in()
                )
            keys = self._keys
            assert keys is not None
            return keys
        if due:  # the hourly re-read: keep serving the keys we have, whoever fetches and however it ends
            try:
                self._fetch_or_wait(refresh=False, wait=False)
            except KeysUnavailable:
                log.warning("Could not re-read the issuer's JWKS; keeping the cached keys")
        return self._keys or keys

    def refresh(self) -> bool:
        """Re-fetch the key set unless re-fetched within the interval (or backing off); return whether it did."""
        return self._fetch_or_wait(refresh=True)

    def _fetch_or_wait(self, *, refresh: bool, wait: bool = True) -> bool:
        """Fetch now, or wait for the fetch in flight; return whether fresh keys came in.

        Raise :class:`KeysUnavailable` when this thread's fetch failed, or when there are no keys,
        the last fetch failed and the back-off forbids another try yet.
        """
        with self._lock:
            now = self._clock()
            flight = self._in_flight
            if flight is None:
                if not refresh and wait and self._keys is not None:
                    return True  # another thread loaded them since the caller looked
                if refresh and now - self._refreshed_at < self._interval:
                    return False
                if now < self._retry_at:
                    if self._keys is not None:
                        return False  # keep the keys we have; the next try comes after the pause
                    raise KeysUnavailable(
                        f"Okta's signing keys could not be fetched recently; the next try is in "
                        f"{self._retry_at - now:.0f} s.",
                        retry_in=self._retry_at - now,
                    )
                if refresh:
                    self._refreshed_at = now
                flight = self._in_flight = _Fetch()
                mine = True
            else:
                mine = False
        if not mine:
            if not wait:
                return False
            flight.done.wait(WAIT_FOR_FETCH_SECONDS)
            return flight.ok
        self._run(flight)
        return True

    def _run(self, flight: _Fetch) -> None:
        """Fetch and install the key set (outside the lock); on failure start or extend the back-off."""
        try:
            data = self._fetch()
            keys = [k for k in data.get("keys", []) if isinstance(k, dict) and k.get("kty") == "RSA"]
            key_set = KeySet.import_key_set({"keys": keys})
        except Exception as e:  # any failure of the fetch: Okta (or the network) is not answering usably
            with self._lock:
                self._failures += 1
                pause = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** min(self._failures - 1, 16))
                self._retry_at = self._clock() + pause
                self._in_flight = None
            flight.done.set()
            log.warning(
                "Could not fetch the issuer's signing keys (%d failure(s) in a row; next try in %.0f s): %s: %s",
                self._failures,
                pause,
                type(e).__name__,
                str(e)[:300],
            )
            raise KeysUnavailable(
                "Airflow could not fetch Okta's signing keys; try again in a minute.", retry_in=pause
            ) from e
        with self._lock:
            self._keys = key_set
            self._loaded_at = self._fetched_at = self._clock()
            self._failures, self._retry_at = 0, float("-inf")
            self._in_flight = None
            flight.ok = True
        flight.done.set()
        log.info("Loaded %d signing key(s) from the issuer's JWKS", len(keys))

    def _retry_in(self) -> float:
        return max(0.0, self._retry_at - self._clock())


def verify_id_token(
    id_token: str,
    *,
    jwks: JwksCache,
    issuer: str,
    client_id: str,
    nonce: str | None,
    leeway: int = OktaSettings.clock_skew_seconds,
    now: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """Return the ID token's claims after checking signature, alg, iss, aud/azp, exp, iat, nonce, sub."""
    try:
        token = _decode(id_token, jwks)
    except (TokenValidationError, OktaUnavailable):
        raise
    except JoseError as e:
        raise TokenValidationError(_describe(e)) from e
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=leeway,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as e:
        raise TokenValidationError(_describe(e)) from e
    aud = claims["aud"]
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != client_id:
        raise TokenValidationError("several audiences and 'azp' is not this client")
    if nonce is None or claims.get("nonce") != nonce:
        raise TokenValidationError("'nonce' does not match the sign-in request")
    return claims


class UnknownSigningKey(Exception):
    """The token names a key the issuer does not publish, even after one re-fetch of its keys."""


def decode_signed(token: str, jwks: JwksCache) -> Any:
    """Verify ``token``'s RS256 signature with the issuer's cached keys and return it decoded (joserfc).

    The one decode path of every Okta token, ID token or access token. Okta rotates keys, sometimes
    without notice: an unknown ``kid`` causes one (rate-limited) re-fetch, then UnknownSigningKey.
    Raise KeysUnavailable when no keys can be had, and joserfc's JoseError for any other failure.
    """
    try:
        return jwt.decode(token, jwks.get(), algorithms=list(ALLOWED_ALGORITHMS))
    except InvalidKeyIdError as first:
        if not jwks.refresh():
            raise UnknownSigningKey from first
    try:
        return jwt.decode(token, jwks.get(), algorithms=list(ALLOWED_ALGORITHMS))
    except InvalidKeyIdError as e:
        raise UnknownSigningKey from e


def _decode(id_token: str, jwks: JwksCache) -> Any:
    try:
        # The ID token comes from Okta's token endpoint, never from the browser; a kid is still
        # optional (OIDC Core 10.1: a single key may go unnamed).
        token_header(id_token, require_kid=False)
    except MalformedToken as e:
        raise TokenValidationError(e.detail) from e
    try:
        return decode_signed(id_token, jwks)
    except KeysUnavailable as e:
        raise OktaUnavailable(
            "Okta is not answering (its signing keys could not be loaded). Try again in a minute."
        ) from e
    except UnknownSigningKey as e:
        raise TokenValidationError(_unknown_key(id_token)) from e
    except JoseError as e:
        raise TokenValidationError(_describe(e)) from e


def _unknown_key(id_token: str) -> str:
    try:
        kid = jws.extract_compact(id_token.encode()).headers().get("kid")
    except (JoseError, ValueError):
        kid = None
    if kid is None:
        # OIDC Core 10.1: with several keys in the JWKS the kid MUST be given; we don't try each key.
        return "no 'kid' in the token header and the issuer publishes several keys"
    return "signed with a key the issuer does not publish"


def _describe(e: Exception) -> str:
    if isinstance(e, BadSignatureError):
        return "bad signature"
    if isinstance(e, ExpiredTokenError):
        return "token expired"
    if isinstance(e, MissingClaimError | InvalidClaimError):
        return str(e.description if hasattr(e, "description") else e)
    if isinstance(e, InvalidKeyIdError):
        return "signed with a key the issuer does not publish"
    text = getattr(e, "description", None) or str(e) or type(e).__name__
    return str(text)[:200]
