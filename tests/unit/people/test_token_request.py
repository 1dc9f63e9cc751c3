"""The token request's grant and its refusals, as RFC 6749 §5.2 and RFC 7523 §2.1 word them."""

from __future__ import annotations

import pytest

from okta_security.errors import (
    AccessTokenRejected,
    AgentGrantRejected,
    DatabaseUnavailable,
    InactiveUser,
    NoMappedRole,
    OktaKeysUnavailable,
    OktaUnavailable,
    UnmappedClient,
)
from okta_security.people.token_request import (
    ACCESS_TOKEN_TYPE,
    JWT_BEARER,
    TOKEN_EXCHANGE,
    TokenRequest,
    TokenRequestInvalid,
    description,
    oauth_refusal,
    read_token_request,
)

# An ID-JAG is told apart by its header's typ alone (verified in full later): header {"alg":"RS256","typ":"oauth-id-jag+jwt"}.
ID_JAG = "eyJhbGciOiJSUzI1NiIsInR5cCI6Im9hdXRoLWlkLWphZytqd3QifQ.e30.c2ln"
EXCHANGE = {
    "grant_type": TOKEN_EXCHANGE,
    "subject_token": "person",
    "subject_token_type": ACCESS_TOKEN_TYPE,
    "actor_token": "agent",
    "actor_token_type": ACCESS_TOKEN_TYPE,
}


@pytest.mark.parametrize(
    ("body", "bearer", "expected"),
    [
        ({"grant_type": JWT_BEARER, "assertion": "tok"}, None, TokenRequest("okta_token", "tok", standard=True)),
        ({"grant_type": JWT_BEARER, "assertion": " tok\n"}, None, TokenRequest("okta_token", "tok", standard=True)),
        ({"grant_type": JWT_BEARER, "assertion": "tok"}, "tok", TokenRequest("okta_token", "tok", standard=True)),
        ({}, "tok", TokenRequest("okta_token", "tok")),  # okta_security's first form
        ({"username": "u", "password": "p"}, None, TokenRequest("password")),  # FAB's
        ({"grant_type": "password", "username": "u"}, None, TokenRequest("password", standard=True)),
        ({}, None, TokenRequest("password")),  # FAB says what is missing
        ({"grant_type": JWT_BEARER, "assertion": ID_JAG}, None, TokenRequest("id_jag", ID_JAG, standard=True)),
        (
            {**EXCHANGE, "requested_token_type": ACCESS_TOKEN_TYPE},
            None,
            TokenRequest("token_exchange", "person", standard=True, actor_token="agent"),
        ),
        (EXCHANGE, None, TokenRequest("token_exchange", "person", standard=True, actor_token="agent")),
    ],
)
def test_what_a_request_asks_for(body, bearer, expected):
    assert read_token_request(body, bearer) == expected


@pytest.mark.parametrize(
    ("body", "bearer", "error", "words"),
    [
        ({"grant_type": "client_credentials"}, None, "unsupported_grant_type", "'client_credentials'"),
        ({"grant_type": "x" * 5000}, None, "unsupported_grant_type", "grant_type 'xxx"),
        ({"grant_type": ["a"]}, None, "unsupported_grant_type", "(not a string)"),
        ({"grant_type": JWT_BEARER}, None, "invalid_request", "'assertion'"),
        ({"grant_type": JWT_BEARER, "assertion": "  "}, None, "invalid_request", "'assertion'"),
        ({"grant_type": JWT_BEARER, "assertion": 42}, None, "invalid_request", "'assertion'"),
        ({"grant_type": JWT_BEARER, "assertion": "a"}, "b", "invalid_request", "two different tokens"),
        ({**EXCHANGE, "subject_token": None}, None, "invalid_request", "subject_token: the person's"),
        ({**EXCHANGE, "actor_token": " "}, None, "invalid_request", "actor_token: the agent's"),
        (
            {**EXCHANGE, "subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
            None,
            "invalid_request",
            "subject_token_type",
        ),
        ({**EXCHANGE, "actor_token_type": None}, None, "invalid_request", "actor_token_type"),
        (
            {**EXCHANGE, "requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
            None,
            "invalid_request",
            "requested_token_type",
        ),
        (EXCHANGE, "person", "invalid_request", "bearer header"),
    ],
)
def test_requests_airflow_cannot_take(body, bearer, error, words):
    with pytest.raises(TokenRequestInvalid) as info:
        read_token_request(body, bearer)
    assert info.value.oauth_error == error
    assert words in info.value.message
    assert len(info.value.message) < 400


@pytest.mark.parametrize(
    ("error", "status", "oauth"),
    [
        (TokenRequestInvalid("unsupported_grant_type", "no"), 400, "unsupported_grant_type"),
        (AccessTokenRejected("expired", "The access token expired 5 s ago."), 400, "invalid_grant"),
        (UnmappedClient("not mapped", client_id="0oabot"), 400, "invalid_grant"),
        (AgentGrantRejected("replayed", "used already", client_id="agent"), 400, "invalid_grant"),
        (NoMappedRole("carol", ["marketing"]), 400, "invalid_grant"),
        (InactiveUser("deactivated"), 400, "invalid_grant"),
        (OktaKeysUnavailable("keys"), 503, "temporarily_unavailable"),
        (OktaUnavailable("okta down"), 503, "temporarily_unavailable"),
        (DatabaseUnavailable("db down"), 503, "temporarily_unavailable"),
    ],
)
def test_refusals_in_rfc_6749_terms(error, status, oauth):
    got_status, body = oauth_refusal(error)
    assert (got_status, body["error"], body["code"]) == (status, oauth, error.code)
    assert body["message"] == error.message
    assert body["error_description"]


def test_the_refusal_keeps_the_failed_check_and_the_client():
    _, body = oauth_refusal(AccessTokenRejected("client_not_allowed", "not listed", client_id="0oaother"))
    assert (body["reason"], body["client_id"]) == ("client_not_allowed", "0oaother")
    _, body = oauth_refusal(NoMappedRole("carol", []))
    assert "reason" not in body
    assert "client_id" not in body


def test_error_description_uses_only_the_characters_rfc_6749_allows():
    text = description('Groups — "Äpfel" \\ x\n' + "y" * 2000)
    assert all(0x20 <= ord(c) <= 0x7E and c not in '"\\' for c in text)
    assert text.startswith("Groups - '?pfel' / x?y")
    assert len(text) == 1000
