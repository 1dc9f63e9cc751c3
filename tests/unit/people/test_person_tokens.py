"""A person's Okta access token: verified with a real RS256 signature, then the person checks, then the
claims the login decision reads — down to the decision itself, as the browser's login takes it."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from okta_security.bots.client_tokens import validate_access_token
from okta_security.errors import AccessTokenRejected, NoMappedRole
from okta_security.login.decision import LoginPolicy, decide
from okta_security.mapping.rules import parse_mapping
from okta_security.oidc.access_token import AccessTokenPolicy, verify_access_token_claims
from okta_security.oidc.id_token import JwksCache
from okta_security.people.person_tokens import (
    PERSON_REASONS,
    PersonToken,
    PersonTokenPolicy,
    looks_like_person_token,
    person_from_claims,
    require_people_enabled,
    signin_claims,
)
from okta_security.settings.loader import load_settings

ISSUER = "https://dev-1.okta.com/oauth2/aus1airflow"
AUDIENCE = "api://airflow"
CLI = "0oacli0000000000000x"
NOW = 1_800_000_000
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
ACCESS = AccessTokenPolicy(issuer=ISSUER, audience=AUDIENCE, required_scopes=("airflow.api",), leeway=60)
PEOPLE = PersonTokenPolicy(allowed_clients=frozenset({CLI}), required_scopes=("airflow.api",))
MAPPING = parse_mapping(
    "mappings:\n  airflow-admins: [Admin]\n  airflow-viewers: [Viewer]\n",
    source="test",
    known_roles=("Admin", "Viewer"),
)


def person(**over: object) -> dict:
    """Claims shaped like an Okta user's access token (device grant)."""
    base = {
        "ver": 1,
        "jti": "AT.person",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "cid": CLI,
        "uid": "00uadmin000000000001",
        "sub": "Alice.Admin@example.com",
        "scp": ["airflow.api", "openid"],
        "groups": ["airflow-admins", "Everyone"],
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def verified(claims: dict) -> dict:
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, KEY)
    jwks = JwksCache(lambda: {"keys": [KEY.as_dict(private=False)]})
    return verify_access_token_claims(token, jwks=jwks, policy=ACCESS, now=lambda: NOW).claims


def refused(claims: dict, policy: PersonTokenPolicy = PEOPLE) -> AccessTokenRejected:
    with pytest.raises(AccessTokenRejected) as info:
        person_from_claims(claims, policy)
    assert info.value.reason in PERSON_REASONS
    assert info.value.code == "invalid_access_token"
    return info.value


def test_a_persons_token_vouches_for_the_person_and_the_app():
    found = person_from_claims(verified(person()), PEOPLE)
    assert (found.user_id, found.login, found.client_id, found.jti) == (
        "00uadmin000000000001",
        "Alice.Admin@example.com",
        CLI,
        "AT.person",
    )
    assert (found.issued_at, found.expires_at) == (NOW - 10, NOW + 3600)
    assert found.scopes == frozenset({"airflow.api", "openid"})
    assert (found.has_groups_claim, found.groups) == (True, ["airflow-admins", "Everyone"])


def test_the_bots_path_refuses_a_persons_token():
    """The other direction: a person's token is never a bot, whatever the path it is sent down."""
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, person(), KEY)
    jwks = JwksCache(lambda: {"keys": [KEY.as_dict(private=False)]})
    with pytest.raises(AccessTokenRejected) as info:
        validate_access_token(token, jwks=jwks, policy=ACCESS, now=lambda: NOW)
    assert info.value.reason == "not_client_credentials"


@pytest.mark.parametrize(
    ("claims", "reason", "words"),
    [
        (person(cid="0oaother000000000000"), "client_not_allowed", "OKTA_CLI_CLIENT_ID"),
        (person(scp=None), "not_an_access_token", "ID token is never accepted"),
        (person(uid=None), "missing_claim", "'uid'"),
        (person(cid=None), "missing_claim", "'cid'"),
        (person(sub=None), "missing_claim", "'sub'"),
        (person(uid=["00u1"]), "invalid_claim", "'uid'"),
        (person(uid="00u" + "x" * 200), "invalid_claim", "'uid'"),
        (person(sub="alice\nforged"), "invalid_claim", "'sub'"),
        (person(scp="airflow.api"), "invalid_claim", "'scp'"),
        (person(scp=["openid"]), "missing_scope", "lacks the scope(s) airflow.api"),
    ],
)
def test_what_is_refused_and_why(claims, reason, words):
    error = refused(claims)
    assert error.reason == reason
    assert words in error.message


