"""Which target the contract suite tests: the local IdP unless OKTA_CONTRACT_* describe a real org.

No network: the real org's sign-in (Okta's Authentication API) is played by ``responses``.
"""

from __future__ import annotations

import pytest
import requests
import responses

from tests.idp.okta_contract import (
    CALLBACK,
    CONTRACT_VARIABLES,
    REQUIRED_VARIABLES,
    ContractConfigError,
    real_org_from_env,
    redirects_back,
    sign_in_with_session_token,
)

ORG = "https://dev-123456.okta.com"
COMPLETE = {
    "OKTA_CONTRACT_ISSUER": f"{ORG}/oauth2/default",
    "OKTA_CONTRACT_CLIENT_ID": "0oacontract",
    "OKTA_CONTRACT_CLIENT_SECRET": "s3cret",
    "OKTA_CONTRACT_USERNAME": "contract.user@example.com",
    "OKTA_CONTRACT_PASSWORD": "pw",
    "OKTA_CONTRACT_USER_GROUPS": "airflow-admins, airflow-viewers",
    "OKTA_CONTRACT_API_TOKEN": "00token",
}


@pytest.mark.parametrize(
    "environ",
    [{}, {"PATH": "/usr/bin", "OKTA_ISSUER": f"{ORG}/oauth2/default"}, {"OKTA_CONTRACT_ISSUER": "  "}],
    ids=["empty", "only-airflow-settings", "blank"],
)
def test_local_idp_unless_contract_variables_are_set(environ: dict[str, str]) -> None:
    assert real_org_from_env(environ) is None


def test_every_required_variable_selects_the_real_org() -> None:
    org = real_org_from_env({"HOME": "/root", **COMPLETE})
    assert org is not None
    assert org.issuer == f"{ORG}/oauth2/default"
    assert org.base_url == ORG
    assert org.user_groups == ("airflow-admins", "airflow-viewers")
    assert org.redirect_uri == CALLBACK
    assert (org.groups_scope_defined, org.paging_user, org.event_hook_id) == (None, None, None)


@pytest.mark.parametrize("missing", sorted(REQUIRED_VARIABLES))
def test_a_half_given_set_is_refused_naming_what_is_missing(missing: str) -> None:
    """Never fall back to the local IdP silently when someone meant a real org."""
    environ = {k: v for k, v in COMPLETE.items() if k != missing}
    with pytest.raises(ContractConfigError, match=f"{missing} is not set"):
        real_org_from_env(environ)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"OKTA_CONTRACT_ISSUER": ORG}, "not a custom authorization server's issuer"),
        ({"OKTA_CONTRACT_ISSUER": f"{ORG}/oauth2/default/"}, "no trailing slash"),
        ({"OKTA_CONTRACT_GROUPS_SCOPE": "yes"}, "use 'defined' or 'undefined'"),
        ({"OKTA_CONTRACT_PAGING_USER": "00u1"}, "set both or neither"),
        ({"OKTA_CONTRACT_PAGING_USER": "00u1", "OKTA_CONTRACT_PAGING_GROUP_COUNT": "many"}, "is not a number"),
        (
            {"OKTA_CONTRACT_EVENT_HOOK_ID": "who1", "OKTA_CONTRACT_EVENT_HOOK_SECRET": "x"},
            "EVENT_HOOK_PORT go together",
        ),
        ({"OKTA_CONTRACT_ISSUR": "typo"}, "OKTA_CONTRACT_ISSUR is not a variable of the contract suite"),
    ],
)
def test_bad_values_are_reported(extra: dict[str, str], problem: str) -> None:
    with pytest.raises(ContractConfigError, match=problem):
        real_org_from_env({**COMPLETE, **extra})


def test_optional_variables() -> None:
    org = real_org_from_env(
        {
            **COMPLETE,
            "OKTA_CONTRACT_GROUPS_SCOPE": "undefined",
            "OKTA_CONTRACT_PAGING_USER": "00upaging",
            "OKTA_CONTRACT_PAGING_GROUP_COUNT": "12",
            "OKTA_CONTRACT_EVENT_HOOK_ID": "who1",
            "OKTA_CONTRACT_EVENT_HOOK_SECRET": "Bearer x",
            "OKTA_CONTRACT_EVENT_HOOK_PORT": "8099",
            "OKTA_CONTRACT_AUDIENCE": "api://airflow",
        }
    )
    assert org is not None
    assert (org.groups_scope_defined, org.paging_user, org.paging_group_count) == (False, "00upaging", 12)
    assert (org.event_hook_id, org.event_hook_secret, org.event_hook_port) == ("who1", "Bearer x", 8099)
    assert org.audience == "api://airflow"


def test_every_variable_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "contract-tests.md").read_text()
    missing = [name for name in CONTRACT_VARIABLES if f"`{name}`" not in doc]
    assert not missing, f"docs/contract-tests.md does not document {missing}"


# -- signing in at a real org ------------------------------------------------------------------

AUTHORIZE = f"{ORG}/oauth2/default/v1/authorize?client_id=0oacontract&state=s1"


def _widget_page(browser: requests.Session) -> requests.Response:
    responses.get(AUTHORIZE, body="<html>Okta sign-in widget</html>", content_type="text/html")
    return browser.get(AUTHORIZE, allow_redirects=False, timeout=10)


@responses.activate
def test_session_token_sign_in_repeats_the_authorization_request() -> None:
    browser = requests.Session()
    page = _widget_page(browser)
    assert redirects_back(CALLBACK)(page)  # the widget: Okta asks for credentials
    responses.post(f"{ORG}/api/v1/authn", json={"status": "SUCCESS", "sessionToken": "20111abc"})
    responses.get(
        f"{AUTHORIZE}&sessionToken=20111abc", status=302, headers={"Location": f"{CALLBACK}?code=c1&state=s1"}
    )
    answer = sign_in_with_session_token(ORG)(browser, page, "contract.user@example.com", "pw")
    assert answer.status_code == 302
    assert not redirects_back(CALLBACK)(answer)
    sent = responses.calls[1].request
    assert sent.url == f"{ORG}/api/v1/authn"
    assert sent.body is not None
    assert b'"username": "contract.user@example.com"' in sent.body


@responses.activate
@pytest.mark.parametrize("status", ["MFA_REQUIRED", "MFA_ENROLL", "PASSWORD_EXPIRED"])
def test_a_sign_in_that_needs_a_person_skips_the_test(status: str) -> None:
    browser = requests.Session()
    page = _widget_page(browser)
    responses.post(f"{ORG}/api/v1/authn", json={"status": status, "stateToken": "00st"})
    with pytest.raises(pytest.skip.Exception, match=f"needs a person at Okta \\({status}\\)"):
        sign_in_with_session_token(ORG)(browser, page, "contract.user@example.com", "pw")


@responses.activate
def test_wrong_credentials_are_left_to_the_test() -> None:
    browser = requests.Session()
    page = _widget_page(browser)
    responses.post(f"{ORG}/api/v1/authn", status=401, json={"errorCode": "E0000004"})
    answer = sign_in_with_session_token(ORG)(browser, page, "contract.user@example.com", "wrong")
    assert answer.status_code == 401
