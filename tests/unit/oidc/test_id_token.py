from __future__ import annotations

import base64
import itertools
import json
import threading
import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from okta_security.errors import OktaUnavailable, TokenValidationError
from okta_security.oidc.id_token import JwksCache, verify_id_token
from tests.unit.fake_clock import FakeClock

ISSUER = "https://dev-1.okta.com/oauth2/default"
CLIENT = "0oaclient"
NOW = 1_800_000_000


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


@pytest.fixture(scope="module")
def other_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k2"})


def jwks_of(*keys: RSAKey) -> dict:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def claims(**over):
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "00u1", "iat": NOW - 10, "exp": NOW + 3600, "nonce": "n-1"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def sign(key, payload, alg="RS256", kid="k1"):
    header = {"alg": alg}
    if kid:
        header["kid"] = kid
    return jwt.encode(header, payload, key)


def verify(token, cache, nonce="n-1"):
    return verify_id_token(token, jwks=cache, issuer=ISSUER, client_id=CLIENT, nonce=nonce, leeway=60, now=lambda: NOW)


def test_valid_token(key):
    cache = JwksCache(lambda: jwks_of(key))
    assert verify(sign(key, claims()), cache)["sub"] == "00u1"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (claims(iss="https://evil.okta.com"), "iss"),
        (claims(aud="someone-else"), "aud"),
        (claims(exp=NOW - 61), "expired"),
        (claims(iat=NOW + 120), "future"),
        (claims(sub=None), "sub"),
        (claims(exp=None), "exp"),
        (claims(iat=None), "iat"),
        (claims(nonce="other"), "nonce"),
        (claims(nonce=None), "nonce"),
        (claims(aud=[CLIENT, "other"]), "azp"),
    ],
)
def test_claim_checks(key, payload, reason):
    cache = JwksCache(lambda: jwks_of(key))
    with pytest.raises(TokenValidationError) as err:
        verify(sign(key, payload), cache)
    assert reason in err.value.reason
    assert err.value.code == "invalid_id_token"


def test_several_audiences_with_azp_ok(key):
    cache = JwksCache(lambda: jwks_of(key))
    assert verify(sign(key, claims(aud=[CLIENT, "x"], azp=CLIENT)), cache)


def test_leeway_accepts_small_skew(key):
    cache = JwksCache(lambda: jwks_of(key))
    assert verify(sign(key, claims(exp=NOW - 30, iat=NOW + 30)), cache)


def test_bad_signature(key, other_key):
    cache = JwksCache(lambda: jwks_of(key))
    forged = sign(other_key, claims(), kid="k1")
    with pytest.raises(TokenValidationError, match="bad signature"):
        verify(forged, cache)


def test_hs256_signed_with_client_secret_is_rejected(key):
    cache = JwksCache(lambda: jwks_of(key))
    token = jwt.encode({"alg": "HS256"}, claims(), OctKey.import_key("client-secret-" * 4))
    with pytest.raises(TokenValidationError):
        verify(token, cache)


def test_alg_none_is_rejected(key):
    import base64
    import json

    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    token = f"{b64({'alg': 'none'})}.{b64(claims())}."
    cache = JwksCache(lambda: jwks_of(key))
    with pytest.raises(TokenValidationError):
        verify(token, cache)


def test_unknown_kid_refetches_once_then_works(key, other_key):
    published = [jwks_of(key)]
    calls = []

    def fetch():
        calls.append(1)
        return published[-1]

    clock = FakeClock()
    cache = JwksCache(fetch, clock=clock, min_refetch_interval=30)
    assert verify(sign(key, claims()), cache)
    published.append(jwks_of(key, other_key))  # Okta rotated keys
    clock.t += 31
    assert verify(sign(other_key, claims(), kid="k2"), cache)
    assert len(calls) == 2


