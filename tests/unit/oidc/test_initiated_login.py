from __future__ import annotations

import pytest

from okta_security.errors import ForeignIssuer
from okta_security.oidc.initiated_login import (
    MAX_LOGIN_HINT_CHARS,
    InitiatedLogin,
    accepted_issuers,
    read_initiated_login,
    same_origin_path,
)

ORG = "https://example.okta.com"
CUSTOM = f"{ORG}/oauth2/default"
AIRFLOW = "https://airflow.example/"


def read(params: dict[str, str], issuer: str = CUSTOM) -> InitiatedLogin | None:
    return read_initiated_login(params, issuer=issuer, own_origin=AIRFLOW)


def test_no_iss_is_a_sign_in_airflow_started():
    assert read({"next": "/dags"}) is None


@pytest.mark.parametrize(
    ("issuer", "accepted"),
    [
        (CUSTOM, {CUSTOM, ORG}),  # Okta's dashboard sends the org URL whatever server the app uses
        (CUSTOM + "/", {CUSTOM, ORG}),
        (ORG, {ORG}),
        (f"{ORG}/oauth2/aus1a2b3c4", {f"{ORG}/oauth2/aus1a2b3c4", ORG}),
        ("https://idp.example/realms/x", {"https://idp.example/realms/x"}),  # not Okta's shape: exact only
    ],
)
def test_accepted_issuers(issuer, accepted):
    assert accepted_issuers(issuer) == accepted


@pytest.mark.parametrize("iss", [CUSTOM, ORG, ORG + "/"])
def test_own_issuer_or_its_org_starts_the_sign_in(iss):
    assert read({"iss": iss}) == InitiatedLogin()


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.okta.com",
        "https://example.okta.com.evil.example",
        f"{ORG}/oauth2/other",
        "http://example.okta.com",  # another scheme is another issuer
        "",
        CUSTOM + "x" * 2000,
    ],
)
def test_a_foreign_iss_is_refused_with_a_stable_code(iss):
    with pytest.raises(ForeignIssuer) as refused:
        read({"iss": iss, "target_link_uri": AIRFLOW + "dags"})
    assert refused.value.code == "foreign_issuer"
    assert not iss or iss not in refused.value.message  # the page never echoes the link's text


def test_an_org_issuer_does_not_accept_a_custom_servers_url():
    with pytest.raises(ForeignIssuer):
        read({"iss": CUSTOM}, issuer=ORG)


@pytest.mark.parametrize(
    ("hint", "kept"),
    [
        ("alice@example.com", "alice@example.com"),
        ("", None),
        ("a" * MAX_LOGIN_HINT_CHARS, "a" * MAX_LOGIN_HINT_CHARS),
        ("a" * (MAX_LOGIN_HINT_CHARS + 1), None),  # dropped, not cut: a cut hint names someone else
        ("alice\n@example.com", None),
    ],
)
def test_login_hint_is_bounded(hint, kept):
    assert read({"iss": ORG, "login_hint": hint}) == InitiatedLogin(login_hint=kept)


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("https://airflow.example/dags/x/grid?tab=logs", "/dags/x/grid?tab=logs"),
        ("https://AIRFLOW.example/dags", "/dags"),
        ("https://airflow.example", "/"),
        ("https://airflow.example/airflow/dags", "/airflow/dags"),  # a base path stays in the path
        ("http://airflow.example/dags", None),  # another scheme
        ("https://airflow.example:8443/dags", None),  # another port
        ("https://evil.example/dags", None),
        ("https://airflow.example.evil.example/", None),
        ("https://user@airflow.example/dags", None),
        ("https://airflow.example//evil.example/x", None),
        ("https://airflow.example/%2F%2Fevil.example", None),
        ("/dags", None),  # §4: an absolute URL; a relative one is no target of this protocol
        ("javascript:alert(1)", None),
        ("https://[::1/", None),
        ("https://airflow.example/" + "d" * 3000, None),
        (None, None),
    ],
)
def test_target_link_uri_only_on_airflows_own_origin(target, path):
    assert same_origin_path(target, AIRFLOW) == path
    assert read({"iss": ORG, **({"target_link_uri": target} if target else {})}) == InitiatedLogin(next_path=path)
