"""Tests for okta_security.login.service: the one sign-in every door shares, over fake ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from okta_security.errors import NoMappedRole, OktaUnavailable, StaleToken
from okta_security.lifecycle.evidence import AccountTimes, SignInEvidence
from okta_security.login.account_plan import AccountLookup, AccountPlan, ExistingAccount, LinkSnapshot
from okta_security.login.decision import LoginPolicy
from okta_security.login.outcome import LoginAuditFields
from okta_security.login.ports import AppliedAccount
from okta_security.login.service import SignInService, TokenRef
from okta_security.mapping.patterns import GroupFilter
from okta_security.mapping.rules import RoleMapping, parse_mapping

if TYPE_CHECKING:
    from okta_security.oidc.identity import OktaIdentity

MAPPING = parse_mapping("default_role: null\nmappings:\n  airflow-admins: [Admin]\n", source="map.yaml")
SUB = "00uann000000000000001"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
CLAIMS = {"sub": SUB, "preferred_username": "ann@example.com", "email": "ann@example.com", "groups": ["airflow-admins"]}


@dataclass
class FakeAccounts:
    existing: ExistingAccount | None = None
    lose_first_race: bool = False
    applied: list[AccountPlan] = field(default_factory=list)
    deactivated: list[tuple[str, SignInEvidence]] = field(default_factory=list)

    def role_names(self) -> frozenset[str]:
        return frozenset({"Admin", "Viewer"})

    def look_up(self, identity: OktaIdentity) -> AccountLookup:
        return AccountLookup(by_username=self.existing)

    def apply(self, plan: AccountPlan, identity: OktaIdentity, evidence: SignInEvidence) -> AppliedAccount[str] | None:
        self.applied.append(plan)
        if self.lose_first_race and len(self.applied) == 1:
            self.existing = ExistingAccount(user_id=5, username=identity.username, email=identity.email)
            return None
        return AppliedAccount(f"user:{identity.username}", plan.user_id or 5, identity.username)

    def deactivate_unmapped(self, identity: OktaIdentity, mapping: RoleMapping, evidence: SignInEvidence) -> list[str]:
        self.deactivated.append((identity.sub, evidence))
        return ["applied"]


@dataclass
class FakeOkta:
    groups: tuple[str, ...] = ("airflow-admins",)
    status: str | Exception = "ACTIVE"
    calls: list[str] = field(default_factory=list)

    def user_groups(self, identity: OktaIdentity) -> tuple[str, ...]:
        self.calls.append("groups")
        return self.groups

    def user_status(self, identity: OktaIdentity) -> str:
        self.calls.append("status")
        if isinstance(self.status, Exception):
            raise self.status
        return self.status


@dataclass
class FakeAudit:
    events: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, event: str, facts: LoginAuditFields, *, owner: str | None, **fields: Any) -> None:
        self.events.append((event, owner, fields))


def service(accounts: FakeAccounts, okta: FakeOkta | None = None, source: str = "auto") -> SignInService[str]:
    return SignInService(
        accounts=accounts,
        okta=okta,
        mapping=lambda: MAPPING,
        policy=LoginPolicy(groups_source=source, groups_filter=GroupFilter.parse(""), api_configured=okta is not None),
        audit=FakeAudit(),
        clock=lambda: NOW,
    )


def deactivated(at: datetime) -> ExistingAccount:
    link = LinkSnapshot(SUB, "event_hook", AccountTimes(status_at=at))
    return ExistingAccount(
        user_id=7, username="ann@example.com", email="ann@example.com", active=False, roles=("Admin",), link=link
    )


def test_a_first_sign_in_creates_the_account_and_audits_it():
    accounts = FakeAccounts()
    sign_in = service(accounts)
    user = sign_in.admit(sign_in.decide(CLAIMS, userinfo=None, issued_at=NOW.timestamp()), LoginAuditFields())
    assert user == "user:ann@example.com"
    assert [p.action for p in accounts.applied] == ["create"]
    assert [(e, owner) for e, owner, _ in sign_in.audit.events] == [("user.created", "ann@example.com")]  # type: ignore[attr-defined]


def test_groups_from_the_groups_api_are_dated_by_the_reading_not_the_token():
    okta = FakeOkta()
    decided = service(FakeAccounts(), okta, source="api").decide(CLAIMS, userinfo=None, issued_at=0)
    assert okta.calls == ["groups"]
    assert (decided.evidence.groups_at, decided.evidence.issued_at) == (NOW, datetime.fromtimestamp(0, timezone.utc))


def test_no_mapped_role_deactivates_the_account_with_the_sign_ins_evidence():
    accounts = FakeAccounts()
    sign_in = service(accounts)
    decided = sign_in.decide({**CLAIMS, "groups": ["elsewhere"]}, userinfo=None, issued_at=NOW.timestamp())
    assert isinstance(decided.decision.refusal, NoMappedRole)
    assert accounts.deactivated == [(SUB, decided.evidence)]
    with pytest.raises(NoMappedRole):
        sign_in.admit(decided, LoginAuditFields())
    assert accounts.applied == []


@pytest.mark.parametrize(
    ("status", "refusal", "written"),
    [("ACTIVE", None, True), ("DEPROVISIONED", StaleToken, False), (OktaUnavailable("down"), OktaUnavailable, False)],
)
def test_a_reactivation_asks_okta_once_and_only_an_active_answer_writes(status, refusal, written):
    accounts, okta = FakeAccounts(existing=deactivated(NOW - timedelta(minutes=1))), FakeOkta(status=status)
    sign_in = service(accounts, okta)
    decided = sign_in.decide(CLAIMS, userinfo=None, issued_at=NOW.timestamp())
    if refusal is None:
        sign_in.admit(decided, LoginAuditFields())
    else:
        with pytest.raises(refusal):
            sign_in.admit(decided, LoginAuditFields())
    assert okta.calls == ["status"]
    assert bool(accounts.applied) is written


def test_a_token_older_than_the_deactivation_never_asks_okta():
    accounts, okta = FakeAccounts(existing=deactivated(NOW)), FakeOkta()
    sign_in = service(accounts, okta)
    decided = sign_in.decide(CLAIMS, userinfo=None, issued_at=(NOW - timedelta(minutes=5)).timestamp())
    with pytest.raises(StaleToken):
        sign_in.admit(decided, LoginAuditFields())
    assert (okta.calls, accounts.applied) == ([], [])


def test_a_lost_create_race_plans_again_as_an_update():
    accounts = FakeAccounts(lose_first_race=True)
    sign_in = service(accounts)
    sign_in.admit(sign_in.decide(CLAIMS, userinfo=None, issued_at=NOW.timestamp()), LoginAuditFields())
    assert [p.action for p in accounts.applied] == ["create", "adopt"]


def test_a_token_presented_again_reuses_its_groups_reading_with_the_reading_s_time():
    okta, times = FakeOkta(), iter([NOW, NOW + timedelta(minutes=1), NOW + timedelta(minutes=2)])
    sign_in = service(FakeAccounts(), okta, source="api")
    sign_in.clock = lambda: next(times)
    token = TokenRef("AT.1", expires_at=(datetime.now(timezone.utc) + timedelta(hours=1)).timestamp())
    first = sign_in.decide(CLAIMS, userinfo=None, issued_at=0, token=token)
    again = sign_in.decide(CLAIMS, userinfo=None, issued_at=0, token=token)
    assert okta.calls == ["groups"]
    assert first.evidence.groups_at == again.evidence.groups_at == NOW
    other = sign_in.decide(CLAIMS, userinfo=None, issued_at=0, token=TokenRef("AT.2", token.expires_at))
    assert (okta.calls, other.evidence.groups_at) == (["groups", "groups"], NOW + timedelta(minutes=1))


def test_an_expired_token_s_reading_is_forgotten():
    okta = FakeOkta()
    sign_in = service(FakeAccounts(), okta, source="api")
    token = TokenRef("AT.old", expires_at=datetime.now(timezone.utc).timestamp() - 1)
    sign_in.decide(CLAIMS, userinfo=None, issued_at=0, token=token)
    sign_in.decide(CLAIMS, userinfo=None, issued_at=0, token=token)
    assert okta.calls == ["groups", "groups"]
