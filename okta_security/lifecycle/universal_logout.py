"""Okta Universal Logout: a global token revocation request, checked and decided (pure; the adapter does I/O).

Okta (Identity Threat Protection, an admin, a workflow) POSTs to the app's endpoint
(draft-parecki-oauth-global-token-revocation §3; Okta's "Build Universal Logout for your app")::

    Authorization: Bearer <JWT signed with the org's keys>
    {"sub_id": {"format": "iss_sub", "iss": "https://{org}", "sub": "00u…"}}   or
    {"sub_id": {"format": "email", "email": "ann@example.com"}}

The JWT (§3.5) is verified with the org authorization server's keys: RS256, ``iss`` the org URL,
``aud`` exactly this endpoint's public URL, ``exp`` in the future and at most
:data:`MAX_LIFETIME_SECONDS` after ``iat``, ``iat`` not in the future, a ``jti`` never seen before
(the adapter claims it in the database, so a replay to another replica fails too). Answers
(§3.4): 204 done, 400 malformed, 401 authentication failed, 404 no such user.

The effect is a per-account "not before" time: every Airflow session and token that began before
it is refused (:func:`began_before`), on every replica; the account stays active, so the next
sign-in through Okta works if Okta allows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, Protocol

from joserfc.errors import JoseError

from okta_security.errors import (
    LogoutMalformed,
    LogoutRefused,
    LogoutUnauthorized,
    LogoutUnavailable,
    LogoutUnknownSubject,
)
from okta_security.oidc.assertion import claims_problem
from okta_security.oidc.id_token import KeysUnavailable, MalformedToken, UnknownSigningKey, decode_signed, token_header
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from okta_security.oidc.id_token import JwksCache

ENDPOINT_PATH = "/okta/global-token-revocation"  # under FAB's views: <base url>/auth on Airflow 3, the root on 2.11
MAX_LIFETIME_SECONDS = 300  # draft §3.5 recommends five minutes; a longer-lived JWT is refused
MAX_BODY_BYTES = 4096  # one subject identifier (RFC 9493) is a few hundred bytes
MAX_JTI_CHARS = 128  # the jti column; Okta's are a few dozen characters
MAX_SUBJECT_CHARS = 320  # an email address (RFC 5321: 64 + 1 + 255) or an Okta user id
SubjectFormat = Literal["iss_sub", "email"]
SUBJECT_FORMATS: tuple[SubjectFormat, ...] = ("iss_sub", "email")


@dataclass(frozen=True)
class LogoutSubject:
    """Whom to sign out: the Okta user ``sub`` of issuer ``iss``, or the person with ``email``."""

    format: SubjectFormat
    value: str  # the Okta user id (iss_sub) or the email address
    iss: str | None = None

    def describe(self) -> str:
        """Return the subject for logs and the audit trail."""
        return f"{self.format}:{self.value}"


@dataclass(frozen=True)
class LogoutAssertion:
    """The verified JWT's facts kept for the audit trail (never the token)."""

    jti: str
    caller: str  # ``sub``: the Okta app (client id) the request is for
    expires_at: int


@dataclass(frozen=True)
class SignedOutAccount:
    """An Airflow account to sign out."""

    user_id: int
    username: str


@dataclass(frozen=True)
class LogoutDone:
    """The outcome of an accepted request: who was signed out, from when, by which JWT."""

    assertion: LogoutAssertion
    subject: LogoutSubject
    accounts: tuple[SignedOutAccount, ...]
    not_before: datetime


class LogoutStore(Protocol):
    """What Universal Logout reads and writes (the adapter implements it on Airflow's database)."""

    def accounts_for(self, subject: LogoutSubject) -> Sequence[SignedOutAccount]:
        """Return the Okta-linked Airflow accounts of ``subject`` (empty: none)."""
        ...

    def sign_out(
        self, accounts: Sequence[SignedOutAccount], *, not_before: datetime, jti: str, jti_expires_at: datetime
    ) -> bool:
        """Claim ``jti`` and set the accounts' not-before time, in one transaction; return False if ``jti`` was used."""
        ...


