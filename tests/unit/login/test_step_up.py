"""The step-up decision table: which mapped roles a sign-in may use, from its amr and auth_time (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from okta_security.errors import StepUpRequired
from okta_security.login.decision import LoginPolicy, decide
from okta_security.login.step_up import (
    NO_AUTH_TIME,
    NO_MULTI_FACTOR,
    TOO_OLD,
    MfaEvidence,
    StepUpOutcome,
    decide_step_up,
    effective_withheld,
)
from okta_security.mapping.rules import parse_mapping
from okta_security.mapping.step_up import StepUp

NOW = 1_800_000_000
HOUR = 3600
STEP_UP = StepUp(frozenset({"Admin", "Op"}), HOUR)
MAPPING = parse_mapping(
    "mappings:\n  admins: [Admin, Viewer]\n  ops: [Op]\n  viewers: [Viewer]\n"
    "step_up:\n  roles: [Admin, Op]\n  max_age_minutes: 60\n",
    source="map.yaml",
)
AIRFLOW_ROLES = frozenset({"Admin", "Op", "Viewer"})


@pytest.mark.parametrize(
    ("amr", "auth_time", "expected"),
    [
        (["pwd", "mfa", "otp"], NOW - 60, StepUpOutcome(until=NOW - 60 + HOUR)),  # Okta: password + Okta Verify
        (["mfa", "hwk"], NOW - 60, StepUpOutcome(until=NOW - 60 + HOUR)),  # Okta FastPass
        (["pwd", "otp"], NOW, StepUpOutcome(until=NOW + HOUR)),  # two kinds without "mfa" (RFC 8176)
        (["mca"], NOW, StepUpOutcome(until=NOW + HOUR)),
        (["pwd"], NOW, StepUpOutcome(("Admin",), NO_MULTI_FACTOR)),
        (["otp", "sms"], NOW, StepUpOutcome(("Admin",), NO_MULTI_FACTOR)),  # two possession factors: one kind
        ([], NOW, StepUpOutcome(("Admin",), NO_MULTI_FACTOR)),
        (None, NOW, StepUpOutcome(("Admin",), NO_MULTI_FACTOR)),
        ("mfa", NOW, StepUpOutcome(("Admin",), NO_MULTI_FACTOR)),  # not a list: no evidence
        (["mfa"], None, StepUpOutcome(("Admin",), NO_AUTH_TIME)),
        (["mfa"], "1800000000", StepUpOutcome(("Admin",), NO_AUTH_TIME)),
        (["mfa"], True, StepUpOutcome(("Admin",), NO_AUTH_TIME)),
        (["mfa"], NOW - HOUR, StepUpOutcome(("Admin",), TOO_OLD)),  # exactly max_age: too old
        (["mfa"], NOW - HOUR + 1, StepUpOutcome(until=NOW + 1)),
        (["mfa"], NOW + 3600, StepUpOutcome(("Admin",), TOO_OLD)),  # from the future: no real sign-in time
    ],
)
def test_evidence_table(amr: Any, auth_time: Any, expected: StepUpOutcome) -> None:
    claims = {k: v for k, v in {"amr": amr, "auth_time": auth_time}.items() if v is not None}
    assert decide_step_up({"Admin", "Viewer"}, STEP_UP, MfaEvidence.from_claims(claims), NOW) == expected


def test_no_step_up_section_or_no_step_up_role_withholds_nothing() -> None:
    assert decide_step_up({"Admin"}, None, MfaEvidence(), NOW) == StepUpOutcome()
    assert decide_step_up({"Viewer"}, STEP_UP, MfaEvidence(), NOW) == StepUpOutcome()


def test_amr_is_bounded() -> None:
    evidence = MfaEvidence.from_claims({"amr": ["x" * 33, *["pwd"] * 40, "mfa"], "auth_time": NOW})
    assert evidence.amr == ("pwd",) * 15  # 16 values read, the over-long one dropped: "mfa" at the end not seen
    assert not evidence.multi_factor


@pytest.mark.parametrize(
    ("until", "withheld"),
    [(None, {"Admin"}), (NOW - 1, {"Admin"}), (NOW, {"Admin"}), (NOW + 1, set())],
)
def test_a_credential_acts_without_step_up_roles_once_its_evidence_runs_out(until, withheld) -> None:
    assert effective_withheld({"Admin", "Viewer"}, STEP_UP, until, NOW) == withheld
    assert effective_withheld({"Admin", "Viewer"}, None, until, NOW) == set()


def _decide(groups: list[str], **evidence: Any):
    claims = {"sub": "00u1", "preferred_username": "ann@example.com", "groups": groups, **evidence}
    return decide(
        claims,
        userinfo=None,
        api_groups=None,
        mapping=MAPPING,
        airflow_roles=AIRFLOW_ROLES,
        policy=LoginPolicy(),
        now=NOW,
    )


def test_without_evidence_the_account_keeps_every_role_and_the_sign_in_uses_the_others() -> None:
    decision = _decide(["admins"], amr=["pwd"], auth_time=NOW)
    assert decision.admitted
    assert decision.roles == ("Admin", "Viewer")  # what the account holds
    assert decision.usable_roles == ("Viewer",)
    assert decision.step_up == StepUpOutcome(("Admin",), NO_MULTI_FACTOR)
    assert decision.mfa == MfaEvidence(("pwd",), NOW)


def test_with_evidence_every_role_applies_until_it_runs_out() -> None:
    decision = _decide(["admins", "ops"], amr=["pwd", "mfa", "otp"], auth_time=NOW - 600)
    assert decision.usable_roles == ("Admin", "Op", "Viewer")
    assert decision.step_up.until == NOW - 600 + HOUR


def test_only_step_up_roles_without_evidence_asks_for_the_evidence() -> None:
    decision = _decide(["ops"], amr=["pwd"], auth_time=NOW)
    assert isinstance(decision.refusal, StepUpRequired)
    assert decision.refusal.code == "step_up_required"
    assert decision.refusal.roles == ["Op"]
    assert "single factor" in decision.refusal.message
