"""A person's token through the adapter's checks (real signature, real settings), and the audit marks.

The sign-in itself (groups, mapping, account, audit rows) runs against a real api-server in
tests/integration/test_people_api.py and a real 2.11 webserver in tests/airflow2/test_people_api.py.
"""

from __future__ import annotations

import time

import pytest
from joserfc import jwt

from okta_security.adapter.people import ApiSignInFacts, verify_person_token
from okta_security.errors import AccessTokenRejected
from okta_security.settings.loader import load_settings
from tests.unit.bot_fakes import AUDIENCE, ISSUER, KEY, warm_keys

CLI = "0oacli0000000000000x"


def settings(tmp_path, cli: str = CLI):
    path = tmp_path / "okta_role_mapping.yaml"
    path.write_text("mappings:\n  airflow-admins: [Admin]\n")
    return load_settings(
        {
            "OKTA_ISSUER": ISSUER,
            "OKTA_CLIENT_ID": "0oaweb",
            "OKTA_CLIENT_SECRET": "web-secret",
            "OKTA_ROLE_MAPPING_FILE": str(path),
            "OKTA_BOT_AUDIENCE": AUDIENCE,
            "OKTA_CLI_CLIENT_ID": cli,
        }
    )


def person_token(**over: object) -> str:
    now = int(time.time())
    claims = {
        "jti": "AT.person.1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now - 5,
        "exp": now + 3600,
        "cid": CLI,
        "uid": "00uadmin000000000001",
        "sub": "alice.admin@example.com",
        "scp": ["airflow.api"],
    }
    claims.update(over)
    return jwt.encode({"alg": "RS256", "kid": KEY.kid}, claims, KEY)


def test_a_persons_token_is_verified_and_read(tmp_path, monkeypatch):
    warm_keys(monkeypatch)
    person = verify_person_token(person_token(), settings(tmp_path))
    assert (person.user_id, person.client_id, person.has_groups_claim) == ("00uadmin000000000001", CLI, False)


def test_an_expired_person_token_says_to_sign_in_again(tmp_path, monkeypatch):
    warm_keys(monkeypatch)
    now = int(time.time())
    with pytest.raises(AccessTokenRejected) as info:
        verify_person_token(person_token(iat=now - 7200, exp=now - 3600), settings(tmp_path))
    assert info.value.reason == "expired"
    assert "okta-airflow login" in info.value.message
    assert "client credentials" not in info.value.message


def test_people_disabled_is_refused_before_any_key_is_fetched(tmp_path, monkeypatch):
    fetched: list[int] = []
    warm_keys(monkeypatch, fetched)
    with pytest.raises(AccessTokenRejected) as info:
        verify_person_token(person_token(), settings(tmp_path, cli=""))
    assert info.value.reason == "people_disabled"
    assert fetched == []


def test_every_audit_event_of_an_api_sign_in_is_marked():
    facts = ApiSignInFacts(
        sub="00u1", jti="AT.1", client_id=CLI, via="POST /auth/token", context=(("request_id", "r-1"),)
    )
    assert facts.identifiers() == {
        "sub": "00u1",
        "jti": "AT.1",
        "sign_in": "api",
        "via": "POST /auth/token",
        "request_id": "r-1",
        "client_id": CLI,
    }
