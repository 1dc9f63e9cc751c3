"""Okta access token validation: real RS256 signatures, a real JwksCache, an injected clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from okta_security.bots.client_tokens import REASONS, validate_access_token
from okta_security.errors import AccessTokenRejected, OktaKeysUnavailable
from okta_security.oidc.access_token import MAX_TOKEN_BYTES, AccessTokenPolicy
from okta_security.oidc.id_token import JwksCache
from tests.unit.fake_clock import FakeClock

ISSUER = "https://dev-1.okta.com/oauth2/aus1airflow"
AUDIENCE = "api://airflow"
CLIENT = "0oa8ci0pipeline0000x"
NOW = 1_800_000_000
POLICY = AccessTokenPolicy(issuer=ISSUER, audience=AUDIENCE, required_scopes=("airflow.api",), leeway=60)


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})


@pytest.fixture(scope="module")
def other_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k2", "alg": "RS256", "use": "sig"})


class Published:
    """The issuer's JWKS endpoint: what it serves now, and how often it was asked."""

    def __init__(self, *keys: RSAKey) -> None:
        self.keys = list(keys)
        self.calls = 0
        self.fail = False

    def __call__(self) -> dict:
        self.calls += 1
        if self.fail:
            raise ConnectionError("okta is down")
        return {"keys": [k.as_dict(private=False) for k in self.keys]}


def okta_claims(**over) -> dict:
    """Claims shaped like an Okta client-credentials access token."""
    base = {
        "ver": 1,
        "jti": "AT.abc",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "cid": CLIENT,
        "scp": ["airflow.api"],
        "sub": CLIENT,
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def sign(key, claims: dict, *, alg: str = "RS256", kid: str | None = "k1") -> str:
    header = {"alg": alg, **({"kid": kid} if kid else {})}
    return jwt.encode(header, claims, key, algorithms=[alg])


def validate(token: str, cache: JwksCache, policy: AccessTokenPolicy = POLICY):
    return validate_access_token(token, jwks=cache, policy=policy, now=lambda: NOW)


def rejection(token: str, cache: JwksCache, policy: AccessTokenPolicy = POLICY) -> AccessTokenRejected:
    with pytest.raises(AccessTokenRejected) as info:
        validate(token, cache, policy)
    assert info.value.reason in REASONS
    assert info.value.code == "invalid_access_token"
    assert info.value.http_status == 401
    assert not token or token not in info.value.message  # never echo the token
    return info.value


def unsigned(header: dict, claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def test_a_valid_client_credentials_token(key):
    verified = validate(sign(key, okta_claims(scp=["airflow.api", "extra"])), JwksCache(Published(key)))
    assert verified.client_id == CLIENT
    assert verified.scopes == frozenset({"airflow.api", "extra"})
    assert (verified.jti, verified.issued_at, verified.expires_at, verified.key_id) == (
        "AT.abc",
        NOW - 10,
        NOW + 3600,
        "k1",
    )


def test_no_call_to_okta_per_validation_once_keys_are_cached(key):
    published = Published(key)
    cache = JwksCache(published)
    for _ in range(200):
        validate(sign(key, okta_claims()), cache)
    assert published.calls == 1


@pytest.mark.parametrize(
    ("claims", "reason", "in_message"),
    [
        (okta_claims(iss="https://dev-1.okta.com/oauth2/default"), "wrong_issuer", ISSUER),
        (okta_claims(aud="api://default"), "wrong_audience", AUDIENCE),
        (okta_claims(aud=["api://other", "api://default"]), "wrong_audience", "OKTA_BOT_AUDIENCE"),
        (okta_claims(exp=NOW - 61, iat=NOW - 3700), "expired", "61 s ago"),
        (okta_claims(iat=NOW + 120), "issued_in_future", "clock"),
        (okta_claims(exp=None), "missing_claim", "'exp'"),
        (okta_claims(iat=None), "missing_claim", "'iat'"),
        (okta_claims(iss=None), "missing_claim", "'iss'"),
        (okta_claims(aud=None), "missing_claim", "'aud'"),
        (okta_claims(exp="tomorrow"), "invalid_claim", "'exp'"),
        (okta_claims(cid=None), "missing_claim", "'cid'"),
        (okta_claims(uid="00u1alice", sub="alice@example.com"), "not_client_credentials", "client credentials"),
        (okta_claims(sub="someone-else"), "not_client_credentials", "user's access token"),
        (okta_claims(scp=None), "missing_scope", "airflow.api (it has: none)"),
        (okta_claims(scp=["other.scope"]), "missing_scope", "(it has: other.scope)"),
        (okta_claims(scp="airflow.api"), "invalid_claim", "'scp'"),
        (okta_claims(scp=["airflow.api", 7]), "invalid_claim", "'scp'"),
    ],
)
def test_claim_checks(key, claims, reason, in_message):
    error = rejection(sign(key, claims), JwksCache(Published(key)))
    assert error.reason == reason
    assert in_message in error.message


@pytest.mark.parametrize(("exp", "iat"), [(NOW - 59, NOW - 3600), (NOW + 3600, NOW + 59)])
def test_leeway_absorbs_small_clock_skew(key, exp, iat):
    assert validate(sign(key, okta_claims(exp=exp, iat=iat)), JwksCache(Published(key))).client_id == CLIENT


def test_an_audience_list_that_includes_ours_is_accepted(key):
    token = sign(key, okta_claims(aud=["api://other", AUDIENCE]))
    assert validate(token, JwksCache(Published(key))).client_id == CLIENT


def test_every_required_scope_is_needed(key):
    policy = AccessTokenPolicy(ISSUER, AUDIENCE, ("airflow.api", "airflow.trigger"))
    error = rejection(sign(key, okta_claims(scp=["airflow.api"])), JwksCache(Published(key)), policy)
    assert error.reason == "missing_scope"
    assert "lacks the scope(s) airflow.trigger" in error.message
    assert error.client_id == CLIENT


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "malformed"),
        ("not-a-jwt", "malformed"),
        ("a.b", "malformed"),
        ("a.b.c", "malformed"),
        ("x" * (MAX_TOKEN_BYTES - 1) + "..", "malformed"),
        (unsigned({"alg": "none", "kid": "k1"}, okta_claims()), "alg_not_allowed"),
    ],
)
def test_shape_checks(key, token, reason):
    assert rejection(token, JwksCache(Published(key))).reason == reason


