"""The token doors: a person's token and a bot's through their checks (real signatures, real settings).

The sign-in itself (groups, mapping, account, audit rows) runs against a real api-server in
tests/integration/test_people_api.py and test_bots.py, and a real 2.11 webserver in tests/airflow2.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import responses
from joserfc import jwt

from okta_security.adapter.bots import SERVICE_LAST_NAME, retire_service_users
from okta_security.audit import register_sink, unregister_sink
from okta_security.errors import AccessTokenRejected, OktaKeysUnavailable, UnmappedClient
from okta_security.login.doors import ApiLoginAuditFields, BotLogin, PersonDoor, audit_exchange
from okta_security.mapping.rules import parse_mapping
from okta_security.oidc import keys
from okta_security.settings.loader import load_settings
from tests.unit.bot_fakes import (
    AUDIENCE,
    ISSUER,
    KEY,
    FakeSecurityManager,
    authenticate_bot,
    bot_door,
    okta_token,
    settings_and_store,
    warm_keys,
)


def verify_person_token(token: str, settings):
    door = PersonDoor(
        service=SimpleNamespace(),  # verification reads no account
        settings=settings,
        keys=keys.keys_for(settings.access_token_issuer, timeout=5, min_refetch_interval=60),
        limit=None,
        events=None,
    )
    return door.verify(token)


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
    facts = ApiLoginAuditFields(
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


# --------------------------------------------------------------------------- the whole exchange


def test_authenticate_bot_end_to_end(tmp_path, monkeypatch):
    fetches: list[int] = []
    warm_keys(monkeypatch, fetches)
    settings, store = settings_and_store(tmp_path)
    sm = FakeSecurityManager()
    for _ in range(3):
        login = authenticate_bot(
            okta_token(scopes=("airflow.api", "airflow.trigger")),
            settings=settings,
            mapping=store.current(),
            security_manager=sm,
        )
    assert login.user.username == "svc-ci+user"
    assert login.grant.roles == {"Viewer", "User"}
    assert login.token.client_id == "ci-bot"
    assert len(fetches) == 1


def test_tokens_of_one_client_with_other_scopes_act_as_other_users(tmp_path, monkeypatch):
    """The narrow token's user keeps its roles whatever a broader token of the same client earned since."""
    warm_keys(monkeypatch)
    settings, store = settings_and_store(tmp_path)
    sm = FakeSecurityManager()

    def exchange(*scopes: str) -> BotLogin:
        return authenticate_bot(
            okta_token(scopes=scopes), settings=settings, mapping=store.current(), security_manager=sm
        )

    narrow = exchange("airflow.api")
    broad = exchange("airflow.api", "airflow.trigger")
    again = exchange("airflow.api")
    assert (narrow.user.username, broad.user.username, again.user.username) == ("svc-ci", "svc-ci+user", "svc-ci")
    assert narrow.user is again.user
    assert [r.name for r in narrow.user.roles] == ["Viewer"]
    assert sorted(r.name for r in broad.user.roles) == ["User", "Viewer"]
    assert broad.user.email == "ci-bot+user@okta-clients.invalid"
    assert sm.updates == 0  # no exchange rewrote another token's roles


