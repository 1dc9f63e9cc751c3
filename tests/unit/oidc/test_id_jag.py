"""An ID-JAG's checks, with real RS256 signatures (joserfc) and a key set served without HTTP."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from okta_security.errors import AgentGrantRejected, OktaKeysUnavailable
from okta_security.oidc.id_jag import ID_JAG_TYPE, is_id_jag, verify_id_jag
from okta_security.oidc.id_token import JwksCache

ORG = "https://dev-1.okta.com"
AUDIENCE = "https://airflow.example.com/auth/token"
KEY = RSAKey.generate_key(2048, parameters={"kid": "org-k1", "alg": "RS256", "use": "sig"})
OTHER = RSAKey.generate_key(2048, parameters={"kid": "org-k1", "alg": "RS256", "use": "sig"})
NOW = 1_800_000_000


def grant(header: dict | None = None, key: RSAKey = KEY, **over: object) -> str:
    claims: dict[str, object] = {
        "iss": ORG,
        "sub": "00uerin0000000000001",
        "aud": AUDIENCE,
        "client_id": "airflow-assistant",
        "jti": "idjag-1",
        "iat": NOW - 10,
        "exp": NOW + 290,
        "scope": "airflow.api",
        "amr": ["pwd", "otp"],
        "auth_time": NOW - 100,
    }
    claims.update(over)
    claims = {k: v for k, v in claims.items() if v is not None}
    head = {k: v for k, v in {"alg": "RS256", "kid": KEY.kid, "typ": ID_JAG_TYPE, **(header or {})}.items() if v}
    return jwt.encode(head, claims, key)


def keys() -> JwksCache:
    return JwksCache(lambda: {"keys": [KEY.as_dict(private=False)]})


def verify(token: str, audience: str = AUDIENCE, jwks: JwksCache | None = None):
    return verify_id_jag(token, keys=jwks or keys(), org=ORG, audience=audience, leeway=30, now=NOW)


def test_a_valid_grant_names_the_person_and_the_agent() -> None:
    verified = verify(grant())
    assert (verified.user_id, verified.agent, verified.jti) == ("00uerin0000000000001", "airflow-assistant", "idjag-1")
    assert (verified.issued_at, verified.expires_at, verified.scopes) == (NOW - 10, NOW + 290, {"airflow.api"})
    assert verified.mfa == {"amr": ["pwd", "otp"], "auth_time": NOW - 100}


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (grant(header={"typ": "JWT"}), "wrong_type"),  # an ID token or access token is never one
        (grant(header={"typ": None}), "wrong_type"),
        (grant(key=OTHER), "bad_signature"),
        (grant(iss="https://evil.example.com"), "bad_iss"),
        (grant(iss=f"{ORG}/oauth2/default"), "bad_iss"),  # a custom authorization server does not issue them
        (grant(aud="https://other.example.com/auth/token"), "bad_aud"),
        (grant(aud=[AUDIENCE, "https://other.example.com"]), "bad_aud"),
        (grant(exp=NOW - 60), "expired"),
        (grant(iat=NOW + 120), "bad_iat"),
        (grant(iat=NOW - 3000, exp=NOW + 60), "lifetime_too_long"),
        (grant(client_id=None), "missing_claims"),
        (grant(jti=None), "missing_claims"),
        (grant(sub=None), "missing_claims"),
        (grant(client_id=""), "bad_client_id"),
        (grant(sub="x" * 200), "bad_sub"),
        (grant(client_id=["a"]), "bad_client_id"),
        ("not.a.jwt", "malformed"),
    ],
)
def test_each_check_refuses_with_its_reason(token: str, reason: str) -> None:
    with pytest.raises(AgentGrantRejected) as refused:
        verify(token)
    assert refused.value.reason == reason
    assert refused.value.code == "invalid_agent_grant"


def test_without_an_audience_setting_nothing_is_fetched_and_the_message_says_what_to_set() -> None:
    fetched = []
    jwks = JwksCache(lambda: fetched.append(1) or {"keys": []})
    with pytest.raises(AgentGrantRejected, match="OKTA_AGENT_AUDIENCE") as refused:
        verify(grant(), audience="", jwks=jwks)
    assert refused.value.reason == "agents_disabled"
    assert fetched == []


def test_keys_that_cannot_be_fetched_are_an_outage_not_a_refusal() -> None:
    def down() -> dict:
        raise OSError("connection refused")

    with pytest.raises(OktaKeysUnavailable):
        verify(grant(), jwks=JwksCache(down))


def test_is_id_jag_reads_the_header_only() -> None:
    assert is_id_jag(grant())
    assert not is_id_jag(grant(header={"typ": "JWT"}))
    assert not is_id_jag("garbage")
    assert not is_id_jag("a" * 20_000)
