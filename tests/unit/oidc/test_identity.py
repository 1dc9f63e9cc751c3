from __future__ import annotations

import pytest

from okta_security.errors import IdentityError, UserinfoMismatch
from okta_security.oidc.identity import has_groups_claim, identity_from_claims

CLAIMS = {
    "sub": "00uabc",
    "preferred_username": "Alice.Admin@Example.com",
    "email": "Alice.Admin@Example.com",
    "name": "Alice Admin",
    "groups": ["airflow-admins", "Everyone"],
}


def test_identity_from_id_token_lowercases_login():
    ident = identity_from_claims(CLAIMS)
    assert ident.username == "alice.admin@example.com"
    assert ident.email == "alice.admin@example.com"
    assert (ident.first_name, ident.last_name) == ("Alice", "Admin")
    assert ident.groups == ("airflow-admins", "Everyone")
    assert ident.groups_source == "id_token"


def test_email_used_when_no_preferred_username():
    claims = {k: v for k, v in CLAIMS.items() if k != "preferred_username"}
    assert identity_from_claims(claims).username == "alice.admin@example.com"


def test_given_and_family_names_win_over_name():
    ident = identity_from_claims({**CLAIMS, "given_name": "Al", "family_name": "Ice"})
    assert (ident.first_name, ident.last_name) == ("Al", "Ice")


def test_userinfo_fills_groups_when_token_has_none():
    claims = {k: v for k, v in CLAIMS.items() if k != "groups"}
    ident = identity_from_claims(claims, {"sub": "00uabc", "groups": ["airflow-viewers"], "given_name": "A"})
    assert ident.groups == ("airflow-viewers",)
    assert ident.groups_source == "userinfo"


def test_id_token_claims_win_over_userinfo():
    ident = identity_from_claims(CLAIMS, {"sub": "00uabc", "email": "other@example.com", "groups": ["x"]})
    assert ident.email == "alice.admin@example.com"
    assert ident.groups == ("airflow-admins", "Everyone")


def test_userinfo_with_other_sub_is_refused():
    with pytest.raises(UserinfoMismatch) as err:
        identity_from_claims({k: v for k, v in CLAIMS.items() if k != "groups"}, {"sub": "00uEVIL", "groups": ["a"]})
    assert err.value.code == "userinfo_sub_mismatch"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"preferred_username": "x"}, "no 'sub'"),
        ({"sub": ""}, "no 'sub'"),
        ({"sub": "00u1"}, "neither 'preferred_username' nor 'email'"),
        ({"sub": "00u1", "email": "a@b", "groups": "not-a-list-but-ok"}, None),
        ({"sub": "00u1", "email": "a@b", "groups": [1, 2]}, "not a list of group names"),
    ],
)
def test_bad_claims(claims, message):
    if message is None:
        assert identity_from_claims(claims).groups == ("not-a-list-but-ok",)
        return
    with pytest.raises(IdentityError, match=message):
        identity_from_claims(claims)


def test_custom_groups_claim_and_duplicates():
    ident = identity_from_claims(
        {"sub": "1", "email": "a@b", "okta_groups": ["g", "g", "h"]}, groups_claim="okta_groups"
    )
    assert ident.groups == ("g", "h")
    assert has_groups_claim({"okta_groups": []}, "okta_groups")
    assert not has_groups_claim({"groups": []}, "okta_groups")


def test_no_groups_anywhere_is_empty():
    ident = identity_from_claims({"sub": "1", "email": "a@b"})
    assert ident.groups == ()
    assert ident.groups_source == "none"


def test_group_names_longer_than_okta_allows_are_dropped():
    """Okta caps a group name at 255 characters: a longer one cannot name a real group."""
    ident = identity_from_claims({**CLAIMS, "groups": ["airflow-admins", "a" * 256, "b" * 255]})
    assert ident.groups == ("airflow-admins", "b" * 255)
