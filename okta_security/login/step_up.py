"""Step-up: roles that need recent multi-factor evidence (pure).

The mapping's ``step_up:`` section (:mod:`okta_security.mapping.step_up`) names roles a person gets
only while their sign-in is multi-factor and recent: the token's ``amr`` (RFC 8176) holds ``mfa``
(Okta adds it whenever more than one factor was used) or methods of two kinds (something known,
something held, something one is), and its ``auth_time`` is at most ``max_age_minutes`` old. The
account keeps every mapped role; each credential (a browser session, an Airflow token) carries the
time its evidence runs out, and requests made with it after that time (or without evidence) act
with the other roles only (:func:`effective_withheld`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from okta_security.mapping.step_up import StepUp

MAX_AMR_VALUES = 16  # RFC 8176 defines 22 values; a token listing more is not describing one sign-in
MAX_AMR_CHARS = 32
MULTI_FACTOR = frozenset({"mfa", "mca"})  # RFC 8176 §2: multiple-factor / multiple-channel authentication
FACTOR_KIND = {  # RFC 8176 §2, by the kind of factor each method proves
    **dict.fromkeys(("pwd", "pin", "kba"), "knowledge"),
    **dict.fromkeys(("otp", "sms", "tel", "hwk", "swk", "sc", "pop"), "possession"),
    **dict.fromkeys(("fpt", "face", "iris", "retina", "vbm"), "inherence"),
}
# Okta's acr_values for "any two factors" (its authorize endpoint; OIDC Core 3.1.2.1).
ACR_TWO_FACTORS = "urn:okta:loa:2fa:any"

NO_MULTI_FACTOR = "no_multi_factor"  # amr shows a single factor (or is missing)
NO_AUTH_TIME = "no_auth_time"  # no usable auth_time: how recent cannot be told
TOO_OLD = "too_old"  # auth_time older than max_age_minutes


@dataclass(frozen=True)
class MfaEvidence:
    """What a token says about how its person authenticated: ``amr`` and ``auth_time`` (never the token)."""

    amr: tuple[str, ...] = ()
    auth_time: int | None = None

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> MfaEvidence:
        """Return the evidence in verified claims; malformed values count as none (bounded before use)."""
        raw = claims.get("amr")
        amr = (
            tuple(a for a in raw[:MAX_AMR_VALUES] if isinstance(a, str) and len(a) <= MAX_AMR_CHARS)
            if isinstance(raw, list)
            else ()
        )
        when = claims.get("auth_time")
        return cls(amr, when if isinstance(when, int) and not isinstance(when, bool) else None)

    @property
    def multi_factor(self) -> bool:
        """Return whether ``amr`` shows more than one factor."""
        kinds = {FACTOR_KIND[a] for a in self.amr if a in FACTOR_KIND}
        return bool(MULTI_FACTOR.intersection(self.amr)) or len(kinds) >= 2

    def audit_fields(self) -> dict[str, Any]:
        """Return the evidence as audit fields."""
        return {"amr": list(self.amr), "auth_time": self.auth_time}


@dataclass(frozen=True)
class StepUpOutcome:
    """The step-up part of a decision: roles held back now, why, and when the evidence runs out."""

    withheld: tuple[str, ...] = ()  # sorted; step-up roles the person maps to but may not use now
    reason: str | None = None  # NO_MULTI_FACTOR | NO_AUTH_TIME | TOO_OLD, when roles are withheld
    until: int | None = None  # epoch seconds: step-up roles apply until then (None: none apply)


def decide_step_up(roles: Collection[str], step_up: StepUp | None, evidence: MfaEvidence, now: float) -> StepUpOutcome:
    """Return which of ``roles`` (all mapped and existing) the evidence leaves out, and until when the rest hold."""
    needed = sorted(set(roles) & step_up.roles) if step_up is not None else []
    if step_up is None or not needed:
        return StepUpOutcome()
    if not evidence.multi_factor:
        return StepUpOutcome(tuple(needed), NO_MULTI_FACTOR)
    if evidence.auth_time is None:
        return StepUpOutcome(tuple(needed), NO_AUTH_TIME)
    until = evidence.auth_time + step_up.max_age_seconds
    if until <= now or evidence.auth_time > now + 300:  # from the future beyond clock skew: not a real sign-in time
        return StepUpOutcome(tuple(needed), TOO_OLD)
    return StepUpOutcome(until=until)


def effective_withheld(
    roles: Collection[str], step_up: StepUp | None, until: float | None, now: float
) -> frozenset[str]:
    """Return the step-up roles a request must act without: all of them unless its credential's ``until`` is ahead."""
    if step_up is None or (until is not None and now < until):
        return frozenset()
    return frozenset(roles) & step_up.roles


def reason_text(reason: str | None, step_up: StepUp | None) -> str:
    """Return why step-up roles were withheld, in words for a page or an API answer."""
    minutes = step_up.max_age_seconds // 60 if step_up is not None else 0
    return {
        NO_MULTI_FACTOR: "the sign-in used a single factor; these roles need a multi-factor sign-in",
        NO_AUTH_TIME: "the token does not say when the person authenticated (no auth_time)",
        TOO_OLD: f"the multi-factor sign-in is more than {minutes} minutes old",
    }.get(reason or "", "")
