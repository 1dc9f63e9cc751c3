"""What a finished login hands to the view: the user or the refusal, and the facts its audit events carry."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from okta_security.login.step_up import MfaEvidence, StepUpOutcome

if TYPE_CHECKING:
    from collections.abc import Mapping

    from okta_security.errors import LoginRefused
    from okta_security.oidc.identity import OktaIdentity

UserT = TypeVar("UserT")
FieldsT = TypeVar("FieldsT", bound="LoginAuditFields")
MAX_ID_CHARS = 256  # claims come from a verified token, but an audit row still has no use for a longer id


def _bounded(value: Any) -> str | None:
    return value[:MAX_ID_CHARS] if isinstance(value, str) and value else None


@dataclass(frozen=True)
class LoginAuditFields:
    """What is known of a login so far: Okta's identifiers to join with its System Log, never a token."""

    sub: str | None = None
    jti: str | None = None
    okta_sid: str | None = None
    username: str | None = None
    groups: tuple[str, ...] | None = None
    mfa: MfaEvidence | None = None  # the token's amr and auth_time (the step-up evidence), when it has them

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> LoginAuditFields:
        """Take the verified token's joinable identifiers and its authentication evidence."""
        evidence = MfaEvidence.from_claims(claims)
        return cls(
            sub=_bounded(claims.get("sub")),
            jti=_bounded(claims.get("jti")),
            okta_sid=_bounded(claims.get("sid")),
            mfa=evidence if evidence != MfaEvidence() else None,
        )

    def with_identity(self: FieldsT, identity: OktaIdentity | None) -> FieldsT:
        """Add who the person is and their groups, once known."""
        if identity is None:
            return self
        return replace(self, username=identity.username, groups=identity.groups)

    def identifiers(self) -> dict[str, Any]:
        """Return the Okta identifiers known (``sub``, ``jti``, ``okta_sid``) for an audit event."""
        found = {"sub": self.sub, "jti": self.jti, "okta_sid": self.okta_sid}
        evidence = self.mfa.audit_fields() if self.mfa is not None else {}
        return {k: v for k, v in {**found, **evidence}.items() if v is not None}


@dataclass(frozen=True)
class LoginOutcome(Generic[UserT]):
    """A finished login: ``user`` signed in, or ``refusal``; ``facts`` either way."""

    facts: LoginAuditFields
    user: UserT | None = None
    identity: OktaIdentity | None = None
    roles: tuple[str, ...] = ()
    id_token: str | None = None  # kept in the session for logout's id_token_hint
    refusal: LoginRefused | None = None
    step_up: StepUpOutcome = StepUpOutcome()  # step-up roles of ``roles`` this sign-in may not use, and until when


# Attributes some LoginRefused subclasses carry -> audit field: TokenValidationError.reason (which
# check failed), OktaError.error (Okta's OAuth error code), NoMappedRole.groups, the roles
# MappedRoleMissing found gone, Okta's request id.
_REFUSAL_DETAILS = {
    "reason": "detail",
    "error": "okta_error",
    "groups": "groups",
    "missing_roles": "missing_roles",
    "request_id": "okta_request_id",
    "account": "account",  # OktaUserChanged, UnlinkedAccount: the Airflow account the login matched
    "linked_sub": "linked_okta_sub",  # OktaUserChanged: the Okta user that account belongs to
}


def refusal_details(error: LoginRefused, facts: LoginAuditFields) -> dict[str, Any]:
    """Return the fields of a ``login.refused`` event: the reason code and whatever is known of the user."""
    details: dict[str, Any] = {"reason": error.code}
    details.update(
        {field: getattr(error, attr) for attr, field in _REFUSAL_DETAILS.items() if getattr(error, attr, None)}
    )
    if "groups" not in details and facts.groups is not None:
        details["groups"] = list(facts.groups)
    return details
