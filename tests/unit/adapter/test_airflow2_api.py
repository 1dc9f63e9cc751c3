"""The Airflow 2.11 API auth backend, in a small Flask app (no Airflow 2 here).

What is checked: the backend's contract with Airflow 2's ``check_authentication`` (a 200 response
means authenticated; anything else falls through to the next backend / a 401 with the last
backend's headers), the per-request user without a session cookie, the refusal bodies and
challenges, and one audit event per Okta token. The end-to-end check against a real Airflow 2.11
webserver belongs to the Airflow 2.11 environment.
"""

from __future__ import annotations

import types

import pytest
from flask import Flask, Response, g, jsonify
from flask_login import LoginManager, current_user
from werkzeug.exceptions import HTTPException

from okta_security.adapter import airflow2_api as airflow2_api_auth
from okta_security.audit import register_sink, unregister_sink
from okta_security.errors import ConfigError
from tests.unit.bot_fakes import FakeSecurityManager, okta_token, settings_and_store, warm_keys, with_doors


@pytest.fixture
def app(tmp_path, monkeypatch):
    warm_keys(monkeypatch)
    airflow2_api_auth._seen.clear()
    airflow2_api_auth._signed_in.clear()
    settings, store = settings_and_store(tmp_path)
    app = Flask(__name__)
    app.secret_key = "test"
    app.config.update(OKTA_SETTINGS=settings, OKTA_ROLE_MAPPING_STORE=store)
    app.appbuilder = types.SimpleNamespace(sm=with_doors(FakeSecurityManager(), settings, store))  # type: ignore[attr-defined]
    LoginManager(app).user_loader(lambda _id: None)
    airflow2_api_auth.init_app(app)

    @app.get("/api/v1/dags")
    @airflow2_api_auth.requires_authentication
    def dags() -> Response:
        return jsonify(current_user=current_user.username, g_user=g.user.username)

    return app


def get(app: Flask, token: str | None = None, **headers: str):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return app.test_client().get("/api/v1/dags", headers=headers)


def test_a_mapped_client_runs_as_its_service_user_without_a_session(app):
    response = get(app, okta_token())
    assert response.status_code == 200, response.text
    assert response.json == {"current_user": "svc-ci", "g_user": "svc-ci"}
    assert "Set-Cookie" not in response.headers  # access ends with the Okta token, not a session


def test_no_bearer_token_is_left_to_the_next_backend(app):
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        response = app.test_client().get("/api/v1/dags", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="Airflow"'


@pytest.mark.parametrize(
    ("token", "status", "challenge", "error", "words"),
    [
        (okta_token(exp=1, iat=0), 401, "invalid_token", "invalid_access_token", "expired"),
        (okta_token(aud="api://other"), 401, "invalid_token", "invalid_access_token", "api://airflow"),
        (okta_token(scopes=("nope",)), 401, "invalid_token", "invalid_access_token", "airflow.api"),
        (okta_token(client_id="stranger"), 403, "insufficient_scope", "unmapped_client", "not mapped"),
    ],
)
def test_refusals_say_what_is_wrong_in_body_and_challenge(app, token, status, challenge, error, words):
    response = get(app, token)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert (response.json["status"], response.json["error"]) == (status, error)
    assert words in response.json["detail"]
    challenge_header = response.headers["WWW-Authenticate"]
    assert f'error="{challenge}"' in challenge_header
    assert words in challenge_header


def test_airflow2_check_authentication_contract(app):
    # Airflow 2 calls ``auth.requires_authentication(Response)()`` per backend: 200 = authenticated,
    # any other answer = try the next backend. A refused bearer token stops the request instead:
    # falling through would make it anonymous (FAB's AUTH_ROLE_PUBLIC) and hide the reason.
    with app.test_request_context("/api/v1/dags", headers={"Authorization": f"Bearer {okta_token()}"}):
        assert airflow2_api_auth.requires_authentication(Response)().status_code == 200
        assert g.user.username == "svc-ci"
    with app.test_request_context("/api/v1/dags", headers={"Authorization": "Basic dXNlcjpwYXNz"}):
        assert airflow2_api_auth.requires_authentication(Response)().status_code == 401  # not ours: next backend
    with app.test_request_context("/api/v1/dags", headers={"Authorization": "Bearer not-a-token"}):
        with pytest.raises(HTTPException) as info:
            airflow2_api_auth.requires_authentication(Response)()
        assert info.value.response.status_code == 401


def test_one_audit_event_per_okta_token(app):
    records = []
    register_sink("test_airflow2", records.append)
    try:
        first, second = okta_token(jti="AT.one"), okta_token(jti="AT.two")
        for token in (first, first, first, second):
            assert get(app, token, **{"X-Request-Id": "req-7"}).status_code == 200
        get(app, okta_token(client_id="stranger"))
    finally:
        unregister_sink("test_airflow2")
    exchanged = [r for r in records if r.event == "bot.token_exchanged"]
    assert [r.fields["token_jti"] for r in exchanged] == ["AT.one", "AT.two"]
    assert exchanged[0].fields["via"] == "airflow2_api_auth"
    assert exchanged[0].fields["request_id"] == "req-7"
    assert exchanged[0].fields["client_ip"] == "127.0.0.1"
    assert [r.fields["reason"] for r in records if r.event == "bot.token_refused"] == ["unmapped_client"]


def test_remembered_tokens_are_bounded_and_forgotten_once_expired():
    caches = (airflow2_api_auth._seen, airflow2_api_auth._signed_in)
    assert [c.maxsize for c in caches] == [airflow2_api_auth.SEEN_TOKENS_MAX] * 2
    airflow2_api_auth._seen["AT.old"] = 1  # expired in 1970
    airflow2_api_auth._signed_in["AT.old"] = (7, 1)
    assert all("AT.old" not in c for c in caches)


def test_init_app_refuses_to_start_without_okta_config():
    with pytest.raises(ConfigError, match="webserver_config.py"):
        airflow2_api_auth.init_app(Flask(__name__))
