"""A database that stops answering mid-request gives the 503 refusal page, wherever Flask meets it."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import exc as sa_exc

from okta_security.adapter import outage


def _down() -> sa_exc.OperationalError:
    return sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused"))


class _DatabaseSessions(SecureCookieSessionInterface):
    """Sessions kept in a database (as Airflow's FAB app keeps them) that can go away."""

    def __init__(self) -> None:
        self.fail_open = self.fail_save = False

    def open_session(self, app, request):
        if self.fail_open:
            raise _down()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if self.fail_save:
            raise _down()
        return super().save_session(app, session, response)


class _Session:
    rolled_back = 0

    def rollback(self) -> None:
        self.rolled_back += 1


@pytest.fixture
def app():
    app = Flask(__name__)
    app.secret_key = "test"
    app.session_interface = _DatabaseSessions()
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/login/okta")
    def login():
        from flask import session

        session["state"] = "x"
        return "signing in"

    @app.route("/callback")
    def callback():
        raise RuntimeError("Error adding new user to database") from _down()  # FAB wraps the real error

    @app.route("/bug")
    def bug():
        raise ValueError("a bug, not an outage")

    app.db_session = _Session()
    outage.install(app, lambda: app.db_session)
    return app


@pytest.mark.parametrize(("where", "path"), [("open", "/login/okta"), ("save", "/login/okta"), ("view", "/callback")])
def test_an_outage_anywhere_in_the_request_is_the_503_page(app, where, path):
    app.session_interface.fail_open = where == "open"
    app.session_interface.fail_save = where == "save"
    answer = app.test_client().get(path)
    assert answer.status_code == 503
    body = answer.get_data(as_text=True)
    assert '<code id="okta-reason">database_unavailable</code>' in body
    assert "Traceback" not in body
    assert answer.headers["Retry-After"] == outage.RETRY_AFTER_SECONDS
    assert "Set-Cookie" not in answer.headers  # nothing of a session that could not be saved
    assert app.db_session.rolled_back == 1


def test_other_errors_keep_the_apps_own_handling(app):
    answer = app.test_client().get("/bug")
    assert answer.status_code == 500
    assert "database_unavailable" not in answer.get_data(as_text=True)
    assert app.db_session.rolled_back == 0


def test_once_the_database_answers_requests_work_again(app):
    client = app.test_client()
    app.session_interface.fail_save = True
    assert client.get("/login/okta").status_code == 503
    app.session_interface.fail_save = False
    assert client.get("/login/okta").status_code == 200


def test_installing_twice_wraps_once(app):
    handler = app.handle_exception
    outage.install(app, lambda: app.db_session)
    assert app.handle_exception is handler


@pytest.mark.parametrize(
    ("error", "found"),
    [
        (_down(), True),
        (sa_exc.PendingRollbackError("rolled back"), True),
        (sa_exc.IntegrityError("INSERT", {}, Exception("duplicate")), False),
        (ValueError("x"), False),
    ],
)
def test_what_counts_as_the_database_being_down(error, found):
    assert (outage.database_down_cause(error) is error) is found


def test_a_line_break_in_the_path_cannot_forge_a_log_line(app, caplog):
    app.session_interface.fail_open = True
    assert app.test_client().get("/login/okta%0aINFO%20forged:%20all%20is%20well").status_code in (404, 503)
    [line] = [r.getMessage() for r in caplog.records if r.name == outage.__name__ and r.levelname == "ERROR"]
    assert "\n" not in line
    assert "/login/okta\\x0aINFO forged" in line