def test_unknown_kid_refetch_is_rate_limited(key, other_key):
    calls = []
    clock = FakeClock()
    cache = JwksCache(lambda: calls.append(1) or jwks_of(key), clock=clock, min_refetch_interval=30)
    for _ in range(5):
        with pytest.raises(TokenValidationError, match="key"):
            verify(sign(other_key, claims(), kid="k2"), cache)
    assert len(calls) == 2  # the first load, then one re-fetch for the unknown kid
    clock.t += 31
    with pytest.raises(TokenValidationError, match="key"):
        verify(sign(other_key, claims(), kid="k2"), cache)
    assert len(calls) == 3


def test_key_rotated_right_after_the_first_load_is_fetched_at_once(key, other_key):
    published = [jwks_of(key)]
    cache = JwksCache(lambda: published[-1], clock=FakeClock(), min_refetch_interval=30)
    assert verify(sign(key, claims()), cache)
    published.append(jwks_of(other_key))  # Okta rotated (and withdrew the old key) at once
    assert verify(sign(other_key, claims(), kid="k2"), cache)


def test_real_clock_default(key):
    cache = JwksCache(lambda: jwks_of(key))
    now = int(time.time())
    token = sign(key, claims(iat=now, exp=now + 60))
    assert verify_id_token(token, jwks=cache, issuer=ISSUER, client_id=CLIENT, nonce="n-1")["sub"] == "00u1"


def test_kid_absent_with_a_single_key_uses_it(key):
    cache = JwksCache(lambda: jwks_of(key))
    assert verify(sign(key, claims(), kid=None), cache)["sub"] == "00u1"


def test_kid_absent_with_several_keys_is_rejected_after_one_refetch(key, other_key):
    # rp-id_token-kid-absent-multiple-jwks: we reject rather than try every key (OIDC Core 10.1).
    calls = []
    cache = JwksCache(lambda: calls.append(1) or jwks_of(key, other_key), clock=FakeClock(), min_refetch_interval=30)
    with pytest.raises(TokenValidationError, match="no 'kid'") as err:
        verify(sign(key, claims(), kid=None), cache)
    assert "several keys" in err.value.reason
    assert len(calls) == 2  # the set may have shrunk to one key since it was cached


def test_kid_absent_after_the_set_shrank_to_one_key(key, other_key):
    published = [jwks_of(key, other_key)]
    cache = JwksCache(lambda: published[-1], clock=FakeClock(), min_refetch_interval=30)
    cache.get()
    published.append(jwks_of(key))
    assert verify(sign(key, claims(), kid=None), cache)["sub"] == "00u1"


def test_keys_are_reread_after_max_age_so_withdrawn_keys_stop_working(key, other_key):
    published = [jwks_of(key, other_key)]
    clock = FakeClock()
    cache = JwksCache(lambda: published[-1], clock=clock, max_age=3600)
    assert verify(sign(other_key, claims(), kid="k2"), cache)
    published.append(jwks_of(key))  # Okta withdrew k2
    clock.t += 3601
    with pytest.raises(TokenValidationError):
        verify(sign(other_key, claims(), kid="k2"), cache)


def test_failed_reread_after_max_age_keeps_the_cached_keys(key):
    state = {"fail": False}

    def fetch():
        if state["fail"]:
            raise OSError("okta down")
        return jwks_of(key)

    clock = FakeClock()
    cache = JwksCache(fetch, clock=clock, max_age=3600)
    assert verify(sign(key, claims()), cache)
    state["fail"] = True
    clock.t += 3601
    assert verify(sign(key, claims()), cache)


# --------------------------------------------------------------------------- malformed tokens, back-off


class FailingIssuer:
    """An issuer whose keys cannot be fetched (Okta down, a wrong issuer): counts the attempts."""

    def __init__(self, key: RSAKey | None = None) -> None:
        self.calls = 0
        self.down = True
        self.key = key

    def __call__(self) -> dict:
        self.calls += 1
        if self.down:
            raise ConnectionError("okta is down")
        return jwks_of(self.key)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_with_header(header: object) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(b'{}')}.{b64(b'sig')}"


