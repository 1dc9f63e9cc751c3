"""Airflow 2.11 API auth backend: Okta access tokens of bots and people, validated on every request.

Airflow 2's REST API (``/api/v1``) has no token exchange; each request carries its credentials and
every module of ``[api] auth_backends`` is tried in turn::

    [api]
    auth_backends = airflow.providers.fab.auth_manager.api.auth.backend.session,okta_security.airflow2_api_auth

A request with ``Authorization: Bearer <Okta access token>`` is checked with exactly the rules of
Airflow 3's ``POST /auth/token``: a client-credentials token (:func:`okta_security.adapter.bots.admit_bot`)
runs as the client's service user; a person's token from an app in ``OKTA_CLI_CLIENT_ID``
(:class:`okta_security.login.doors.PersonDoor`) runs as that person, signed in as in the browser — once per
Okta token; later requests with it re-check the token and that the account is still active. A
request without a bearer token is left to the other backends.

A bearer token that fails is answered here and now — 401 (token) or 403 (client), a JSON body and
a ``WWW-Authenticate`` challenge saying what was wrong — rather than handed back to Airflow: on
2.11 Airflow would then carry on as an anonymous user with FAB's ``AUTH_ROLE_PUBLIC`` role (which
FAB sets to ``Public`` by default) and answer a bare 403, hiding the reason.

The request is authenticated for itself only: no session cookie is written, so a bot's access
ends when its Okta token expires. One ``bot.token_exchanged`` audit event is written per Okta
token (its ``jti``), not per request.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response, abort, current_app, g, request

from okta_security.adapter import step_up
from okta_security.adapter.bots import bearer_token, refusal_challenge, refusal_fields, request_facts
from okta_security.adapter.security_manager import token_doors
from okta_security.adapter.universal_logout import SIGN_OUTS, SIGNED_OUT_MESSAGE
from okta_security.errors import BotRefused, ConfigError, LoginRefused, RateLimited, SignedOut, classify
from okta_security.login.doors import ApiLoginAuditFields, BotLogin, audit_exchange
from okta_security.people.person_tokens import looks_like_person_token

log = logging.getLogger(__name__)

T = TypeVar("T", bound=Callable[..., Any])
VIA = "airflow2_api_auth"
CLIENT_AUTH = None  # read by Airflow's (deprecated) API client from the first backend; no client-side auth here
SEEN_TOKENS_MAX = 10_000  # jtis remembered for the once-per-token audit event
_TITLES = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests", 503: "Service Unavailable"}


def init_app(app: Any) -> None:
    """Check at webserver start that okta_security's webserver_config.py is in force."""
    if app.config.get("OKTA_SETTINGS") is None or app.config.get("OKTA_ROLE_MAPPING_STORE") is None:
        raise ConfigError(
            [
                "[api] auth_backends lists okta_security.airflow2_api_auth, but okta_security's webserver_config.py "
                "is not loaded — copy it to [webserver] config_file"
            ],
            source="okta_security.airflow2_api_auth",
        )


class _SeenTokens:
    """Remember the jtis already audited, until their tokens expire (bounded)."""

    def __init__(self, limit: int = SEEN_TOKENS_MAX) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._expiry: dict[str, int] = {}

    def first_time(self, jti: str | None, expires_at: int) -> bool:
        """Return True the first time ``jti`` is seen (always for tokens without one)."""
        if not jti:
            return True
        now = int(time.time())
        with self._lock:
            if jti in self._expiry:
                return False
            if len(self._expiry) >= self._limit:
                for old in [k for k, exp in self._expiry.items() if exp < now] or list(self._expiry)[
                    : self._limit // 10
                ]:
                    del self._expiry[old]
            self._expiry[jti] = expires_at
            return True


_seen = _SeenTokens()


def authenticate_request(token: str) -> BotLogin[Any] | Any | Response:
    """Authenticate the current request as a bot or a person, or return the refusal to answer with."""
    if looks_like_person_token(token):  # chooses the checks only; each path verifies the token in full
        return authenticate_person(token)
    facts = {"client_ip": request.remote_addr, **request_facts(request.headers)}
    sm = token_doors(current_app.appbuilder.sm)  # type: ignore[attr-defined]
    try:
        login = sm.okta_bots.admit(token, via=VIA, facts=facts)
    except BotRefused as e:
        return refusal_response(e)
    if _seen.first_time(login.token.jti, login.token.expires_at):
        audit_exchange(login, via=VIA, **facts)
    # This request only: flask-login's per-request user (no session cookie) and g.user, which
    # Airflow's FabAuthManager.get_user() reads (as for Kerberos).
    g._login_user = login.user
    g.user = login.user
    return login


