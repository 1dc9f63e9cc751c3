"""``doctor --live``: the API server's health judged — Okta unreachable or a rejected mapping fail, with the fix."""

from __future__ import annotations

import requests
import responses

from okta_security.doctor.live import check_live
from okta_security.doctor.report import DoctorContext, Status

URL = "http://airflow.example.com/base"


def health(**overrides) -> dict:
    body = {
        "status": "ok",
        "mapping": {
            "file": "/etc/airflow/okta_role_mapping.yaml",
            "version": "0123456789ab",
            "rules": 3,
            "rejected_now": False,
            "last_reload": {"at": "2026-01-01T10:00:00Z", "version": "0123456789ab"},
            "last_rejection": None,
        },
        "jwks": {"age_seconds": 42.0},
        "okta": {
            "url": "https://dev-1.okta.com/oauth2/default/.well-known/openid-configuration",
            "reachable": True,
            "status": 200,
            "ms": 12.5,
            "last_answers": {"token": {"status": 200, "ms": 30.0, "at": "2026-01-01T10:01:00Z"}},
        },
        "process": {"pid": 1234, "started_at": "2026-01-01T09:00:00Z"},
    }
    for key, value in overrides.items():
        body[key] = {**body[key], **value}
    return body


def run(body: dict | None = None, status: int = 200, token: str = "tok"):
    with responses.RequestsMock() as mock:
        mock.get(f"{URL}/auth/okta/health", json=body if body is not None else {}, status=status)
        with requests.Session() as http:
            result = check_live(DoctorContext(environ={}, airflow=None, http=http, live_url=URL, live_token=token))
        sent = mock.calls[0].request.headers.get("Authorization")
    return result, sent


def test_a_healthy_server_passes_and_shows_what_it_knows():
    result, sent = run(health())
    assert sent == "Bearer tok"
    assert result.status is Status.OK
    lines = result.detail.splitlines()
    assert lines[0] == "mapping in force: /etc/airflow/okta_role_mapping.yaml (version 0123456789ab, 3 rules)"
    assert "last reload: 2026-01-01T10:00:00Z (version 0123456789ab)" in lines
    assert "Okta signing keys cached 42 s ago" in lines
    assert any(line.startswith("Okta from the server: reachable (12.5 ms") for line in lines)
    assert "answered by process 1234 (started 2026-01-01T09:00:00Z)" in lines


def test_a_rejected_mapping_fails_with_its_problems():
    body = health(
        mapping={"rejected_now": True, "last_rejection": {"at": "t", "problems": ["m.yaml:2: unknown role 'Admn'"]}}
    )
    body["status"] = "degraded"
    result, _ = run(body)
    assert result.status is Status.FAIL
    assert "the file on disk is REJECTED; the last good mapping stays in force:" in result.detail
    assert "  m.yaml:2: unknown role 'Admn'" in result.detail.splitlines()
    assert "check-mapping" in result.fix


def test_okta_unreachable_from_the_server_fails():
    body = health(okta={"reachable": False, "error": "ConnectTimeout", "status": None})
    body["status"] = "degraded"
    result, _ = run(body)
    assert result.status is Status.FAIL
    assert "Okta from the server: NOT reachable (ConnectTimeout, " in result.detail


def test_no_token_names_how_to_get_one():
    result, sent = run(status=401, token="")
    assert sent is None
    assert result.status is Status.FAIL
    assert "HTTP 401" in result.detail
    assert "--token-file" in result.fix


def test_an_airflow_without_the_endpoint_names_the_auth_manager():
    result, _ = run({"detail": "Not Found"}, status=404)
    assert result.status is Status.FAIL
    assert "OktaFabAuthManager" in result.fix


def test_no_url_skips():
    with requests.Session() as http:
        result = check_live(DoctorContext(environ={}, airflow=None, http=http))
    assert result.status is Status.SKIP