def test_an_okta_id_token_is_never_taken_for_an_access_token():
    id_token = {"sub": "00uadmin000000000001", "iss": ISSUER, "aud": CLI, "iat": NOW, "exp": NOW + 3600, "amr": ["pwd"]}
    assert refused(id_token).reason == "not_an_access_token"
    assert not looks_like_person_token(jwt.encode({"alg": "RS256", "kid": "k1"}, id_token, KEY))


def test_no_listed_app_means_people_cannot_exchange():
    closed = PersonTokenPolicy(allowed_clients=frozenset(), required_scopes=("airflow.api",))
    error = refused(person(), closed)
    assert error.reason == "people_disabled"
    with pytest.raises(AccessTokenRejected):
        require_people_enabled(closed)
    require_people_enabled(PEOPLE)


def test_the_policy_comes_from_the_settings(tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text("mappings: {}\n")
    env = {
        "OKTA_ISSUER": ISSUER,
        "OKTA_CLIENT_ID": "0oaweb",
        "OKTA_CLIENT_SECRET": "s",
        "OKTA_ROLE_MAPPING_FILE": str(mapping),
        "OKTA_CLI_CLIENT_ID": f"{CLI} 0oasecond",
        "OKTA_BOT_SCOPES": "airflow.api airflow.cli",
        "OKTA_GROUPS_CLAIM": "okta_groups",
    }
    policy = PersonTokenPolicy.from_settings(load_settings(env))
    assert policy == PersonTokenPolicy(
        allowed_clients=frozenset({CLI, "0oasecond"}),
        required_scopes=("airflow.api", "airflow.cli"),
        groups_claim="okta_groups",
    )
    assert PersonTokenPolicy.from_settings(load_settings({**env, "OKTA_CLI_CLIENT_ID": ""})).allowed_clients == set()


def _unsigned(payload: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'kid': 'k1'})}.{part(payload)}.c2ln"


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (_unsigned({"uid": "00u1", "cid": CLI}), True),
        (_unsigned({"sub": CLI, "cid": CLI}), False),  # a client-credentials token
        ("not-a-jwt", False),
        ("a.!!!.c", False),
        (_unsigned({"uid": "x"}) + "x" * 20_000, False),  # larger than any Okta token: not even looked at
        ("a." + base64.urlsafe_b64encode(b"[1, 2]").decode() + ".c", False),
        ("", False),
    ],
)
def test_looks_like_a_person_only_picks_the_path(token, expected):
    assert looks_like_person_token(token) is expected


def _decide(found: PersonToken, policy: LoginPolicy, api_groups=None, username=None):
    claims = signin_claims(found, username=username, groups_claim=policy.groups_claim)
    return decide(
        claims, userinfo=None, api_groups=api_groups, mapping=MAPPING, airflow_roles={"Admin", "Viewer"}, policy=policy
    )


def test_the_login_decision_sees_the_person_as_the_browser_would():
    found = person_from_claims(person(email="alice@example.com", given_name="Alice", family_name="Admin"), PEOPLE)
    decision = _decide(found, LoginPolicy())
    assert decision.roles == ("Admin",)
    assert decision.identity is not None
    assert (decision.identity.sub, decision.identity.username) == ("00uadmin000000000001", "alice.admin@example.com")
    assert (decision.identity.email, decision.identity.first_name) == ("alice@example.com", "Alice")


def test_the_linked_accounts_username_wins_over_the_tokens_login():
    found = person_from_claims(person(sub="alice.renamed@example.com"), PEOPLE)
    decision = _decide(found, LoginPolicy(), username="alice.admin@example.com")
    assert decision.identity is not None
    assert decision.identity.username == "alice.admin@example.com"


def test_without_a_groups_claim_the_groups_api_decides():
    found = person_from_claims(person(groups=None), PEOPLE)
    assert not found.has_groups_claim
    assert "groups" not in signin_claims(found, username=None, groups_claim="groups")
    policy = LoginPolicy(api_configured=True)
    decision = _decide(found, policy, api_groups=("airflow-viewers",))
    assert (decision.roles, decision.identity.groups_source) == (("Viewer",), "api")


def test_unmapped_groups_get_the_browsers_refusal():
    found = person_from_claims(person(groups=["marketing"]), PEOPLE)
    decision = _decide(found, LoginPolicy())
    assert isinstance(decision.refusal, NoMappedRole)
    assert decision.refusal.code == "no_mapped_role"


def test_profile_claims_are_bounded_and_only_strings_are_taken():
    found = person_from_claims(person(email="e" * 1000, name=["not", "text"], given_name=" "), PEOPLE)
    assert len(found.profile["email"]) == 256
    assert "name" not in found.profile
    assert "given_name" not in found.profile
