"""Tests for okta_security.adapter.sessions: the hard session lifetime where FAB does not enforce it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask
from flask_login import LoginManager, UserMixin, current_user, login_user

from okta_security.adapter import sessions
from okta_security.adapter.sessions import SESSION_LOGIN_TIME_KEY, enforce_session_max_lifetime
from tests.unit.fake_clock import FakeClock

if TYPE_CHECKING:
    import pytest

CAP_SECONDS = 720 * 60


class User(UserMixin):
    id = "7"


def app_with_cap(monkeypatch: pytest.MonkeyPatch, clock: FakeClock, *, fab_caps: bool = False) -> Flask:
    """A Flask app with flask-login as Airflow 2.11's webserver has it, and the cap installed."""
    monkeypatch.setattr(sessions, "fab_caps_session_lifetime", lambda: fab_caps)
    monkeypatch.setattr(sessions, "_max_lifetime_seconds", lambda: CAP_SECONDS)
    app = Flask(__name__)
    app.secret_key = "test"
    manager = LoginManager(app)
    manager.user_loader(lambda user_id: User() if user_id == "7" else None)

    @app.route("/login")
    def login() -> str:
        login_user(User())
        return "in"

    @app.route("/whoami")
    def whoami() -> str:
        return "user" if current_user.is_authenticated else "anonymous"

    app.config["installed"] = enforce_session_max_lifetime(app, clock=clock)
    return app


def test_login_is_stamped_and_the_session_ends_at_the_cap(monkeypatch: pytest.MonkeyPatch):
    clock = FakeClock()
    app = app_with_cap(monkeypatch, clock)
    assert app.config["installed"]
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as stored:
        assert stored[SESSION_LOGIN_TIME_KEY] == clock.t
    clock.advance(CAP_SECONDS - 1)
    assert client.get("/whoami").text == "user"
    clock.advance(2)
    assert client.get("/whoami").text == "anonymous"  # the request that crossed the cap is already out
    assert client.get("/whoami").text == "anonymous"


def test_a_session_from_before_the_cap_is_capped_from_now_on(monkeypatch: pytest.MonkeyPatch):
    clock = FakeClock()
    app = app_with_cap(monkeypatch, clock)
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as stored:
        del stored[SESSION_LOGIN_TIME_KEY]  # a session made before okta_security enforced the cap
    assert client.get("/whoami").text == "user"
    clock.advance(CAP_SECONDS + 1)
    assert client.get("/whoami").text == "anonymous"


def test_nothing_is_installed_where_the_fab_provider_caps_sessions(monkeypatch: pytest.MonkeyPatch):
    app = app_with_cap(monkeypatch, FakeClock(), fab_caps=True)
    assert not app.config["installed"]
    assert not app.before_request_funcs.get(None)


def test_the_fab_provider_of_airflow_3_caps_sessions_itself():
    """This venv holds Airflow 3 with FAB provider >= 3.9: it enforces the cap, we must not twice."""
    assert sessions.fab_caps_session_lifetime()
