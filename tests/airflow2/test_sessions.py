"""Airflow 2.11 enforces OKTA_SESSION_MAX_LIFETIME_MINUTES too (its FAB provider 1.5 has no such cap).

A session's login time is kept in the session; a request past the cap is signed out. Waiting 12
hours is not a test: the session row (the ``database`` backend, 2.11's default) is aged in place,
exactly what the passage of time would leave there.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask.json.tag import TaggedJSONSerializer

from tests.airflow2.test_login import ALICE, api_status, okta_login

if TYPE_CHECKING:
    import requests

    from tests.airflow2.conftest import Stack2

LOGIN_TIME_KEY = "_login_at"  # the FAB provider's own key on Airflow 3, so both read one stamp
DEFAULT_MAX_LIFETIME_SECONDS = 720 * 60  # OKTA_SESSION_MAX_LIFETIME_MINUTES' default
SERIALIZER = TaggedJSONSerializer()


def signed_in_sessions(db_url: str) -> dict[int, dict]:
    """Return the stored sessions that belong to a signed-in user, by row id."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, data FROM session")).all()
    finally:
        engine.dispose()
    found = {}
    for row_id, data in rows:
        value = SERIALIZER.loads(bytes(data).decode())
        if value.get("_user_id"):
            found[row_id] = value
    return found


def store(db_url: str, row_id: int, value: dict) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE session SET data = :d WHERE id = :i"),
                {"d": SERIALIZER.dumps(value).encode(), "i": row_id},
            )
    finally:
        engine.dispose()


def login(af2: Stack2) -> tuple[requests.Session, int, dict]:
    """Sign in as alice; return the browser session and its stored row."""
    before = set(signed_in_sessions(af2.db_url))
    session, final = okta_login(af2.url, *ALICE)
    assert final.status_code == 200, final.text[:300]
    assert api_status(session, af2.url) == 200
    [(row_id, value)] = [(k, v) for k, v in signed_in_sessions(af2.db_url).items() if k not in before]
    return session, row_id, value


def test_a_login_stamps_its_time_in_the_session(af2: Stack2):
    _, _, value = login(af2)
    assert abs(value.get(LOGIN_TIME_KEY, 0) - time.time()) < 120


def test_a_session_past_the_cap_is_signed_out(af2: Stack2):
    session, row_id, value = login(af2)
    value[LOGIN_TIME_KEY] = time.time() - DEFAULT_MAX_LIFETIME_SECONDS - 60  # signed in 12 h 1 min ago
    store(af2.db_url, row_id, value)

    home = session.get(f"{af2.url}/home", timeout=30, allow_redirects=False)
    assert home.status_code == 302
    assert "/login" in home.headers["Location"]
    assert api_status(session, af2.url) in (401, 403)


def test_a_session_within_the_cap_stays(af2: Stack2):
    session, row_id, value = login(af2)
    value[LOGIN_TIME_KEY] = time.time() - DEFAULT_MAX_LIFETIME_SECONDS + 600  # ten minutes left
    store(af2.db_url, row_id, value)
    assert session.get(f"{af2.url}/home", timeout=30, allow_redirects=False).status_code == 200
    assert api_status(session, af2.url) == 200