class _SignedIn:
    """A person's Okta tokens already signed in (jti -> Airflow user id), until they expire (bounded).

    The first request with a token runs the whole sign-in (groups, mapping, account, audit); the
    next ones only verify the token again and re-read the account, which must still be active.
    """

    def __init__(self, limit: int = SEEN_TOKENS_MAX) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._users: dict[str, tuple[int, int]] = {}

    def user_id(self, jti: str | None) -> int | None:
        """Return the user the token signed in as, if it did (and has not expired)."""
        if not jti:
            return None
        with self._lock:
            found = self._users.get(jti)
        return found[0] if found is not None and found[1] >= int(time.time()) else None

    def remember(self, jti: str | None, user_id: int, expires_at: int) -> None:
        """Remember the token's sign-in until ``expires_at``."""
        if not jti:
            return
        now = int(time.time())
        with self._lock:
            if len(self._users) >= self._limit:
                stale = [k for k, (_, exp) in self._users.items() if exp < now]
                for key in stale or list(self._users)[: self._limit // 10]:
                    del self._users[key]
            self._users[jti] = (user_id, expires_at)

    def forget(self, jti: str | None) -> None:
        """Forget a token's sign-in (its account is no longer usable)."""
        with self._lock:
            self._users.pop(jti or "", None)


_signed_in = _SignedIn()


def authenticate_person(token: str) -> Any | Response:
    """Authenticate the current request as the person whose Okta access token it carries, or refuse."""
    sm = token_doors(current_app.appbuilder.sm)  # type: ignore[attr-defined]
    context = request_facts(request.headers)
    facts = ApiLoginAuditFields(via=VIA, context=tuple(sorted(context.items())))
    door = sm.okta_people
    try:
        person = door.verify(token)
    except BotRefused as e:
        door.token_refused(e, facts)
        return refusal_response(e)
    known = _signed_in.user_id(person.jti)
    user = sm.get_user_by_id(known) if known is not None else None
    if user is None or not user.is_active:
        if known is not None:  # deactivated (or deleted) since: sign in again, which refuses or reactivates
            _signed_in.forget(person.jti)
        try:
            user = door.sign_in(person, facts).user
        except LoginRefused as e:
            return person_refusal_response(e)
        _signed_in.remember(person.jti, user.id, person.expires_at)
    if SIGN_OUTS.began_before(user, person.issued_at, whole_seconds=True):
        _signed_in.forget(person.jti)
        return person_refusal_response(SignedOut(SIGNED_OUT_MESSAGE))
    step_up.limit_to_token(user, sm.okta_mapping.current().step_up, person.mfa)
    g._login_user = user  # this request only, as for bots
    g.user = user
    return user


def person_refusal_response(error: LoginRefused) -> Response:
    """Return a person's refusal (no mapped role, inactive account, ...): 403, 429 with Retry-After, or 503."""
    code = classify(error).api_status
    body = {"title": _TITLES[code], "status": code, "detail": error.message, "error": error.code}
    response = Response(json.dumps(body), status=code, mimetype="application/problem+json")
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def refusal_response(error: BotRefused) -> Response:
    """Return the refusal: a problem+json body like Airflow 2's, and an RFC 6750 challenge."""
    body = {
        "title": _TITLES.get(error.http_status, "Error"),
        "status": error.http_status,
        "detail": error.message,
        **refusal_fields(error),
    }
    return Response(
        json.dumps(body),
        status=error.http_status,
        mimetype="application/problem+json",
        headers=refusal_challenge(error),
    )


def requires_authentication(function: T) -> T:
    """Run ``function`` only for requests carrying a valid, mapped Okta bearer token."""

    @functools.wraps(function)
    def decorated(*args: Any, **kwargs: Any) -> Any:
        token = bearer_token(request.headers)
        if token is None:  # not ours: the next backend may accept the request
            return Response("Unauthorized", 401, {"WWW-Authenticate": 'Bearer realm="Airflow"'})
        outcome = authenticate_request(token)
        if isinstance(outcome, Response):
            abort(outcome)  # a refused bearer token must not fall through to the anonymous (Public) user
        return function(*args, **kwargs)

    return cast("T", decorated)
