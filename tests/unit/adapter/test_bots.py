"""okta_security.adapter.bots: token -> client grant -> service user, on an in-memory user store."""

from __future__ import annotations

import pytest
import responses

from okta_security.adapter import bots
from okta_security.audit import register_sink, unregister_sink
from okta_security.bots.service_users import ServiceIdentity, service_identity
from okta_security.errors import (
    AccessTokenRejected,
    OktaKeysUnavailable,
    ServiceUserConflict,
    ServiceUserInactive,
    UnmappedClient,
)
from okta_security.mapping.bots import ClientRule
from okta_security.mapping.rules import parse_mapping
from okta_security.oidc import keys
from tests.unit.bot_fakes import ISSUER, KEY, FakeSecurityManager, FakeUser, okta_token, settings_and_store, warm_keys

RULE = ClientRule("ci-bot", "svc-ci", ("Viewer",), {"airflow.trigger": ("User",)}, line=5)
GRANT = service_identity(RULE, {"Viewer"})


def identity(username: str = "svc-ci", roles: frozenset[str] = frozenset({"Viewer"})) -> ServiceIdentity:
    """The plain service user of ci-bot, with other roles or another name (a changed mapping)."""
    return ServiceIdentity("ci-bot", username, "ci-bot@okta-clients.invalid", roles, "")


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ({"authorization": "Bearer abc.def.ghi"}, "abc.def.ghi"),
        ({"Authorization": "bearer   abc.def.ghi  "}, "abc.def.ghi"),
        ({"AUTHORIZATION": "BEARER x"}, "x"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, None),
        ({"authorization": ""}, None),
        ({}, None),
    ],
)
def test_bearer_token(headers, token):
    assert bots.bearer_token(headers) == token


def test_request_facts_keep_only_sane_values():
    facts = bots.request_facts({"X-Request-Id": "req-1", "X-Forwarded-For": "10.0.0.1, 10.0.0.2"})
    assert facts == {"request_id": "req-1", "forwarded_for": "10.0.0.1, 10.0.0.2"}
    assert bots.request_facts({"x-request-id": "bad\nvalue", "x-forwarded-for": "x" * 300}) == {}


def test_www_authenticate_is_header_safe():
    header = bots.www_authenticate("invalid_token", 'a "quoted" \\ value — with\nnewline')
    assert header == (
        'Bearer realm="Airflow", error="invalid_token", error_description="a \'quoted\' \' value   with newline"'
    )
    header.encode("latin-1")


# --------------------------------------------------------------------------- service users


def test_first_exchange_creates_a_passwordless_service_user():
    sm = FakeSecurityManager()
    user, created, before, reactivated = bots.upsert_service_user(sm, GRANT)
    assert (created, before, reactivated) == (True, None, False)
    assert (user.username, user.email, user.password, user.active) == (
        "svc-ci",
        "ci-bot@okta-clients.invalid",
        None,
        True,
    )
    assert [r.name for r in user.roles] == ["Viewer"]


def test_unchanged_roles_write_nothing():
    sm = FakeSecurityManager()
    bots.upsert_service_user(sm, GRANT)
    commits = sm.session.commits
    user, created, before, _ = bots.upsert_service_user(sm, GRANT)
    assert (created, before, sm.session.commits, sm.updates) == (False, ("Viewer",), commits, 0)


def test_changed_roles_are_written():
    sm = FakeSecurityManager()
    bots.upsert_service_user(sm, GRANT)
    user, _, before, _ = bots.upsert_service_user(sm, identity(roles=frozenset({"Op", "User"})))
    assert before == ("Viewer",)
    assert sorted(r.name for r in user.roles) == ["Op", "User"]
    assert sm.updates == 1


def test_a_renamed_client_keeps_its_user():
    sm = FakeSecurityManager()
    first, _, _, _ = bots.upsert_service_user(sm, GRANT)
    renamed, created, _, _ = bots.upsert_service_user(sm, identity("svc-ci-pipeline"))
    assert (renamed is first, created, renamed.username) == (True, False, "svc-ci-pipeline")
    assert len(sm.users) == 1


def test_a_same_named_user_of_someone_else_is_never_taken_over():
    sm = FakeSecurityManager()
    human = sm.add_human("SVC-CI", "root@example.com")
    with pytest.raises(ServiceUserConflict) as info:
        bots.upsert_service_user(sm, GRANT)
    assert "'SVC-CI' already exists and does not belong to Okta client 'ci-bot'" in info.value.message
    assert [r.name for r in human.roles] == ["Admin"]
    assert human.email == "root@example.com"


def test_a_deactivated_service_user_stays_deactivated():
    sm = FakeSecurityManager()
    user, _, _, _ = bots.upsert_service_user(sm, GRANT)
    user.active = False
    with pytest.raises(ServiceUserInactive):
        bots.upsert_service_user(sm, identity(roles=frozenset({"Admin"})))
    assert (user.active, [r.name for r in user.roles]) == (False, ["Viewer"])


def test_a_concurrent_first_exchange_reuses_the_winner():
    sm = FakeSecurityManager()
    winner = FakeUser(
        None, "svc-ci", "svc-ci", "(Okta client)", "ci-bot@okta-clients.invalid", roles=[sm.roles["Viewer"]]
    )
    sm.session.before_commit.append(lambda: sm.users.append(winner))  # another request commits first
    user, created, before, _ = bots.upsert_service_user(sm, GRANT)
    assert (user is winner, created, before) == (True, False, ("Viewer",))
    assert len(sm.users) == 1


