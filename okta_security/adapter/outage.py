"""Airflow's database down mid-request: the 503 refusal page (``database_unavailable``), not Flask's 500.

FAB keeps Flask sessions in the metadata database, so a restart or failover fails every sign-in
request wherever it touches the database. The app's ``handle_exception`` answers those with the
page and rolls the broken transaction back, so the worker serves normally once the database is back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import request
from flask.globals import _cv_request
from sqlalchemy import exc as sa_exc

from okta_security.adapter.pages import render_refusal
from okta_security.errors import DatabaseUnavailable
from okta_security.login.refusal import refusal_facts
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Callable

    from flask import Flask
    from flask.wrappers import Response

log = logging.getLogger(__name__)

# Connection refused or cut, a dead pooled connection, or a session that still holds the
# transaction such a failure broke. Any other database error is a bug and stays an HTTP 500.
DATABASE_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.PendingRollbackError)
MESSAGE = "Airflow's database is not answering, so you were not signed in. Try again in a minute."
RETRY_AFTER_SECONDS = "30"
MAX_CAUSE_DEPTH = 5


def install(app: Flask, session_of: Callable[[], Any]) -> None:
    """Answer requests that fail because the database is down with the 503 page; ``session_of`` is rolled back."""
    if getattr(app.handle_exception, "okta_outage_page", False):
        return
    airflow_handler = app.handle_exception

    def handle_exception(error: Exception) -> Response:
        cause = database_down_cause(error)
        if cause is None:
            return airflow_handler(error)
        return _outage_response(app, session_of, cause)

    handle_exception.okta_outage_page = True  # type: ignore[attr-defined]
    app.handle_exception = handle_exception  # type: ignore[method-assign,assignment]


def database_down_cause(error: BaseException) -> BaseException | None:
    """Return the database-down error behind ``error`` (FAB wraps some: the chain of causes is followed), if any."""
    seen: BaseException | None = error
    for _ in range(MAX_CAUSE_DEPTH):
        if seen is None:
            return None
        if isinstance(seen, DATABASE_DOWN):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _outage_response(app: Flask, session_of: Callable[[], Any], error: BaseException) -> Response:
    try:
        session_of().rollback()
    except Exception:  # noqa: BLE001 - the database is down; the next request starts a new transaction
        log.debug("rollback after a database error failed too", exc_info=True)
    # The error's text can name the database host and user; its type says enough here.
    log.error(
        "Request %s %s refused [database_unavailable]: Airflow's database did not answer (%s)",
        loggable(request.method),
        loggable(request.path),
        type(error).__name__,
    )
    ctx = _cv_request.get(None)
    if ctx is not None:  # nothing of this request's session can be saved: don't try (and fail) again
        null = app.session_interface.make_null_session(app)
        if isinstance(getattr(type(ctx), "session", None), property):
            ctx._session = null  # Flask >= 3.1 keeps it behind a read-only property
        else:
            ctx.session = null  # type: ignore[misc]  # Flask 2 (Airflow 2.11): a plain attribute
    html, status = render_refusal(
        refusal_facts(DatabaseUnavailable(MESSAGE), retry_url=f"{request.script_root}/login/okta")
    )
    response = app.make_response((html, status))
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return app.finalize_request(response, from_error_handler=True)
