"""okta_security.adapter.bots: token -> client grant -> service user, on an in-memory user store."""

from __future__ import annotations

import pytest
import responses

from okta_security.adapter import bots
from okta_security.bots.service_users import ServiceIdentity, service_identity
from okta_security.errors import (
    AccessTokenRejected,
    OktaKeysUnavailable,
    ServiceUserConflict,
    ServiceUserInactive,
    UnmappedClient,
)
from okta_security.mapping.bots import ClientRule
from okta_security.oidc import keys
from tests.unit.bot_fakes import ISSUER, KEY, FakeSecurityManager, FakeUser, okta_token

RULE = ClientRule("ci-bot", "svc-ci", ("Viewer",), {"airflow.trigger": ("User",)}, line=5)
GRANT = service_identity(RULE, {"Viewer"})


def identity(username: str = "svc-ci", roles: frozenset[str] = frozenset({"Viewer"})) -> ServiceIdentity:
    """The plain service user of ci-bot, with other roles or another name (a changed mapping)."""
    return ServiceIdentity("ci-bot", username, "ci-bot@okta-clients.invalid", roles, "")


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


@responses.activate
def test_fetch_jwks_follows_discovery():
    responses.get(
        f"{ISSUER}/.well-known/openid-configuration", json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/v1/keys"}
    )
    responses.get(f"{ISSUER}/v1/keys", json={"keys": [KEY.as_dict(private=False)]})
    assert keys.fetch_jwks(ISSUER, 5)["keys"][0]["kid"] == KEY.kid


@responses.activate
def test_an_unreachable_issuer_is_asked_again_only_after_a_pause():
    """Discovery failing (Okta down, a wrong OKTA_BOT_ISSUER): back off, doubling, not one fetch per token."""
    from okta_security.bots.client_tokens import validate_access_token
    from okta_security.oidc.access_token import AccessTokenPolicy
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