def verify_assertion(
    authorization: str | None,
    *,
    keys: JwksCache,
    org: str,
    audience: str,
    leeway: int,
    now: float,
) -> LogoutAssertion:
    """Return the facts of the request's signed JWT (draft §3.5); raise LogoutUnauthorized or LogoutUnavailable."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise LogoutUnauthorized("no_bearer", "Send the signed JWT as 'Authorization: Bearer <JWT>'.")
    try:
        token_header(token, require_kid=False)
        decoded = decode_signed(token, keys)
    except MalformedToken as e:
        raise LogoutUnauthorized(e.reason, f"The bearer token is not an RS256-signed JWT: {e.detail}.") from e
    except UnknownSigningKey as e:
        raise LogoutUnauthorized("unknown_key", "The JWT is signed with a key the Okta org does not publish.") from e
    except KeysUnavailable as e:
        raise LogoutUnavailable("keys_unavailable", "Okta's signing keys could not be fetched; try again.") from e
    except JoseError as e:
        raise LogoutUnauthorized("bad_signature", "The JWT's signature does not verify with the org's keys.") from e
    claims = dict(decoded.claims)
    return check_claims(claims, org=org, audience=audience, leeway=leeway, now=now)


def check_claims(claims: Mapping[str, Any], *, org: str, audience: str, leeway: int, now: float) -> LogoutAssertion:
    """Return the assertion once ``iss``, ``aud``, ``sub``, ``jti``, ``iat`` and ``exp`` check out; else raise LogoutUnauthorized."""
    problem = claims_problem(
        claims,
        what="The JWT",
        org=org,
        audience=audience,
        audience_setting="OKTA_UNIVERSAL_LOGOUT_ENDPOINT",
        leeway=leeway,
        now=now,
        max_lifetime=MAX_LIFETIME_SECONDS,
    )
    if problem is not None:
        raise LogoutUnauthorized(*problem)
    exp, jti, caller = claims["exp"], claims["jti"], claims["sub"]
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS:
        raise LogoutUnauthorized("bad_jti", f"The JWT's 'jti' must be a string of 1 to {MAX_JTI_CHARS} characters.")
    if not isinstance(caller, str):
        raise LogoutUnauthorized("bad_sub", "The JWT's 'sub' must be a string (the Okta app's client id).")
    return LogoutAssertion(jti=jti, caller=caller, expires_at=int(exp))


def parse_subject(body: Any, *, issuers: frozenset[str]) -> LogoutSubject:
    """Return the subject of ``{"sub_id": {...}}`` (RFC 9493 formats ``iss_sub`` and ``email``); raise LogoutMalformed.

    An ``iss_sub`` of an issuer other than the org or OKTA_ISSUER names nobody here: LogoutUnknownSubject.
    """
    sub_id = body.get("sub_id") if isinstance(body, dict) else None
    if not isinstance(sub_id, dict):
        raise LogoutMalformed("no_sub_id", 'The body must be JSON: {"sub_id": {"format": ..., ...}}.')
    fmt = sub_id.get("format")
    if fmt == "email":
        email = _text(sub_id, "email")
        if "@" not in email:
            raise LogoutMalformed("bad_email", "sub_id.email must be an email address.")
        return LogoutSubject("email", email)
    if fmt == "iss_sub":
        iss, sub = _text(sub_id, "iss"), _text(sub_id, "sub")
        if iss.rstrip("/") not in issuers:
            raise LogoutUnknownSubject(
                "foreign_issuer", f"sub_id.iss {loggable(iss, 200)} is not this Airflow's Okta org or issuer."
            )
        return LogoutSubject("iss_sub", sub, iss=iss.rstrip("/"))
    shown = loggable(fmt, 40) if isinstance(fmt, str) else type(fmt).__name__
    raise LogoutMalformed(
        "unsupported_format", f"sub_id.format {shown} is not supported; use one of {', '.join(SUBJECT_FORMATS)}."
    )


def _text(sub_id: Mapping[str, Any], key: str) -> str:
    value = sub_id.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SUBJECT_CHARS:
        raise LogoutMalformed(f"bad_{key}", f"sub_id.{key} must be a non-empty string of at most {MAX_SUBJECT_CHARS}.")
    return value.strip()


@dataclass(frozen=True)
class UniversalLogout:
    """Check a request, then sign the subject's accounts out everywhere; the one path of the endpoint."""

    keys: JwksCache  # the Okta org's signing keys (its org authorization server's JWKS)
    store: LogoutStore
    org: str  # the Okta org URL: the JWT's required ``iss``
    audience: str  # this endpoint's public URL: the JWT's required ``aud``
    issuer: str  # OKTA_ISSUER: an ``iss_sub`` may name it too
    leeway: int
    clock: Callable[[], float]

    def handle(self, authorization: str | None, body: Any) -> LogoutDone:
        """Return what was done; raise a LogoutRefused subclass with nothing changed."""
        now = self.clock()
        assertion = verify_assertion(
            authorization, keys=self.keys, org=self.org, audience=self.audience, leeway=self.leeway, now=now
        )
        try:
            return self._sign_out(assertion, body, now)
        except LogoutRefused as e:
            e.jti = assertion.jti
            raise

    def _sign_out(self, assertion: LogoutAssertion, body: Any, now: float) -> LogoutDone:
        subject = parse_subject(body, issuers=frozenset({self.org, self.issuer}))
        accounts = tuple(self.store.accounts_for(subject))
        if not accounts:
            raise LogoutUnknownSubject("no_account", "No Airflow account belongs to this subject.")
        at = datetime.fromtimestamp(now, timezone.utc)
        # Kept until the JWT could no longer be accepted anyway (its exp plus the leeway).
        forget_at = datetime.fromtimestamp(assertion.expires_at + self.leeway, timezone.utc)
        if not self.store.sign_out(accounts, not_before=at, jti=assertion.jti, jti_expires_at=forget_at):
            raise LogoutUnauthorized(
                "replayed_jti", "This JWT's 'jti' was already used; Okta sends a new one each time."
            )
        return LogoutDone(assertion, subject, accounts, at)


def began_before(not_before: datetime | float, started_at: float, *, whole_seconds: bool) -> bool:
    """Return whether a session or token that began at ``started_at`` began before the sign-out.

    A JWT's ``iat`` has whole seconds: one issued in the sign-out's own second may be older than
    it, so that second counts as before (a sign-in right after waits a second, never the reverse).
    """
    cut = not_before.timestamp() if isinstance(not_before, datetime) else not_before
    return started_at < (math.ceil(cut) if whole_seconds else cut)
