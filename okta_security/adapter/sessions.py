"""Session hygiene around an Okta login: fresh session per login, a hard lifetime, logout at Okta."""

from __future__ import annotations

import importlib
import logging
import uuid
from typing import Any

log = logging.getLogger(__name__)

ID_TOKEN_KEY = "okta_id_token"  # kept in the session only for Okta's logout (id_token_hint)
MAX_STORED_ID_TOKEN_CHARS = 2500  # browsers drop cookies over 4 KiB; a huge token is not worth a broken login


def apply_session_max_lifetime(minutes: int) -> None:
    """Make ``[fab] session_max_lifetime_minutes`` default to ours, unless the admin set it.

    FAB provider >= 3.9 expires the session and caps the UI's API token at that deadline, after
    which the user goes back through Okta and their roles are re-synced.
    """
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
