"""The agents' door over fake ports: what is checked before the person is read, the intersection, the lifetime.

Real signatures (joserfc) and real settings; the person's sign-in itself is PersonDoor's (tested in
test_doors.py and end to end in tests/integration/test_agents.py).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from okta_devstack.airflow import REPO
from okta_security.audit import register_sink, unregister_sink
from okta_security.errors import AgentGrantRejected, AgentNoCommonRole, AgentNotMapped, NoMappedRole
from okta_security.login.delegation import AgentDoor
from okta_security.login.doors import ApiLoginAuditFields
from okta_security.login.step_up import StepUpOutcome
from okta_security.mapping.rules import parse_mapping
from okta_security.oidc.id_token import JwksCache
from okta_security.settings.loader import load_settings

ORG = "https://dev-1.okta.com"
AUDIENCE = "https://airflow.example.com/auth/token"
KEY = RSAKey.generate_key(2048, parameters={"kid": "org-k1", "alg": "RS256", "use": "sig"})
ERIN = "00uerin0000000000001"
MAPPING = parse_mapping(
    "mappings:\n  ops: [Op]\n  viewers: [Viewer]\nagents:\n  assistant: [Viewer]\n  writer: [Admin]\n",
    source="map.yaml",
)


def id_jag(**over: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ORG,
        "sub": ERIN,
        "aud": AUDIENCE,
        "client_id": "assistant",
        "jti": "j1",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(over)
    return jwt.encode({"alg": "RS256", "kid": KEY.kid, "typ": "oauth-id-jag+jwt"}, claims, KEY)


@dataclass
class Fakes:
    """The person door and the ledger, recording what the agent door asked of them."""

    links: list[tuple[int, str]] = field(default_factory=lambda: [(7, "erin")])
    groups_api: bool = True
    spent: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    person_roles: tuple[str, ...] = ("Op", "Viewer")
    refusal: Exception | None = None
    unassigned: tuple[str, ...] = ()

    def claim(self, jti: str, expires_at: float) -> bool:
        self.calls.append(f"claim {jti}")
        if jti in self.spent:
            return False
        self.spent.add(jti)
        return True

    def ended_after(self, user: Any, agent: str, started_at: float | None) -> bool:
        self.calls.append(f"ended_after {agent}")
        return agent in self.unassigned

    def linked(self, sub: str) -> list[tuple[int, str]]:
        self.calls.append(f"linked {sub}")
        return self.links

    def sign_in(self, person: Any, facts: ApiLoginAuditFields) -> Any:
        self.calls.append(f"sign_in {person.user_id} act={facts.act}")
        if self.refusal is not None:
            raise self.refusal
        return SimpleNamespace(user=SimpleNamespace(username="erin"), roles=self.person_roles, step_up=StepUpOutcome())


def door(fakes: Fakes, **settings: str) -> AgentDoor[Any]:
    loaded = load_settings(
        {
            "OKTA_ISSUER": f"{ORG}/oauth2/default",
            "OKTA_CLIENT_ID": "0oaweb",
            "OKTA_CLIENT_SECRET": "web-secret",
            "OKTA_ROLE_MAPPING_FILE": str(REPO / "config" / "role_mapping.yaml"),  # must exist; the door reads MAPPING
            "OKTA_AGENT_AUDIENCE": AUDIENCE,
            **settings,
        }
    )
    accounts = SimpleNamespace(one_sign_in=nullcontext, linked=fakes.linked)
    service = SimpleNamespace(mapping=lambda: MAPPING, accounts=accounts, reads_groups_api=lambda _: fakes.groups_api)
    people = SimpleNamespace(settings=loaded, service=service, sign_in=fakes.sign_in, keys=None)
    return AgentDoor(
        people=people,  # type: ignore[arg-type]
        org_keys=lambda: JwksCache(lambda: {"keys": [KEY.as_dict(private=False)]}),
        ledger=fakes,
        ended=fakes,
    )


@pytest.fixture
def audit() -> Any:
    records: list[Any] = []
    register_sink("test", records.append)
    yield records
    unregister_sink("test")


FACTS = ApiLoginAuditFields(via="POST /auth/token")


def test_the_token_acts_with_the_persons_roles_the_agent_may_use_and_names_both(audit: list[Any]) -> None:
    fakes = Fakes()
    login = door(fakes).exchange_id_jag(id_jag(), FACTS)
    assert (login.username, login.agent, login.roles, login.person_roles) == (
        "erin",
        "assistant",
        frozenset({"Viewer"}),
        ("Op", "Viewer"),
    )
    assert fakes.calls == ["claim j1", f"linked {ERIN}", f"sign_in {ERIN} act=assistant", "ended_after assistant"]
    [issued] = [r for r in audit if r.event == "agent.token_issued"]
    assert (issued.owner, issued.fields["act"], issued.fields["roles"]) == ("erin", {"sub": "assistant"}, ["Viewer"])


def test_the_token_never_outlives_the_setting_nor_the_grant() -> None:
    now = int(time.time())
    assert door(Fakes(), OKTA_AGENT_TOKEN_MINUTES="1").exchange_id_jag(id_jag(), FACTS).expires_at <= now + 61
    assert door(Fakes()).exchange_id_jag(id_jag(exp=now + 100), FACTS).expires_at == now + 100


def test_an_agent_not_listed_is_refused_before_anything_is_read_or_spent(audit: list[Any]) -> None:
    fakes = Fakes()
    with pytest.raises(AgentNotMapped):
        door(fakes).exchange_id_jag(id_jag(client_id="stranger"), FACTS)
    assert fakes.calls == []
    [refused] = [r for r in audit if r.event == "agent.token_refused"]
    assert (refused.fields["reason"], refused.fields["act"]) == ("agent_not_mapped", {"sub": "stranger"})


def test_a_grant_is_spent_once() -> None:
    fakes = Fakes()
    door(fakes).exchange_id_jag(id_jag(), FACTS)
    with pytest.raises(AgentGrantRejected) as again:
        door(fakes).exchange_id_jag(id_jag(), FACTS)
    assert again.value.reason == "replayed"


@pytest.mark.parametrize(
    ("fakes", "reason"),
    [(Fakes(links=[]), "person_unknown"), (Fakes(groups_api=False), "no_groups_source")],
)
def test_the_person_must_be_known_and_their_groups_readable(fakes: Fakes, reason: str) -> None:
    with pytest.raises(AgentGrantRejected) as refused:
        door(fakes).exchange_id_jag(id_jag(), FACTS)
    assert refused.value.reason == reason
    assert not any(call.startswith("sign_in") for call in fakes.calls)  # no decision, so nobody is deactivated


def test_no_common_role_and_the_persons_refusal_are_refusals_naming_the_person(audit: list[Any]) -> None:
    with pytest.raises(AgentNoCommonRole):
        door(Fakes()).exchange_id_jag(id_jag(client_id="writer"), FACTS)
    with pytest.raises(NoMappedRole):
        door(Fakes(refusal=NoMappedRole("erin", ["marketing"]))).exchange_id_jag(id_jag(jti="j2"), FACTS)
    owners = [(r.owner, r.fields["reason"]) for r in audit if r.event == "agent.token_refused"]
    assert owners == [("erin", "agent_no_common_role"), ("erin", "no_mapped_role")]


def test_an_agent_okta_unassigned_the_person_from_gets_nothing_from_an_older_grant() -> None:
    with pytest.raises(AgentGrantRejected) as refused:
        door(Fakes(unassigned=("assistant",))).exchange_id_jag(id_jag(), FACTS)
    assert refused.value.reason == "agent_unassigned"
