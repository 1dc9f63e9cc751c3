"""The ports the sign-in service reaches the world through (pure: Protocols the adapter implements).

:class:`okta_security.login.service.SignInService` decides and plans; what it reads and writes goes
through these, so every door (the browser callback, a person's or a bot's token at ``POST /auth/token``,
the Airflow 2.11 bearer path) shares one decision with no framework in sight, and the tests give it
plain fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Sequence
    from contextlib import AbstractContextManager

    from okta_security.bots.service_users import ServiceIdentity
    from okta_security.errors import LoginRefused
    from okta_security.lifecycle.evidence import SignInEvidence
    from okta_security.login.account_plan import AccountLookup, AccountPlan
    from okta_security.login.outcome import LoginAuditFields
    from okta_security.login.step_up import StepUpOutcome
    from okta_security.mapping.rules import RoleMapping
    from okta_security.oidc.identity import OktaIdentity

UserT = TypeVar("UserT")
UserT_co = TypeVar("UserT_co", covariant=True)


@dataclass(frozen=True)
class AppliedAccount(Generic[UserT]):
    """The account a plan was written to: the framework's user object, and what the audit names it by."""

    user: UserT
    user_id: int
    username: str


class Accounts(Protocol[UserT]):
    """Airflow's accounts, as the sign-in sees them."""

    def one_sign_in(self) -> AbstractContextManager[None]:
        """Scope one sign-in: each link row read once; the database not answering raised as DatabaseUnavailable."""
        ...

    def linked(self, sub: str) -> Sequence[tuple[int, str]]:
        """Return (user id, username) of every account linked to Okta user ``sub``."""
        ...

    def role_names(self) -> frozenset[str]:
        """Return the names of the roles Airflow has."""
        ...

    def look_up(self, identity: OktaIdentity) -> AccountLookup:
        """Return the accounts the sign-in may concern (by username, legacy name, email)."""
        ...

    def apply(
        self, plan: AccountPlan, identity: OktaIdentity, evidence: SignInEvidence
    ) -> AppliedAccount[UserT] | None:
        """Write the plan in one commit; return None if a create lost a race (the caller plans again)."""
        ...

    def deactivate_unmapped(self, identity: OktaIdentity, mapping: RoleMapping, evidence: SignInEvidence) -> list[str]:
        """Deactivate the accounts of a person whose current groups map to nothing; return the outcomes."""
        ...


class OktaReader(Protocol):
    """Okta's Management API, for what a sign-in asks of it; failures are raised as LoginRefused."""

    def user_groups(self, identity: OktaIdentity) -> tuple[str, ...]:
        """Return the names of the person's groups, now."""
        ...

    def user_status(self, identity: OktaIdentity) -> str:
        """Return the person's Okta status, now (``ACTIVE``, ``DEPROVISIONED``, ``DELETED``, ...)."""
        ...


class AuditSink(Protocol):
    """Where the sign-in's account events go (the Audit Log, with the request's context)."""

    def __call__(self, event: str, facts: LoginAuditFields, *, owner: str | None, **fields: Any) -> None:
        """Record ``event``."""
        ...


class LoginEvents(Protocol):
    """A sign-in's audit events, with the request's context added (the adapter's ``login_audit``)."""

    def audit(self, event: str, facts: LoginAuditFields, *, owner: str | None, **fields: Any) -> None:
        """Record ``event``."""
        ...

    def login_succeeded(
        self,
        facts: LoginAuditFields,
        username: str,
        identity: OktaIdentity,
        roles: list[str],
        step_up: StepUpOutcome = ...,
    ) -> None:
        """Record ``login.succeeded`` (``roles``: the usable ones; ``step_up``: those withheld, and why)."""
        ...

    def login_refused(self, error: LoginRefused, facts: LoginAuditFields) -> None:
        """Record ``login.refused``."""
        ...


@dataclass(frozen=True)
class ServiceUserWrite(Generic[UserT]):
    """A bot's service user after the exchange wrote it."""

    user: UserT
    username: str
    created: bool
    roles_before: tuple[str, ...] | None  # None when the user was just created
    reactivated: bool  # it had been deactivated (its role set left the mapping) and is back


class ServiceUsers(Protocol[UserT]):
    """Airflow's service users (one per Okta client and role set), as the bot door sees them."""

    def upsert(self, identity: ServiceIdentity) -> ServiceUserWrite[UserT]:
        """Create, bring back or update the service user; raise BotRefused (a subclass) if it cannot act."""
        ...


class GrantLedger(Protocol):
    """The single-use grants already spent (an ID-JAG's ``jti``), shared by every replica."""

    def claim(self, jti: str, expires_at: float) -> bool:
        """Record ``jti`` as spent until ``expires_at`` (epoch); return False if it already was."""
        ...


class EndedDelegations(Protocol):
    """When Okta unassigned a person from an AI agent's app: that agent's grants from before then are void."""

    def ended_after(self, user: Any, agent: str, started_at: float | None) -> bool:
        """Return whether Okta ended ``agent``'s delegation for ``user`` after ``started_at`` (epoch; None: unknown)."""
        ...