def test_roles_deleted_from_airflow():
    sm = FakeSecurityManager(role_names=("Viewer",))
    user, _, _, _ = bots.upsert_service_user(sm, identity(roles=frozenset({"Viewer", "Gone"})))
    assert [r.name for r in user.roles] == ["Viewer"]
    with pytest.raises(UnmappedClient, match="no longer exist in Airflow"):
        bots.upsert_service_user(sm, identity(roles=frozenset({"Gone"})))


# --------------------------------------------------------------------------- the whole exchange


def test_authenticate_bot_end_to_end(tmp_path, monkeypatch):
    fetches: list[int] = []
    warm_keys(monkeypatch, fetches)
    settings, store = settings_and_store(tmp_path)
    sm = FakeSecurityManager()
    for _ in range(3):
        login = bots.authenticate_bot(
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

    def exchange(*scopes: str) -> bots.BotLogin:
        return bots.authenticate_bot(
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
        bots.authenticate_bot(
            okta_token(scopes=scopes), settings=settings, mapping=store.current(), security_manager=sm
        )
    admin_deactivated = sm.add_human("svc-old", "old-bot@okta-clients.invalid", roles=("Viewer",))
    admin_deactivated.active = False
    records = []
    register_sink("test_retire", records.append)
    try:
        assert bots.retire_service_users(sm, store.current(), trigger="test") == []  # all still given
        without = parse_mapping("mappings:\n  airflow-admins: [Admin]\n", source="without-clients.yaml")
        assert sorted(bots.retire_service_users(sm, without, trigger="mapping reload")) == ["svc-ci", "svc-ci+user"]
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
    login = bots.authenticate_bot(okta_token(), settings=settings, mapping=store.current(), security_manager=sm)
    assert (login.user.username, login.user.active, login.reactivated) == ("svc-ci", True, True)
    assert login.user.last_name == bots.SERVICE_LAST_NAME


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
        bots.authenticate_bot(token, settings=settings, mapping=store.current(), security_manager=sm)
    assert info.value.code == code
    assert sm.users == []


@responses.activate
def test_fetch_jwks_follows_discovery():
    responses.get(
        f"{ISSUER}/.well-known/openid-configuration", json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/v1/keys"}
    )
    responses.get(f"{ISSUER}/v1/keys", json={"keys": [KEY.as_dict(private=False)]})
    assert keys.fetch_jwks(ISSUER, 5)["keys"][0]["kid"] == KEY.kid


@responses.activate
def test_keys_of_another_issuer_are_never_trusted(tmp_path, monkeypatch):
    responses.get(
        f"{ISSUER}/.well-known/openid-configuration",
        json={"issuer": "https://evil.example/oauth2/default", "jwks_uri": "https://evil.example/keys"},
    )
    monkeypatch.setattr(keys, "_caches", {})
    settings, store = settings_and_store(tmp_path)
    with pytest.raises(OktaKeysUnavailable) as info:
        bots.authenticate_bot(okta_token(), settings=settings, mapping=store.current(), security_manager=None)
    assert info.value.http_status == 503
    assert len(responses.calls) == 1  # the keys of the other issuer were not even fetched


def test_audit_events_carry_no_token(tmp_path, monkeypatch):
    warm_keys(monkeypatch)
    settings, store = settings_and_store(tmp_path)
    records = []
    register_sink("test_bots", records.append)
    try:
        token = okta_token()
        login = bots.authenticate_bot(
            token, settings=settings, mapping=store.current(), security_manager=FakeSecurityManager()
        )
        bots.audit_exchange(login, via="test", request_id="r-1")
        refused = UnmappedClient("no", client_id="ci-bot")
        bots.audit_refusal(refused, via="test", mapping=store.current())
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
        "unmapped_client",
    )


@responses.activate
def test_an_unreachable_issuer_is_asked_again_only_after_a_pause():
    """Discovery failing (Okta down, a wrong OKTA_BOT_ISSUER): back off, doubling, not one fetch per token."""
    from okta_security.bots.access_tokens import AccessTokenPolicy, validate_access_token
    from okta_security.oidc.id_token import JwksCache
    from tests.unit.fake_clock import FakeClock

    discovery = responses.get(f"{ISSUER}/.well-known/openid-configuration", status=503)
    clock = FakeClock()
    cache = JwksCache(lambda: keys.fetch_jwks(ISSUER, 1.0), clock=clock, min_refetch_interval=1)
    policy = AccessTokenPolicy(issuer=ISSUER, audience="api://airflow", required_scopes=("airflow.api",))
    token = okta_token()
    for _ in range(60):  # one bot call every 0.5 s for 30 s
        with pytest.raises(OktaKeysUnavailable):
            validate_access_token(token, jwks=cache, policy=policy)
        clock.advance(0.5)
    assert discovery.call_count == 5  # at 0, 1, 3, 7 and 15 s
    for junk in ("a.b.c", "Bearer", "x" * 40):
        with pytest.raises(AccessTokenRejected):
            validate_access_token(junk, jwks=cache, policy=policy)
    assert discovery.call_count == 5
