"""Step-up MFA per role through a real api-server (OktaFabAuthManager) and the local IdP: Admin is withheld
from a password sign-in, offered on a page, and granted after Okta's second factor; the same at
``POST /auth/token`` with a person's access token. SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from okta_local_idp.testing import is_second_factor_page, pkce_pair, submit_second_factor, submit_sign_in_form
from tests.integration.helpers import okta_login, rewrite, user_roles
from tests.integration.test_audit import audit_rows, last_log_id
from tests.stacks import CLIENT_ID, CLIENT_SECRET, MAPPING_SETTLE_SECONDS, StackSpec, running_stack

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.stacks import Stack

ALICE = ("alice.admin@example.com", "Admin-pass-1")
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAPPING = (
    "default_role: null\nmappings:\n  airflow-admins: [Admin]\n  airflow-viewers: [Viewer]\n"
    "step_up:\n  roles: [Admin]\n  max_age_minutes: 60\n"
)
ADMIN_ONLY = "/api/v2/variables"  # Viewer may not read variables; Admin may
ANYONE = "/api/v2/dags"
SIGN_IN_AGE = 40  # seconds: the age-out test waits about 20 s, not a minute


def _alice_views_too(data: dict, airflow_url: str) -> None:
    for user in data["users"]:
        if user["login"] == ALICE[0]:
            user["groups"] = ["airflow-admins", "airflow-viewers", "Everyone"]
    data["server"]["access_token_auth_claims"] = True  # as a token inline hook would add them at Okta


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stepup(request, tmp_path_factory) -> Iterator[Stack]:
    spec = StackSpec(
        database=request.param,
        mapping=MAPPING,
        edit_idp=_alice_views_too,
        auth_manager="okta_security.auth_manager.OktaFabAuthManager",
        settings={"OKTA_CLI_CLIENT_ID": CLIENT_ID},  # the web app's own access tokens stand in for the CLI's
    )
    with running_stack(spec, tmp_path_factory.mktemp(f"stepup-{request.param}")) as built:
        yield built


def _api(session: requests.Session, url: str, path: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return session.get(f"{url}{path}", headers=headers, timeout=30).status_code


def test_password_sign_in_gets_the_other_roles_and_the_offer_then_admin_after_the_second_factor(stepup: Stack):
    since = last_log_id(stepup.db_url)
    s, page = okta_login(stepup.url, *ALICE)
    assert page.status_code == 200, page.text[:300]
    assert urlsplit(page.url).path == "/auth/okta/step-up/"
    assert 'id="okta-step-up"' in page.text
    assert "Get Admin" in page.text
    assert "single factor" in page.text
    assert user_roles(stepup.db_url, ALICE[0]) == {"Admin", "Viewer"}  # the account keeps what it maps to
    assert _api(s, stepup.url, ANYONE) == 200
    assert _api(s, stepup.url, ADMIN_ONLY) == 403  # this session acts as Viewer
    assert s.get(f"{stepup.url}/auth/users/list/", timeout=30, allow_redirects=False).status_code != 200
    row = audit_rows(stepup.db_url, event="login.succeeded", owner=ALICE[0], since_id=since)[-1]["extra"]
    assert (row["roles"], row["withheld_roles"], row["step_up"]) == (["Viewer"], ["Admin"], "no_multi_factor")
    assert row["amr"] == ["pwd"]
    assert isinstance(row["auth_time"], int)

    # "Get Admin": Okta asks for the second factor (acr_values) and a recent sign-in (max_age).
    link = page.text.split('id="okta-step-up" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    start = s.get(urljoin(page.url, link), allow_redirects=False, timeout=30)
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert (query["acr_values"], query["max_age"]) == (["urn:okta:loa:2fa:any"], ["3600"])
    second = s.get(start.headers["Location"], timeout=30)
    assert is_second_factor_page(second)
    since = last_log_id(stepup.db_url)
    done = submit_second_factor(s, second, allow_redirects=True, timeout=60)
    assert done.status_code == 200, done.text[:300]
    assert _api(s, stepup.url, ADMIN_ONLY) == 200
    row = audit_rows(stepup.db_url, event="login.succeeded", owner=ALICE[0], since_id=since)[-1]["extra"]
    assert row["roles"] == ["Admin", "Viewer"]
    assert "withheld_roles" not in row
    assert row["amr"] == ["pwd", "mfa", "otp"]


def _access_token(stack: Stack, **extra: str) -> str:
    s = requests.Session()
    verifier, challenge = pkce_pair()
    redirect_uri = f"{stack.url}/auth/oauth-authorized/okta"
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "openid profile email airflow.api",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    page = s.get(f"{stack.issuer}/v1/authorize", params=params, timeout=30)
    answer = submit_sign_in_form(s, page, *ALICE, timeout=30)
    if is_second_factor_page(answer):
        answer = submit_second_factor(s, answer, timeout=30)
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    body: dict[str, Any] = requests.post(
        stack.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=30,
    ).json()
    return str(body["access_token"])


def _exchange(stack: Stack, okta_token: str) -> requests.Response:
    return requests.post(
        f"{stack.url}/auth/token", data={"grant_type": JWT_BEARER, "assertion": okta_token}, timeout=60
    )


def test_token_exchange_withholds_admin_without_the_evidence_and_says_why(stepup: Stack):
    answer = _exchange(stepup, _access_token(stepup))
    assert answer.status_code == 201, answer.text[:300]
    body = answer.json()
    assert body["withheld_roles"] == ["Admin"]
    assert "single factor" in body["withheld_reason"]
    airflow_token = body["access_token"]
    s = requests.Session()
    assert _api(s, stepup.url, ANYONE, airflow_token) == 200
    assert _api(s, stepup.url, ADMIN_ONLY, airflow_token) == 403


def test_token_exchange_with_a_multi_factor_token_grants_admin(stepup: Stack):
    answer = _exchange(stepup, _access_token(stepup, acr_values="urn:okta:loa:2fa:any"))
    assert answer.status_code == 201, answer.text[:300]
    assert "withheld_roles" not in answer.json()
    assert _api(requests.Session(), stepup.url, ADMIN_ONLY, answer.json()["access_token"]) == 200


@pytest.mark.parametrize("stepup", ["sqlite"], indirect=True)  # the database plays no part: one is enough
def test_step_up_roles_age_out_per_credential_and_the_page_asks_again(stepup: Stack):
    rewrite(stepup.mapping, MAPPING.replace("max_age_minutes: 60", "max_age_minutes: 1"))
    time.sleep(MAPPING_SETTLE_SECONDS)
    # Sign-ins at the IdP count as made SIGN_IN_AGE s ago: the minute of evidence ends 60 - SIGN_IN_AGE s later.
    stepup.idp.set_faults(sign_in_age_seconds=SIGN_IN_AGE)
    try:
        s, page = okta_login(stepup.url, *ALICE)
        link = page.text.split('id="okta-step-up" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        second = s.get(urljoin(page.url, link), timeout=30)
        if is_second_factor_page(second):  # the IdP session may still be multi-factor from another test
            submit_second_factor(s, second, allow_redirects=True, timeout=60)
        token = _exchange(stepup, _access_token(stepup, acr_values="urn:okta:loa:2fa:any")).json()["access_token"]
        signed_in = time.time()  # every sign-in's auth_time is at most signed_in - SIGN_IN_AGE
        assert _api(s, stepup.url, ADMIN_ONLY) == 200
        assert _api(requests.Session(), stepup.url, ADMIN_ONLY, token) == 200
        time.sleep(max(0.0, signed_in + 60 - SIGN_IN_AGE + 1.5 - time.time()))  # auth_time + 1 min has passed
        assert _api(s, stepup.url, ADMIN_ONLY) == 403
        assert _api(s, stepup.url, ANYONE) == 200  # the session keeps its other roles
        assert _api(requests.Session(), stepup.url, ADMIN_ONLY, token) == 403
        again = s.get(f"{stepup.url}/auth/okta/step-up/", timeout=30)
        assert 'id="okta-step-up"' in again.text  # the page asks again
        assert user_roles(stepup.db_url, ALICE[0]) == {"Admin", "Viewer"}
    finally:
        stepup.idp.set_faults(sign_in_age_seconds=None)
        rewrite(stepup.mapping, MAPPING)
        time.sleep(MAPPING_SETTLE_SECONDS)
