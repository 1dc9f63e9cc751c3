"""The doctor compares the redirect URI the running Airflow sends Okta with the one its base URL gives."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import requests
import responses

from okta_security.airflow_layout import AIRFLOW_2
from okta_security.doctor import sign_in_probe
from okta_security.doctor.report import DoctorContext
from tests.unit.doctor.test_checks import facts

PUBLIC = "https://data.example.com/airflow"
AUTHORIZE = "https://dev-123456.okta.com/oauth2/default/v1/authorize"


def _ctx(**overrides) -> DoctorContext:
    overrides.setdefault("base_url", PUBLIC + "/")
    return DoctorContext(environ={}, airflow=facts(**overrides), http=requests.Session())


def _airflow_sends(start: str, redirect_uri: str | None, status: int = 302) -> None:
    query = {"client_id": "x", "state": "s"} | ({"redirect_uri": redirect_uri} if redirect_uri else {})
    headers = {"Location": f"{AUTHORIZE}?{urlencode(query)}"} if status == 302 else {}
    responses.add(responses.GET, start, status=status, headers=headers)


@responses.activate
def test_the_sign_in_starts_at_the_public_url_and_reads_the_redirect_uri():
    _airflow_sends(f"{PUBLIC}/auth/login/okta", f"{PUBLIC}/auth/oauth-authorized/okta")
    seen = sign_in_probe.probe(_ctx())
    assert seen == sign_in_probe.LiveRedirect(f"{PUBLIC}/auth/login/okta", f"{PUBLIC}/auth/oauth-authorized/okta")


@responses.activate
def test_airflow_2_starts_without_the_auth_prefix():
    _airflow_sends(f"{PUBLIC}/login/okta", f"{PUBLIC}/oauth-authorized/okta")
    seen = sign_in_probe.probe(_ctx(layout=AIRFLOW_2))
    assert seen is not None
    assert seen.sent == f"{PUBLIC}/oauth-authorized/okta"


@responses.activate
@pytest.mark.parametrize(
    ("status", "redirect_uri", "problem"),
    [(200, None, "answered HTTP 200"), (302, None, "without a redirect_uri")],
)
def test_an_answer_without_a_redirect_uri_is_described(status, redirect_uri, problem):
    _airflow_sends(f"{PUBLIC}/auth/login/okta", redirect_uri, status)
    seen = sign_in_probe.probe(_ctx())
    assert seen is not None
    assert seen.sent is None
    assert problem in seen.problem


def test_an_unreachable_airflow_is_said_so():
    ctx = DoctorContext(environ={}, airflow=facts(base_url="http://127.0.0.1:9/"), http=requests.Session())
    seen = sign_in_probe.probe(ctx)
    assert seen is not None
    assert seen.sent is None
    assert "not reachable from here" in seen.problem


def test_without_a_base_url_nothing_is_probed():
    assert sign_in_probe.probe(_ctx(base_url="")) is None


def test_plain_http_on_the_inner_host_with_proxy_fix_off():
    lines, fixes = sign_in_probe.mismatch(
        _ctx(enable_proxy_fix=False),
        "http://10.0.3.7:8080/airflow/auth/oauth-authorized/okta",
        f"{PUBLIC}/auth/oauth-authorized/okta",
    )
    assert "the scheme and host differ" in lines[1]
    assert "[fab] enable_proxy_fix is off" in lines[1]
    assert "AIRFLOW__FAB__ENABLE_PROXY_FIX=True" in fixes[0]


def test_proxy_fix_on_but_the_proxy_sends_no_headers():
    lines, fixes = sign_in_probe.mismatch(
        _ctx(enable_proxy_fix=True),
        "http://data.example.com/airflow/auth/oauth-authorized/okta",
        f"{PUBLIC}/auth/oauth-authorized/okta",
    )
    assert "the scheme differ although [fab] enable_proxy_fix is on" in lines[1]
    assert "X-Forwarded-Proto" in fixes[0]


def test_a_path_the_ingress_strips():
    lines, fixes = sign_in_probe.mismatch(
        _ctx(), "https://data.example.com/auth/oauth-authorized/okta", f"{PUBLIC}/auth/oauth-authorized/okta"
    )
    assert lines[1] == "the path differs (/auth/oauth-authorized/okta instead of /airflow/auth/oauth-authorized/okta)"
    assert "no rewrite" in fixes[0]


@responses.activate
def test_an_untrusted_redirect_uri_is_bounded():
    _airflow_sends(f"{PUBLIC}/auth/login/okta", "https://x.example/" + "a" * 5000)
    seen = sign_in_probe.probe(_ctx())
    assert seen is not None
    assert seen.sent is not None
    assert len(seen.sent) == sign_in_probe.MAX_SHOWN_CHARS
