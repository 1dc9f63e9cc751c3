"""Decide a login from what Okta said: the identity and its Airflow roles, or a refusal (pure: no I/O).

The adapter fetches in order and asks this module at each fork (:func:`needs_userinfo`, then
:func:`groups_api_identity`), then calls :func:`decide` once with everything it fetched:

1. identity from the verified ID-token claims, userinfo only filling gaps (its ``sub`` must match);
2. groups from the Groups API instead of the claims when ``OKTA_GROUPS_SOURCE`` says so;
3. ``OKTA_GROUPS_FILTER`` keeps the groups worth considering;
4. roles = the mapping applied to those groups; none → ``no_mapped_role``;
5. mapped roles deleted from Airflow since the mapping was loaded are dropped; if none is
   left → ``mapped_role_missing`` (a partial loss grants the roles that remain, never more);
6. step-up roles (the mapping's ``step_up:``) without recent multi-factor evidence in the claims
   are withheld for this sign-in (:mod:`okta_security.login.step_up`); the account keeps them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from okta_security.errors import LoginRefused, MappedRoleMissing, NoMappedRole, OktaApiMisconfigured, StepUpRequired
from okta_security.login.groups_source import wants_api, wants_userinfo
from okta_security.login.step_up import MfaEvidence, StepUpOutcome, decide_step_up, reason_text
from okta_security.oidc.identity import OktaIdentity, has_groups_claim, identity_from_claims
from okta_security.settings.specs import OktaSettings

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    from okta_security.mapping.patterns import GroupFilter
    from okta_security.mapping.rules import RoleMapping


@dataclass(frozen=True)
class LoginPolicy:
    """The settings a login decision reads."""

    groups_claim: str = OktaSettings.groups_claim
    groups_source: str = OktaSettings.groups_source  # see okta_security.login.groups_source
    groups_filter: GroupFilter = OktaSettings.groups_filter
    api_configured: bool = False  # Management API credentials are set (a Groups API client exists)

    @classmethod
    def from_settings(cls, settings: OktaSettings, *, api_configured: bool) -> LoginPolicy:
        """Pick the login's settings out of the full settings."""
        return cls(
            groups_claim=settings.groups_claim,
            groups_source=settings.groups_source,
            groups_filter=settings.groups_filter,
            api_configured=api_configured,
        )


@dataclass(frozen=True)
class LoginDecision:
    """Who signed in and the roles they get, or why they may not (``refusal``).

    ``identity`` is set whenever the claims were usable, refused or not, so that audit events
    and the refusal page can name the person.
    """

    identity: OktaIdentity | None
    roles: tuple[str, ...] = ()  # sorted; every one exists in Airflow
    refusal: LoginRefused | None = None
    missing_roles: tuple[str, ...] = ()  # mapped, but no longer in Airflow (left out of ``roles``)
    mfa: MfaEvidence = MfaEvidence()  # the claims' amr and auth_time, for the step-up and the audit trail
    step_up: StepUpOutcome = StepUpOutcome()  # step-up roles of ``roles`` this sign-in may not use (yet)

    @property
    def usable_roles(self) -> tuple[str, ...]:
        """Return the roles this sign-in may act with now: ``roles`` less the withheld step-up roles."""
        return tuple(r for r in self.roles if r not in self.step_up.withheld)

    @property
    def admitted(self) -> bool:
        """Return whether the login may proceed to the account."""
        return self.refusal is None and self.identity is not None


def needs_userinfo(claims: Mapping[str, Any], policy: LoginPolicy) -> bool:
    """Return whether to call userinfo: the ID token lacks the groups claim and claims count."""
    return wants_userinfo(policy.groups_source, id_token_has_claim=has_groups_claim(claims, policy.groups_claim))


def groups_api_identity(
    claims: Mapping[str, Any], userinfo: Mapping[str, Any] | None, policy: LoginPolicy
) -> OktaIdentity | None:
    """Return whose groups to read from Okta's Groups API before deciding, or None if the API is not needed."""
    if not policy.api_configured:
        return None  # decide() refuses if the source demanded the API
    try:
        identity = identity_from_claims(claims, userinfo, groups_claim=policy.groups_claim)
    except LoginRefused:
        return None  # decide() refuses; no call to Okta for a login that cannot succeed
    return identity if wants_api(policy.groups_source, api_configured=True, claim_groups=identity.groups) else None


def decide(
    claims: Mapping[str, Any],
    *,
    userinfo: Mapping[str, Any] | None,
    api_groups: Sequence[str] | None,
    mapping: RoleMapping,
    airflow_roles: Collection[str],
    policy: LoginPolicy,
    now: float | None = None,
) -> LoginDecision:
    """Decide the login from the verified claims, userinfo and API groups (None: not fetched).

    ``now`` (epoch seconds, the service's clock) dates the step-up evidence; None: this moment.
    """
    try:
        identity = identity_from_claims(claims, userinfo, groups_claim=policy.groups_claim)
    except LoginRefused as e:
        return LoginDecision(None, refusal=e)
    if wants_api(policy.groups_source, api_configured=policy.api_configured, claim_groups=identity.groups):
        if api_groups is None:  # OKTA_GROUPS_SOURCE=api without credentials is refused at start already
            refusal = OktaApiMisconfigured("Airflow is set to read groups from Okta's API but has no API credentials.")
            return LoginDecision(identity, refusal=refusal)
        identity = replace(identity, groups=tuple(api_groups), groups_source="api")
    identity = replace(identity, groups=policy.groups_filter.apply(identity.groups))
    mapped = mapping.resolve(identity.groups)
    if not mapped:
        return LoginDecision(identity, refusal=NoMappedRole(identity.username, identity.groups))
    existing = sorted(mapped.intersection(airflow_roles))
    missing = tuple(sorted(mapped.difference(airflow_roles)))
    if not existing:
        return LoginDecision(
            identity, refusal=MappedRoleMissing(identity.username, identity.groups, missing), missing_roles=missing
        )
    mfa = MfaEvidence.from_claims(claims)
    step_up = decide_step_up(existing, mapping.step_up, mfa, time.time() if now is None else now)
    if len(step_up.withheld) == len(existing):  # nothing left to act with: ask for the evidence instead
        ask = StepUpRequired(identity.username, step_up.withheld, reason_text(step_up.reason, mapping.step_up))
        return LoginDecision(identity, roles=tuple(existing), refusal=ask, mfa=mfa, step_up=step_up)
    return LoginDecision(identity, roles=tuple(existing), missing_roles=missing, mfa=mfa, step_up=step_up)
