"""Session hygiene around an Okta login: fresh session per login, a hard lifetime, logout at Okta.

The hard lifetime (``OKTA_SESSION_MAX_LIFETIME_MINUTES``) becomes ``[fab] session_max_lifetime_minutes``,
which FAB provider >= 3.9 enforces on Airflow 3; on Airflow 2.11 (FAB provider 1.5) this module
enforces it itself (:func:`enforce_session_max_lifetime`).
"""

from __future__ import annotations

import importlib
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

SESSION_LOGIN_TIME_KEY = "_login_at"  # the FAB provider's key (>= 3.9): one stamp, whoever enforces the cap
ID_TOKEN_KEY = "okta_id_token"  # kept in the session only for Okta's logout (id_token_hint)
MAX_STORED_ID_TOKEN_CHARS = 2500  # browsers drop cookies over 4 KiB; a huge token is not worth a broken login


def apply_session_max_lifetime(minutes: int) -> None:
    """Make ``[fab] session_max_lifetime_minutes`` (FAB provider >= 3.9 enforces it) default to ours, unless set."""
    if minutes <= 0:
        return
    # The FAB provider reads the Task SDK's conf object on Airflow 3, core's on Airflow 2: set both.
    for module in ("airflow.sdk.configuration", "airflow.configuration"):
        try:
            conf = importlib.import_module(module).conf
        except (ImportError, AttributeError):
            continue
        current = conf.getint("fab", "session_max_lifetime_minutes", fallback=0)
        if current > 0:
            log.info("Keeping [fab] session_max_lifetime_minutes = %s set by the admin", current)
            continue
        conf.set("fab", "session_max_lifetime_minutes", str(minutes))


def fab_caps_session_lifetime() -> bool:
    """Return whether the FAB provider enforces ``[fab] session_max_lifetime_minutes`` itself (>= 3.9)."""
    try:
        module = importlib.import_module("airflow.providers.fab.www.extensions.init_session")
    except ImportError:
        return False
    return hasattr(module, "init_session_max_lifetime")


def _max_lifetime_seconds() -> int:
    from airflow.configuration import conf  # Airflow 2.11: apply_session_max_lifetime set it there

    return max(conf.getint("fab", "session_max_lifetime_minutes", fallback=0), 0) * 60


def enforce_session_max_lifetime(app: Any, *, clock: Callable[[], float] = time.time) -> bool:
    """Cap sessions at ``[fab] session_max_lifetime_minutes`` as FAB provider >= 3.9 does, where it does not (2.11)."""
    if fab_caps_session_lifetime():
        return False
    seconds = _max_lifetime_seconds()
    if not seconds:
        return False
    from flask import session
    from flask_login import current_user, logout_user, user_logged_in

    @user_logged_in.connect_via(app, weak=False)  # weak=False: a local function would be collected
    def stamp_login_time(sender: Any, user: Any, **kwargs: Any) -> None:
        session[SESSION_LOGIN_TIME_KEY] = clock()  # wall clock: read back by other worker processes

    def expire_session_past_max_lifetime() -> None:
        login_at = session.get(SESSION_LOGIN_TIME_KEY)
        if login_at is None:
            # Sessions from before the upgrade carry no stamp: cap them from now on, never exempt them.
            if current_user.is_authenticated:
                session[SESSION_LOGIN_TIME_KEY] = clock()
            return
        if clock() - float(login_at) > seconds:
            log.info(
                "Session of user %s reached its maximum lifetime (%d min); signed out",
                session.get("_user_id"),
                seconds // 60,
            )
            logout_user()  # also drops the user from this request: it is already unauthenticated
            session.pop(SESSION_LOGIN_TIME_KEY, None)

    # First of all before_request functions: FAB's and Airflow's must already see the signed-out user.
    app.before_request_funcs.setdefault(None, []).insert(0, expire_session_past_max_lifetime)
    log.info("Sessions end %d minutes after login ([fab] session_max_lifetime_minutes)", seconds // 60)
    return True


def start_fresh_session(session: Any) -> None:
    """Drop everything a pre-login session held and give server-side sessions a new id."""
    session.clear()
    if hasattr(session, "sid"):
        # flask-session backends (e.g. [fab] session_backend = database) key rows by sid.
        session.sid = str(uuid.uuid4())
    session.modified = True


def remember_id_token(session: Any, id_token: str | None) -> None:
    """Keep the ID token for logout's ``id_token_hint`` when it fits in a cookie."""
    if not id_token:
        return
    if len(id_token) > MAX_STORED_ID_TOKEN_CHARS:
        log.warning(
            "The ID token (%d chars) is too large to keep in the session cookie; logout will reach Okta "
            "without id_token_hint (Okta then asks the user to confirm). Narrow the groups claim filter.",
            len(id_token),
        )
        return
    session[ID_TOKEN_KEY] = id_token
