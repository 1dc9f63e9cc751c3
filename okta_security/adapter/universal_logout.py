"""Okta Universal Logout in Airflow: the endpoint, its store, and the checks that enforce it.

``POST <base url>/auth/okta/global-token-revocation`` (2.11: ``/okta/...``) runs
:class:`okta_security.lifecycle.universal_logout.UniversalLogout`, audits every answer (the ``jti``,
never the token) and writes a per-account row in ``okta_security_sign_out``. :data:`SIGN_OUTS` reads
it, at most once per account per :data:`CHECK_SECONDS`, for the Flask session
(:func:`install_session_check`), Airflow 3's JWT (``OktaFabAuthManager``) and 2.11's bearer path.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache
from flask import Response, jsonify, request, session
from flask_appbuilder import BaseView, expose
from sqlalchemy.exc import SQLAlchemyError

from okta_security.adapter import db
from okta_security.adapter.account_changes import metadata_engine
from okta_security.adapter.login_audit import request_context
from okta_security.adapter.request_body import BodyTooLarge, read_wsgi
from okta_security.audit import audit_event
from okta_security.errors import LogoutRefused, LogoutUnavailable
from okta_security.lifecycle.universal_logout import (
    MAX_BODY_BYTES,
    LogoutSubject,
    SignedOutAccount,
    UniversalLogout,
    began_before,
)
from okta_security.oidc.keys import keys_for
from okta_security.untrusted import CLIENT_ADDRESS_CHARS, loggable

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from sqlalchemy.engine import Engine

    from okta_security.settings.loader import OktaSettings

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0  # how stale a process's view of one account's sign-out may be (Okta asks for "as fast as possible")
MAX_CACHED_ACCOUNTS = 100_000  # accounts whose sign-out time a process remembers at once
SIGNED_IN_AT_KEY = "okta_signed_in_at"  # wall-clock time of the session's sign-in, stamped on every login
# Airflow 3 JWTs minted by okta_security carry their issue time to the microsecond: ``iat`` has whole
# seconds, so a token minted in the sign-out's own second could not be told from an older one.
ISSUED_AT_CLAIM = "okta_issued_at"
SIGNED_OUT_MESSAGE = (
    "Okta signed you out everywhere after this token was issued (Universal Logout); "
    "sign in again (okta-airflow login) for a new one."
)


class EngineLogoutStore:
    """The LogoutStore port on Airflow's metadata database."""

    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine

    def accounts_for(self, subject: LogoutSubject) -> list[SignedOutAccount]:
        key = "okta_sub" if subject.format == "iss_sub" else "email"
        with self._engine().connect() as conn:
            return [SignedOutAccount(uid, name) for uid, name in db.linked_accounts(conn, **{key: subject.value})]

    def sign_out(
        self, accounts: Sequence[SignedOutAccount], *, not_before: datetime, jti: str, jti_expires_at: datetime
    ) -> bool:
        ok = db.sign_out(
            self._engine(),
            [(a.user_id, a.username) for a in accounts],
            not_before=not_before,
            jti=jti,
            jti_expires_at=jti_expires_at,
        )
        if ok:
            for account in accounts:
                SIGN_OUTS.forget(account.user_id)  # this process sees it at once; the others within CHECK_SECONDS
        return ok


class SignOuts:
    """This process's view of ``okta_security_sign_out``: each account's row read at most once per CHECK_SECONDS."""

    def __init__(self, engine: Callable[[], Engine], *, ttl: float = CHECK_SECONDS) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._cache: TTLCache[tuple[int, str], float | None] = TTLCache(MAX_CACHED_ACCOUNTS, ttl)

    def not_before(self, user_id: int, username: str) -> float | None:
        """Return the epoch time before which Okta signed the account out (None: never)."""
        key = (user_id, username)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        try:
            with self._engine().connect() as conn:
                found = db.not_before(conn, user_id, username)
        except SQLAlchemyError as e:
            # An outage must not sign everyone out (Airflow 3 drops a refused token's cookie): the
            # check resumes, and catches up, as soon as the database answers.
            log.warning("Could not read Okta sign-outs (%s); accepting this request's session or token", e)
            return None
        value = found.timestamp() if found is not None else None
        with self._lock:
            self._cache[key] = value
        return value

    def forget(self, user_id: int) -> None:
        """Drop what this process remembers of ``user_id``."""
        with self._lock:
            for key in [k for k in self._cache if k[0] == user_id]:
                self._cache.pop(key, None)

    def began_before(self, user: Any, started_at: float | None, *, whole_seconds: bool) -> bool:
        """Return whether ``user``'s session or token that began at ``started_at`` (None: unknown) is signed out."""
        cut = self.not_before(int(user.id), str(user.username))
        if cut is None:
            return False
        return started_at is None or began_before(cut, started_at, whole_seconds=whole_seconds)


