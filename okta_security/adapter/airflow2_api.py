"""Airflow 2.11 API auth backend (``[api] auth_backends``): Okta access tokens of bots and people, on every request.

A bearer token is checked with exactly the rules of Airflow 3's ``POST /auth/token``: a
client-credentials token runs as the client's service user, a person's token from an app in
``OKTA_CLI_CLIENT_ID`` as that person, signed in once per token. A failing token is answered here
(401/403 with a reason and a challenge), never handed back to Airflow, which would go on as the
anonymous ``Public`` user. No session cookie is written; one audit event per Okta token.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from cachetools import TLRUCache
from flask import Response, abort, current_app, g, request

from okta_security.adapter import step_up
from okta_security.adapter.security_manager import token_doors
from okta_security.adapter.universal_logout import SIGN_OUTS, SIGNED_OUT_MESSAGE
from okta_security.errors import BotRefused, ConfigError, LoginRefused, RateLimited, SignedOut, classify
from okta_security.login.bearer import bearer_token, refusal_challenge, refusal_fields, request_facts
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


# Okta tokens (by jti) until they expire, bounded: audited once (jti -> exp); a person's, signed in as
# (jti -> (user id, exp)).
_seen: TLRUCache[str, int] = TLRUCache(SEEN_TOKENS_MAX, ttu=lambda _key, exp, _now: exp, timer=time.time)
_signed_in: TLRUCache[str, tuple[int, int]] = TLRUCache(
    SEEN_TOKENS_MAX, ttu=lambda _key, value, _now: value[1], timer=time.time
)
_lock = threading.Lock()  # cachetools' maps are not thread-safe


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
    jti = login.token.jti
    with _lock:
        first = not jti or jti not in _seen
        if first and jti:
            _seen[jti] = login.token.expires_at
    if first:
        audit_exchange(login, via=VIA, **facts)
    # This request only: flask-login's per-request user (no session cookie) and g.user, which
    # Airflow's FabAuthManager.get_user() reads (as for Kerberos).
    g._login_user = login.user
    g.user = login.user
    return login


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
    # The first request with a token signs in (groups, mapping, account, audit); the next ones with it
    # only verify it again and re-read the account, which must still be active.
    with _lock:
        known = _signed_in.get(person.jti or "")
    user = sm.get_user_by_id(known[0]) if known is not None else None
    if user is None or not user.is_active:  # deactivated or deleted since: sign in again (refused or reactivated)
        try:
            user = door.sign_in(person, facts).user
        except LoginRefused as e:
            return refusal_response(e)
        if person.jti:
            with _lock:
                _signed_in[person.jti] = (user.id, person.expires_at)
    if SIGN_OUTS.began_before(user, person.issued_at, whole_seconds=True):
        if person.jti:
            with _lock:
                _signed_in.pop(person.jti, None)
        return refusal_response(SignedOut(SIGNED_OUT_MESSAGE))
    step_up.limit_to_token(user, sm.okta_mapping.current().step_up, person.mfa)
    g._login_user = user  # this request only, as for bots
    g.user = user
    return user


def refusal_response(error: LoginRefused | BotRefused) -> Response:
    """Return a refusal as problem+json like Airflow 2's: an RFC 6750 challenge for a bad token, Retry-After if limited."""
    code = classify(error).api_status
    body = {"title": _TITLES.get(code, "Error"), "status": code, "detail": error.message, "error": error.code}
    headers = {}
    if isinstance(error, BotRefused):
        body.update(refusal_fields(error))
        headers.update(refusal_challenge(error))
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    return Response(json.dumps(body), status=code, mimetype="application/problem+json", headers=headers)


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