def test_service_users_the_mapping_no_longer_gives_are_retired_and_come_back(tmp_path, monkeypatch):
    warm_keys(monkeypatch)
    settings, store = settings_and_store(tmp_path)
    sm = FakeSecurityManager()
    human = sm.add_human("alice", "alice@example.com")
    for scopes in (("airflow.api",), ("airflow.api", "airflow.trigger")):
        authenticate_bot(okta_token(scopes=scopes), settings=settings, mapping=store.current(), security_manager=sm)
    admin_deactivated = sm.add_human("svc-old", "old-bot@okta-clients.invalid", roles=("Viewer",))
    admin_deactivated.active = False
    records = []
    register_sink("test_retire", records.append)
    try:
        assert retire_service_users(sm, store.current(), trigger="test") == []  # all still given
        without = parse_mapping("mappings:\n  airflow-admins: [Admin]\n", source="without-clients.yaml")
        assert sorted(retire_service_users(sm, without, trigger="mapping reload")) == ["svc-ci", "svc-ci+user"]
    finally:
        unregister_sink("test_retire")
    assert human.active
    assert not admin_deactivated.active
    assert [(r.event, r.owner, r.fields["reason"]) for r in records] == [
        ("bot.service_user_retired", "svc-ci", "client_removed"),
        ("bot.service_user_retired", "svc-ci+user", "client_removed"),
    ]
    # The client is mapped again: its next exchange brings the retired user back (an admin's deactivation
    # of the same user would keep it out, see test_a_deactivated_service_user_stays_deactivated).
    login = authenticate_bot(okta_token(), settings=settings, mapping=store.current(), security_manager=sm)
    assert (login.user.username, login.user.active, login.reactivated) == ("svc-ci", True, True)
    assert login.user.last_name == SERVICE_LAST_NAME


@pytest.mark.parametrize(
    ("token", "error", "code"),
    [
        (okta_token(aud="api://default"), AccessTokenRejected, "invalid_access_token"),
        (okta_token(scopes=("other",)), AccessTokenRejected, "invalid_access_token"),
        (okta_token(client_id="stranger"), UnmappedClient, "unmapped_client"),
    ],
)
def test_authenticate_bot_refusals(tmp_path, monkeypatch, token, error, code):
    warm_keys(monkeypatch)
    settings, store = settings_and_store(tmp_path)
    sm = FakeSecurityManager()
    with pytest.raises(error) as info:
        authenticate_bot(token, settings=settings, mapping=store.current(), security_manager=sm)
    assert info.value.code == code
    assert sm.users == []


@responses.activate
def test_keys_of_another_issuer_are_never_trusted(tmp_path, monkeypatch):
    responses.get(
        f"{ISSUER}/.well-known/openid-configuration",
        json={"issuer": "https://evil.example/oauth2/default", "jwks_uri": "https://evil.example/keys"},
    )
    monkeypatch.setattr(keys, "_caches", {})
    settings, store = settings_and_store(tmp_path)
    with pytest.raises(OktaKeysUnavailable) as info:
        authenticate_bot(okta_token(), settings=settings, mapping=store.current(), security_manager=None)
    assert info.value.http_status == 503
    assert len(responses.calls) == 1  # the keys of the other issuer were not even fetched


def test_audit_events_carry_no_token(tmp_path, monkeypatch):
    warm_keys(monkeypatch)
    settings, store = settings_and_store(tmp_path)
    records = []
    register_sink("test_bots", records.append)
    try:
        token = okta_token()
        login = authenticate_bot(
            token, settings=settings, mapping=store.current(), security_manager=FakeSecurityManager()
        )
        audit_exchange(login, via="test", request_id="r-1")
        with pytest.raises(AccessTokenRejected):  # a mapped client's token without the required scope
            bot_door(settings, store.current(), FakeSecurityManager()).admit(
                okta_token(scopes=("other",)), via="test", facts={"request_id": "r-2"}
            )
    finally:
        unregister_sink("test_bots")
    exchanged, refusal = records
    assert (exchanged.event, exchanged.owner) == ("bot.token_exchanged", "svc-ci")
    assert exchanged.fields["client_id"] == "ci-bot"
    assert exchanged.fields["token_jti"].startswith("AT.")
    assert exchanged.fields["service_user_created"] is True
    assert exchanged.fields["request_id"] == "r-1"
    assert token not in exchanged.to_json()
    assert (refusal.event, refusal.owner, refusal.fields["reason"]) == (
        "bot.token_refused",
        "svc-ci",
        "invalid_access_token",
    )
    assert (refusal.fields["client_id"], refusal.fields["request_id"]) == ("ci-bot", "r-2")