SIGN_OUTS = SignOuts(metadata_engine)


def install_session_check(app: Any) -> None:
    """Stamp each sign-in's time in its Flask session, and end a session that began before an Okta sign-out.

    Runs first among the app's before_request functions, so FAB and Airflow already see the
    signed-out user; a session with no stamp (from before this check existed) counts as older.
    """
    from flask_login import current_user, logout_user, user_logged_in

    @user_logged_in.connect_via(app, weak=False)  # weak=False: a local function would be collected
    def stamp_sign_in(sender: Any, user: Any, **kwargs: Any) -> None:
        session[SIGNED_IN_AT_KEY] = time.time()

    def end_signed_out_session() -> None:
        if not current_user.is_authenticated:
            return
        started = session.get(SIGNED_IN_AT_KEY)
        if SIGN_OUTS.began_before(current_user, started, whole_seconds=False):
            log.info("Session of %s ended: Okta signed the person out everywhere", loggable(current_user.username))
            logout_user()
            session.pop(SIGNED_IN_AT_KEY, None)

    app.before_request_funcs.setdefault(None, []).insert(0, end_signed_out_session)


def build_service(settings: OktaSettings) -> UniversalLogout | None:
    """Return the Universal Logout service these settings configure (None: the endpoint is off)."""
    if not settings.universal_logout_endpoint:
        return None
    org = settings.groups_api_org_url  # the org authorization server's issuer: Okta signs with its keys
    return UniversalLogout(
        keys=keys_for(
            org, timeout=settings.http_timeout_seconds, min_refetch_interval=settings.jwks_refetch_interval_seconds
        ),
        store=EngineLogoutStore(metadata_engine),
        org=org,
        audience=settings.universal_logout_endpoint,
        issuer=settings.issuer,
        leeway=settings.clock_skew_seconds,
        clock=time.time,
    )


class UniversalLogoutView(BaseView):
    """The global token revocation endpoint; one instance per app."""

    route_base = "/okta"
    default_view = "global_token_revocation"
    service: UniversalLogout | None = None

    @expose("/global-token-revocation", methods=["POST"])
    def global_token_revocation(self) -> Any:
        """Sign a person out everywhere when Okta's signed request says so (draft-parecki-…-global-token-revocation)."""
        if self.service is None:
            return jsonify(
                {"error": "Universal Logout is not enabled (OKTA_UNIVERSAL_LOGOUT_ENDPOINT is not set)"}
            ), 404
        try:
            data = read_wsgi(MAX_BODY_BYTES)
        except BodyTooLarge as e:
            return jsonify({"error": "request_too_large", "message": str(e)}), 413
        try:
            body = json.loads(data) if data else None
        except (ValueError, RecursionError):
            body = None  # the service answers it: not a sub_id
        try:
            done = self.service.handle(request.headers.get("Authorization"), body)
        except LogoutRefused as e:
            return _refused(e)
        except Exception as e:  # noqa: BLE001 - the database failed mid-request: nothing was committed
            log.exception("Universal Logout request failed")
            return _refused(
                LogoutUnavailable("database_unavailable", f"Airflow's database failed: {type(e).__name__}.")
            )
        for account in done.accounts:
            log.warning(
                "Okta signed %s out everywhere (Universal Logout, jti %s)",
                loggable(account.username),
                loggable(done.assertion.jti),
            )
            audit_event(
                "user.universal_logout",
                owner=account.username,
                jti=done.assertion.jti,
                okta_app=done.assertion.caller,
                subject_format=done.subject.format,
                not_before=done.not_before.isoformat(),
                **request_context(),
            )
        return Response(status=204)


def _refused(error: LogoutRefused) -> Any:
    log.warning(
        "Universal Logout request from %s refused (%s: %s)",
        loggable(request.remote_addr, CLIENT_ADDRESS_CHARS),
        error.code,
        error.reason,
    )
    audit_event(
        "universal_logout.refused",
        owner=None,
        error=error.code,
        reason=error.reason,
        jti=error.jti,
        **request_context(),
    )
    return jsonify({"error": error.code, "reason": error.reason, "message": error.message}), error.status