MALFORMED = [
    pytest.param("a.b.c", id="not-base64-json"),
    pytest.param("", id="empty"),
    pytest.param("abc", id="one-segment"),
    pytest.param("a.b", id="two-segments"),
    pytest.param("a.b.c.d.e", id="five-segments"),
    pytest.param("e30.e30.", id="no-signature"),
    pytest.param("e30.e30.e30", id="header-without-alg"),
    pytest.param("!!!.e30.e30", id="not-base64url"),
    pytest.param(token_with_header(["RS256"]), id="header-not-an-object"),
    pytest.param(token_with_header({"alg": "HS256", "kid": "k1"}), id="hs256"),
    pytest.param(token_with_header({"alg": "none", "kid": "k1"}), id="alg-none"),
]


@pytest.mark.parametrize("token", MALFORMED)
def test_malformed_id_tokens_never_fetch_keys(token):
    issuer = FailingIssuer()
    cache = JwksCache(issuer, clock=FakeClock())
    with pytest.raises(TokenValidationError):
        verify(token, cache)
    assert issuer.calls == 0


def test_failed_fetches_back_off_doubling_up_to_a_minute(key):
    issuer = FailingIssuer(key)
    clock = FakeClock()
    cache = JwksCache(issuer, clock=clock)
    token = sign(key, claims())
    attempts_at = []
    for _ in range(400):  # 400 logins, one every 0.5 s, while Okta is down
        before = issuer.calls
        with pytest.raises(OktaUnavailable):
            verify(token, cache)
        if issuer.calls > before:
            attempts_at.append(clock.t)
        clock.advance(0.5)
    gaps = [b - a for a, b in itertools.pairwise(attempts_at)]
    assert gaps[:7] == [1, 2, 4, 8, 16, 32, 60]
    assert set(gaps[7:]) == {60}
    issuer.down = False  # Okta is back: the first login after the pause loads the keys
    clock.advance(60)
    assert verify(token, cache)["sub"] == "00u1"
    calls = issuer.calls
    assert verify(token, cache)["sub"] == "00u1"
    assert issuer.calls == calls


def test_a_failed_rotation_refetch_backs_off_and_keeps_the_cached_keys(key, other_key):
    issuer = FailingIssuer(key)
    issuer.down = False
    clock = FakeClock()
    cache = JwksCache(issuer, clock=clock, min_refetch_interval=1)
    assert verify(sign(key, claims()), cache)
    issuer.down = True
    for _ in range(19):  # unknown kid while Okta is down: one try, then a pause
        with pytest.raises((OktaUnavailable, TokenValidationError)):
            verify(sign(other_key, claims(), kid="k2"), cache)
        clock.advance(0.05)
    assert issuer.calls == 2
    assert verify(sign(key, claims()), cache)["sub"] == "00u1"  # the cached key still works


def test_other_callers_do_not_wait_for_a_key_fetch_in_flight(key):
    """A slow re-read of the keys (10 s timeout) must not hold every other login behind a lock."""
    release, fetching = threading.Event(), threading.Event()
    slow = {"on": False}

    def fetch() -> dict:
        if slow["on"]:
            fetching.set()
            release.wait(10)
        return jwks_of(key)

    clock = FakeClock()
    cache = JwksCache(fetch, clock=clock, max_age=3600)
    token = sign(key, claims())
    assert verify(token, cache)
    slow["on"] = True
    clock.advance(3601)  # the keys are due for their hourly re-read
    rereader = threading.Thread(target=cache.get)
    rereader.start()
    assert fetching.wait(5)
    try:
        done = []
        other = threading.Thread(target=lambda: done.append(verify(token, cache)))
        other.start()
        other.join(2)
        assert done, "a login waited for another thread's key fetch"
    finally:
        release.set()
        rereader.join(5)
