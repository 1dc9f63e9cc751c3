"""Tests for okta_security.lifecycle.universal_logout: every refusal changes nothing; JWTs signed for real."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from okta_security.errors import LogoutMalformed, LogoutUnauthorized, LogoutUnavailable, LogoutUnknownSubject
from okta_security.lifecycle.universal_logout import (
    MAX_LIFETIME_SECONDS,
    LogoutSubject,
    SignedOutAccount,
    UniversalLogout,
    began_before,
    parse_subject,
)
from okta_security.oidc.id_token import JwksCache

ORG = "https://dev-1.okta.com"
ISSUER = f"{ORG}/oauth2/default"
AUDIENCE = "https://airflow.example.com/auth/okta/global-token-revocation"
NOW = 1_800_000_000
ANN = SignedOutAccount(7, "ann@example.com")
ANN_SUB = "00uann0000000000000a"


@pytest.fixture(scope="module")
def org_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "org1"})


@pytest.fixture(scope="module")
def other_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "org1"})  # same kid, another key: a forgery


@dataclass
class MemoryStore:
    """The LogoutStore port over dicts: accounts by subject, not-before times, used jtis."""

    accounts: dict[tuple[str, str], list[SignedOutAccount]] = field(default_factory=dict)
    not_before: dict[int, datetime] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def accounts_for(self, subject: LogoutSubject) -> list[SignedOutAccount]:
        key = (subject.format, subject.value.lower() if subject.format == "email" else subject.value)
        return self.accounts.get(key, [])

    def sign_out(self, accounts, *, not_before, jti, jti_expires_at) -> bool:
        if jti in self.used:
            return False
        self.used.add(jti)
        for account in accounts:
            self.not_before[account.user_id] = not_before
        return True


def make_service(org_key: RSAKey, store: MemoryStore, *, keys_fail: bool = False) -> UniversalLogout:
    def fetch():
        if keys_fail:
            raise ConnectionError("org unreachable")
        return {"keys": [org_key.as_dict(private=False)]}

    return UniversalLogout(
        keys=JwksCache(fetch),
        store=store,
        org=ORG,
        audience=AUDIENCE,
        issuer=ISSUER,
        leeway=60,
        clock=lambda: NOW + 0.25,
    )


def signed(key: RSAKey, **changes) -> str:
    claims = {"iss": ORG, "sub": "airflow-app", "aud": AUDIENCE, "iat": NOW, "exp": NOW + 300}
    claims["jti"] = uuid.uuid4().hex
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def unsigned(**claims) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'iss': ORG, 'aud': AUDIENCE, **claims})}."


ISS_SUB = {"sub_id": {"format": "iss_sub", "iss": ORG, "sub": ANN_SUB}}
EMAIL = {"sub_id": {"format": "email", "email": "Ann@Example.com"}}


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(accounts={("iss_sub", ANN_SUB): [ANN], ("email", "ann@example.com"): [ANN]})


@pytest.mark.parametrize("body", [ISS_SUB, EMAIL], ids=["iss_sub", "email"])
def test_a_valid_request_signs_the_account_out_from_now(org_key, store, body):
    done = make_service(org_key, store).handle(f"Bearer {signed(org_key, jti='j-1')}", body)
    assert done.accounts == (ANN,)
    assert done.assertion.jti == "j-1"
    assert store.not_before == {7: datetime.fromtimestamp(NOW + 0.25, timezone.utc)}
    assert store.used == {"j-1"}


def test_an_iss_sub_may_name_the_custom_authorization_server_too(org_key, store):
    body = {"sub_id": {"format": "iss_sub", "iss": ISSUER, "sub": ANN_SUB}}
    assert make_service(org_key, store).handle(f"Bearer {signed(org_key)}", body).accounts == (ANN,)


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "no_bearer"),
        ("Basic dXNlcjpwdw==", "no_bearer"),
        ("Bearer ", "no_bearer"),
        ("Bearer not-a-jwt", "malformed"),
        ("unsigned", "alg_not_allowed"),
        ("wrong_key", "bad_signature"),
        ("wrong_aud", "bad_aud"),
        ("several_aud", "bad_aud"),
        ("wrong_iss", "bad_iss"),
        ("custom_server_iss", "bad_iss"),
        ("expired", "expired"),
        ("future_iat", "bad_iat"),
        ("too_long", "lifetime_too_long"),
        ("no_jti", "missing_claims"),
        ("huge_jti", "bad_jti"),
        ("no_sub", "missing_claims"),
    ],
)
def test_a_bad_jwt_is_refused_with_401_and_changes_nothing(org_key, other_key, store, authorization, reason):
    tokens = {
        "unsigned": f"Bearer {unsigned(sub='x', jti='j', iat=NOW, exp=NOW + 60)}",
        "wrong_key": f"Bearer {signed(other_key)}",
        "wrong_aud": f"Bearer {signed(org_key, aud='https://evil.example.com/auth/okta/global-token-revocation')}",
        "several_aud": f"Bearer {signed(org_key, aud=[AUDIENCE, 'https://other.example.com'])}",
        "wrong_iss": f"Bearer {signed(org_key, iss='https://evil.okta.com')}",
        "custom_server_iss": f"Bearer {signed(org_key, iss=ISSUER)}",
        "expired": f"Bearer {signed(org_key, iat=NOW - 400, exp=NOW - 100)}",
        "future_iat": f"Bearer {signed(org_key, iat=NOW + 120, exp=NOW + 300)}",
        "too_long": f"Bearer {signed(org_key, exp=NOW + MAX_LIFETIME_SECONDS + 1)}",
        "no_jti": f"Bearer {signed(org_key, jti=None)}",
        "huge_jti": f"Bearer {signed(org_key, jti='j' * 200)}",
        "no_sub": f"Bearer {signed(org_key, sub=None)}",
    }
    with pytest.raises(LogoutUnauthorized) as refused:
        make_service(org_key, store).handle(tokens.get(authorization or "", authorization), ISS_SUB)
    assert (refused.value.reason, refused.value.status, refused.value.code) == (reason, 401, "logout_unauthorized")
    assert store.not_before == {}
    assert store.used == set()


def test_a_replayed_jti_is_refused_and_changes_nothing_more(org_key, store):
    service = make_service(org_key, store)
    service.handle(f"Bearer {signed(org_key, jti='once')}", ISS_SUB)
    first = dict(store.not_before)
    with pytest.raises(LogoutUnauthorized) as refused:
        service.handle(f"Bearer {signed(org_key, jti='once')}", EMAIL)
    assert refused.value.reason == "replayed_jti"
    assert refused.value.jti == "once"  # the audit trail names the replayed request
    assert store.not_before == first


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, "no_sub_id"),
        ([], "no_sub_id"),
        ({"sub_id": "ann"}, "no_sub_id"),
        ({"sub_id": {"format": "opaque", "id": "x"}}, "unsupported_format"),
        ({"sub_id": {"format": "email"}}, "bad_email"),
        ({"sub_id": {"format": "email", "email": "no-at-sign"}}, "bad_email"),
        ({"sub_id": {"format": "email", "email": "a@" + "b" * 400}}, "bad_email"),
        ({"sub_id": {"format": "iss_sub", "iss": ORG}}, "bad_sub"),
        ({"sub_id": {"format": "iss_sub", "sub": ANN_SUB}}, "bad_iss"),
        ({"sub_id": {"format": "iss_sub", "iss": ORG, "sub": 42}}, "bad_sub"),
    ],
)
def test_a_malformed_body_is_refused_with_400_and_changes_nothing(org_key, store, body, reason):
    with pytest.raises(LogoutMalformed) as refused:
        make_service(org_key, store).handle(f"Bearer {signed(org_key)}", body)
    assert (refused.value.reason, refused.value.status) == (reason, 400)
    assert store.not_before == {}
    assert store.used == set()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"sub_id": {"format": "iss_sub", "iss": ORG, "sub": "00unobody00000000000"}}, "no_account"),
        ({"sub_id": {"format": "email", "email": "nobody@example.com"}}, "no_account"),
        ({"sub_id": {"format": "iss_sub", "iss": "https://other.okta.com", "sub": ANN_SUB}}, "foreign_issuer"),
    ],
)
def test_an_unknown_subject_is_refused_with_404_and_changes_nothing(org_key, store, body, reason):
    with pytest.raises(LogoutUnknownSubject) as refused:
        make_service(org_key, store).handle(f"Bearer {signed(org_key)}", body)
    assert (refused.value.reason, refused.value.status) == (reason, 404)
    assert store.not_before == {}
    assert store.used == set()


def test_unreachable_org_keys_answer_503_and_change_nothing(org_key, store):
    with pytest.raises(LogoutUnavailable) as refused:
        make_service(org_key, store, keys_fail=True).handle(f"Bearer {signed(org_key)}", ISS_SUB)
    assert refused.value.status == 503
    assert store.not_before == {}


def test_a_body_is_read_only_after_the_jwt_verifies(org_key, other_key, store):
    """An unauthenticated caller learns nothing about subjects (no 404 versus 400 oracle)."""
    with pytest.raises(LogoutUnauthorized):
        make_service(org_key, store).handle(f"Bearer {signed(other_key)}", {"sub_id": {"format": "x"}})


def test_parse_subject_keeps_the_email_and_the_issuer_without_its_trailing_slash():
    assert parse_subject(EMAIL, issuers=frozenset({ORG})) == LogoutSubject("email", "Ann@Example.com")
    body = {"sub_id": {"format": "iss_sub", "iss": ORG + "/", "sub": ANN_SUB}}
    assert parse_subject(body, issuers=frozenset({ORG})) == LogoutSubject("iss_sub", ANN_SUB, iss=ORG)


@pytest.mark.parametrize(
    ("not_before", "started_at", "whole_seconds", "before"),
    [
        (100.5, 100.4, False, True),
        (100.5, 100.6, False, False),
        (100.5, 100, True, True),  # iat 100 may be 100.4: the sign-out's own second counts as before
        (100.5, 101, True, False),
        (100.0, 100, True, False),  # a whole-second sign-out: a token of that second came after it
        (100.0, 99, True, True),
    ],
)
def test_began_before(not_before, started_at, whole_seconds, before):
    assert began_before(not_before, started_at, whole_seconds=whole_seconds) is before
    stamped = datetime.fromtimestamp(not_before, timezone.utc)
    assert began_before(stamped, started_at, whole_seconds=whole_seconds) is before