def test_hs256_signed_with_the_public_key_is_refused(key):
    # The classic algorithm-confusion attack: HMAC keyed with the RSA public key's bytes.
    signing_input = unsigned({"alg": "HS256", "kid": "k1"}, okta_claims())[:-1]
    mac = hmac.new(key.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert rejection(token, JwksCache(Published(key))).reason == "alg_not_allowed"


def test_bad_signature(key, other_key):
    forged = sign(other_key, okta_claims(), kid="k1")  # claims the issuer's kid, signed by someone else
    published = Published(key)
    assert rejection(forged, JwksCache(published)).reason == "bad_signature"
    assert published.calls == 1  # a known kid never triggers a re-fetch


def test_unknown_kid_refetches_once_and_accepts_a_rotated_key(key, other_key):
    published = Published(key)
    cache = JwksCache(published, clock=FakeClock(), min_refetch_interval=30)
    validate(sign(key, okta_claims()), cache)
    published.keys = [other_key]  # Okta rotated without notice
    assert validate(sign(other_key, okta_claims(), kid="k2"), cache).key_id == "k2"
    assert published.calls == 2


def test_unknown_kid_refetch_is_rate_limited(key, other_key):
    published = Published(key)
    clock = FakeClock()
    cache = JwksCache(published, clock=clock, min_refetch_interval=30)
    stranger = sign(other_key, okta_claims(), kid="k9")
    for _ in range(5):
        error = rejection(stranger, cache)
        assert error.reason == "unknown_key"
        assert "'k9'" in error.message
    assert published.calls == 2  # the first load, then one re-fetch for the unknown kid
    clock.t += 31
    rejection(stranger, cache)
    assert published.calls == 3


def test_no_kid_is_malformed_without_any_fetch(key, other_key):
    published = Published(key, other_key)
    error = rejection(sign(key, okta_claims(), kid=None), JwksCache(published))
    assert (error.reason, error.message) == ("malformed", "The access token has no 'kid' header; Okta always sets one.")
    assert published.calls == 0


def test_keys_unreachable_is_its_own_error(key):
    published = Published(key)
    published.fail = True
    with pytest.raises(OktaKeysUnavailable) as info:
        validate(sign(key, okta_claims()), JwksCache(published))
    assert info.value.http_status == 503


def test_refetch_failure_on_unknown_kid_is_unavailable_not_forged(key, other_key):
    published = Published(key)
    cache = JwksCache(published, clock=FakeClock(), min_refetch_interval=0)
    validate(sign(key, okta_claims()), cache)
    published.fail = True
    with pytest.raises(OktaKeysUnavailable):
        validate(sign(other_key, okta_claims(), kid="k2"), cache)
    published.fail = False
    assert validate(sign(key, okta_claims()), cache).client_id == CLIENT  # cached keys still serve


def test_a_policy_needs_a_required_scope():
    with pytest.raises(ValueError, match="required scope"):
        AccessTokenPolicy(ISSUER, AUDIENCE, ())


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("a.b.c", "malformed"),
        ("e30.e30.e30", "alg_not_allowed"),  # a header without alg
        ("!!!.e30.e30", "malformed"),
        (unsigned({"alg": "RS256", "kid": "k1"}, okta_claims()), "malformed"),  # no signature
        (unsigned({"alg": "RS256", "kid": "k1"}, okta_claims()) + "$ig", "malformed"),
        (unsigned({"alg": "HS256", "kid": "k1"}, okta_claims()) + "c2ln", "alg_not_allowed"),
        (unsigned({"alg": "RS256"}, okta_claims()) + "c2ln", "malformed"),  # no kid
        (unsigned({"alg": "RS256", "kid": 7}, okta_claims()) + "c2ln", "malformed"),
        (base64.urlsafe_b64encode(b"[1]").decode().rstrip("=") + ".e30.c2ln", "malformed"),
    ],
)
def test_malformed_bearer_tokens_never_fetch_keys(token, reason):
    """Junk costs no call to Okta: while its keys cannot be fetched, each would be two slow GETs."""
    published = Published()
    published.fail = True
    assert rejection(token, JwksCache(published, clock=FakeClock())).reason == reason
    assert published.calls == 0


def test_keys_unreachable_backs_off_instead_of_fetching_per_token(key):
    published = Published(key)
    published.fail = True
    clock = FakeClock()
    cache = JwksCache(published, clock=clock)
    token = sign(key, okta_claims())
    for _ in range(100):  # a burst of bot calls while Okta is down
        with pytest.raises(OktaKeysUnavailable):
            validate(token, cache)
    assert published.calls == 1
    clock.advance(1)
    with pytest.raises(OktaKeysUnavailable) as info:
        validate(token, cache)
    assert published.calls == 2
    assert "Try again in 2 s" in info.value.message
    published.fail = False
    clock.advance(2)
    assert validate(token, cache).client_id == CLIENT
    assert published.calls == 3
