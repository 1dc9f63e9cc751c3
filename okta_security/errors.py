"""Errors raised by okta_security, each with a stable ``code``, and the one table of refusals.

A door refuses with a ``LoginRefused`` (a person) or a ``BotRefused`` (an Okta access token). Each refusal
class declares its code, HTTP status and page category: ``REFUSALS`` (code → class of refusal, status,
category, audit event), read by :func:`classify` only. Codes are public (logs, audit, CLI): never rename one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

from okta_security.untrusted import OAUTH_ERROR_CHARS, OAUTH_ERROR_DESCRIPTION_CHARS, bounded, printable

if TYPE_CHECKING:
    from collections.abc import Iterable

Category = Literal["access", "unavailable", "misconfigured"]  # who can fix it: the person, nobody now, an admin


class Refusal(NamedTuple):
    """What a refusal code means at every door: the refusal page, POST /auth/token and the 2.11 API."""

    kind: type[OktaSecurityError]  # the class of refusal
    api_status: int  # a refused API request: 401 bad token, 403 refused, 429 too often, 503 outage
    category: Category
    audit_event: str  # a person's door audits a refused token as login.refused
    outage: bool  # nobody is refused for good: try again later

    @property
    def grant_status(self) -> int:
        """Return the status of a refused grant at POST /auth/token (RFC 6749 §5.2): 400, 429 or 503."""
        return self.api_status if self.api_status in (429, 503) else 400


REFUSALS: dict[str, Refusal] = {}  # filled by each refusal class as it is defined


class OktaSecurityError(Exception):
    """Base class; ``code`` is a stable machine-readable identifier, ``message`` the sentence for people."""

    code = "okta_security_error"
    audit_event: str | None = None  # set by the refusal classes: what a door audits them as

    def __init_subclass__(cls, code: str = "", status: int = 403, category: Category = "access") -> None:
        super().__init_subclass__()
        if code:
            cls.code = code
        if code and cls.audit_event:
            REFUSALS[code] = Refusal(cls, status, category, cls.audit_event, outage=status == 503)

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class ConfigError(OktaSecurityError, code="invalid_config"):
    """Configuration is missing or malformed; ``problems`` lists every one found."""

    source = "okta_security settings"  # what the problems are in, the message's first words

    def __init__(self, problems: Iterable[str], *, source: str | None = None) -> None:
        self.problems, self.source = list(problems), source or self.source
        lines = "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(f"{self.source}: {len(self.problems)} problem(s):{lines}")


class MappingError(ConfigError, code="invalid_mapping"):
    """The role-mapping file cannot be used; each problem reads ``file:line: what — fix``."""

    source = "role mapping"


class RoleSyncError(OktaSecurityError, code="role_sync_failed"):
    """Declared roles (``roles:``) could not be written to Airflow's database; ``problems`` says why, per role."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        lines = "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(f"declared roles could not be synced ({len(self.problems)} problem(s)):{lines}")


class BotRefused(OktaSecurityError, code="bot_refused"):
    """An Okta access token that earns no Airflow identity; ``message`` is safe to send the caller."""

    audit_event = "bot.token_refused"

    def __init__(self, message: str, *, client_id: str | None = None) -> None:
        super().__init__(message)
        self.client_id = client_id

    @property
    def http_status(self) -> int:  # what the Airflow adapters answer: the table's status
        return classify(self).api_status


class AccessTokenRejected(BotRefused, code="invalid_access_token", status=401):
    """The Okta access token failed a check; ``reason`` is a stable sub-code (never the token)."""

    def __init__(self, reason: str, message: str, *, client_id: str | None = None) -> None:
        super().__init__(message, client_id=client_id)
        self.reason = reason


class AgentRefused(BotRefused, code="agent_refused"):
    """An AI agent's request to act for a person that earns no Airflow token; ``client_id`` is the agent's."""

    audit_event = "agent.token_refused"


class AgentGrantRejected(AgentRefused, code="invalid_agent_grant", status=401):
    """The agent's grant (an ID-JAG, or a subject and actor token) failed a check; ``reason`` is a stable sub-code."""

    def __init__(self, reason: str, message: str, *, client_id: str | None = None) -> None:
        super().__init__(message, client_id=client_id)
        self.reason = reason


class LoginRefused(OktaSecurityError, code="login_refused"):
    """A sign-in that must not succeed; ``request_id`` is Okta's when an Okta call caused it."""

    audit_event = "login.refused"

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class NoMappedRole(LoginRefused, code="no_mapped_role"):
    """The person's groups match no rule and ``default_role`` is null."""

    def __init__(self, username: str, groups: Iterable[str]) -> None:
        self.username, self.groups = username, sorted(groups)
        super().__init__(
            f"Okta signed you in as {username!r}, with groups: {', '.join(self.groups) if self.groups else '(none)'}. "
            "None of these groups is mapped to an Airflow role, so Airflow cannot let you in. "
            "Ask your Airflow administrator to map one of your Okta groups to a role."
        )


class MappedRoleMissing(LoginRefused, code="mapped_role_missing"):
    """The groups map only to roles deleted from Airflow since the mapping was loaded."""

    def __init__(self, username: str, groups: Iterable[str], missing_roles: Iterable[str]) -> None:
        self.username, self.groups, self.missing_roles = username, sorted(groups), sorted(missing_roles)
        super().__init__(
            f"Okta signed you in as {username!r}. Your groups map to the Airflow role(s) "
            f"{', '.join(self.missing_roles)}, which no longer exist in Airflow, so Airflow cannot let you in. "
            "Ask your Airflow administrator to recreate the role(s) or change the role mapping."
        )


class TokenValidationError(LoginRefused, code="invalid_id_token"):
    """The ID token failed verification; ``reason`` says which check (never the token)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Okta's sign-in token could not be verified ({reason}), so the sign-in was refused.")


class OktaError(LoginRefused, code="okta_error"):
    """Okta redirected back with an OAuth error (``error`` is Okta's code; it may make it ``misconfigured``)."""

    def __init__(self, error: str, description: str | None) -> None:
        # Both may come from the callback's query string: bounded here, escaped in the one-line message.
        self.error = bounded(error, OAUTH_ERROR_CHARS)
        self.description = bounded(description or "", OAUTH_ERROR_DESCRIPTION_CHARS)
        text = f"{printable(self.error)}: {printable(self.description)}{okta_hint(self.error)}"
        super().__init__(f"Okta refused the sign-in: {text}")


_OKTA_HINTS = {
    "access_denied": " — if Okta says the user is not assigned to the client application, ask your Okta administrator to assign you (or your group) to the Airflow app.",
    "invalid_scope": " — a requested scope is not defined on the Okta authorization server; remove it from OKTA_EXTRA_SCOPES or define it in Okta.",
    "invalid_client": " — check OKTA_CLIENT_ID / OKTA_CLIENT_SECRET and OKTA_TOKEN_AUTH_METHOD.",
}


def okta_hint(error: str) -> str:
    """Return Airflow's advice for Okta's OAuth error code, as " — advice" ("" when there is none)."""
    return _OKTA_HINTS.get(error, "")


class ForeignIssuer(LoginRefused, code="foreign_issuer"):
    """A third-party initiated login names an ``iss`` that is not Airflow's Okta (OIDC Core 1.0 §4)."""

    def __init__(self) -> None:
        # The issuer it named comes from a link anyone can write: it goes to the log, never to the page.
        super().__init__(
            "This sign-in was started by an identity provider this Airflow does not use, so Airflow did not "
            "start it. Sign in with Airflow's own Okta instead, from its sign-in page or its Okta dashboard tile."
        )


class StepUpRequired(LoginRefused, code="step_up_required"):
    """Every role the person maps to is a step-up role, and the sign-in lacks recent multi-factor evidence."""

    def __init__(self, username: str, roles: Iterable[str], why: str) -> None:
        self.username = username
        self.roles = sorted(roles)
        super().__init__(
            f"Okta signed you in as {username!r}. Your role(s) {', '.join(self.roles)} need a recent multi-factor "
            f"sign-in, and this one does not count: {why}. Sign in again with a second factor."
        )


class RateLimited(LoginRefused, code="rate_limited", status=429):
    """One person's token sign-ins went past ``OKTA_PERSON_SIGN_INS_PER_MINUTE``; ``retry_after`` in seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AccountNotYours(LoginRefused):
    """The sign-in matches an account it may not take; the message says what the administrator runs if it is."""

    why: str  # the first sentence, before the advice
    other = "it"  # what the administrator renames or deletes if the account is not theirs

    def __init__(self, account: str, okta_sub: str) -> None:
        self.account, self.okta_sub = account, okta_sub
        super().__init__(
            f"{self.why.format(account=account)}. Ask your Airflow administrator: if the account is yours, they run "
            f"`okta-airflow relink {account} --to-okta-user {okta_sub}`; otherwise they rename or delete {self.other}, "
            "and your next sign-in creates a new one."
        )


class OktaUserChanged(AccountNotYours, code="okta_user_changed"):
    """The account is linked to another Okta user (a reused or renamed login): never signed into."""

    why = (
        "The Airflow account {account!r} belongs to another Okta user, so Airflow did not sign you in to it "
        "(your Okta login may have belonged to someone else before)"
    )
    other = "the old account"

    def __init__(self, account: str, okta_sub: str, linked_sub: str) -> None:
        self.linked_sub = linked_sub  # the other person's Okta id: for the log and audit, never the page
        super().__init__(account, okta_sub)


class UnlinkedAccount(AccountNotYours, code="unlinked_account"):
    """An account okta_security never linked matches the login, and adopting such accounts is off."""

    why = (
        "An Airflow account named {account!r} already exists but was never linked to an Okta user, and this "
        "Airflow does not take such accounts over at sign-in"
    )


class LogoutRefused(OktaSecurityError, code="logout_refused", status=400):
    """A Universal Logout request (draft-parecki-oauth-global-token-revocation) that changes nothing.

    ``reason`` is a stable sub-code for the audit trail; ``message`` is safe to send back.
    """

    audit_event = "universal_logout.refused"

    def __init__(self, reason: str, message: str, *, jti: str | None = None) -> None:
        self.reason = reason
        self.jti = jti  # the request JWT's, once its signature verified (the audit trail's key)
        super().__init__(message)

    @property
    def status(self) -> int:  # the draft's answer (§3.4.2), from the table
        return REFUSALS[self.code].api_status


# fmt: off
class LogoutUnauthorized(LogoutRefused, code="logout_unauthorized", status=401): ...  # the signed JWT failed a check
class LogoutMalformed(LogoutRefused, code="logout_malformed", status=400): ...  # no sub_id Airflow reads
class LogoutUnknownSubject(LogoutRefused, code="logout_unknown_subject", status=404): ...  # no account is theirs
class LogoutUnavailable(LogoutRefused, code="logout_unavailable", status=503, category="unavailable"): ...
class SignedOut(LoginRefused, code="signed_out"): ...  # Okta signed them out everywhere after the token began
class TooManyDeactivations(OktaSecurityError, code="too_many_deactivations"): ...  # sync-users past its guard; exit 4
class RelinkRefused(OktaSecurityError, code="relink_refused"): ...  # the message says why and what to do
class UnmappedClient(BotRefused, code="unmapped_client"): ...  # the client grants no role in ``clients:``
class AgentNotMapped(AgentRefused, code="agent_not_mapped"): ...  # an agent's client ID is not under ``agents:``
class AgentNoCommonRole(AgentRefused, code="agent_no_common_role"): ...  # ``agents:`` allows none of the person's roles
class ServiceUserConflict(BotRefused, code="service_user_conflict"): ...  # its username is another user's
class ServiceUserInactive(BotRefused, code="service_user_inactive"): ...  # an admin deactivated it
class OktaKeysUnavailable(BotRefused, code="okta_keys_unavailable", status=503, category="unavailable"): ...  # JWKS
class IdentityError(LoginRefused, code="invalid_identity"): ...  # claims unusable (no sub, no username, ...)
class UserinfoMismatch(LoginRefused, code="userinfo_sub_mismatch"): ...  # userinfo names another subject
class StateMismatch(LoginRefused, code="invalid_state"): ...  # callback state unknown, reused or tampered
class OktaUnavailable(LoginRefused, code="okta_unavailable", status=503, category="unavailable"): ...  # timeout, 5xx
class DatabaseUnavailable(LoginRefused, code="database_unavailable", status=503, category="unavailable"): ...
class EmailConflict(LoginRefused, code="email_conflict"): ...  # another Airflow user already has this email
class DiscoveryMismatch(LoginRefused, code="discovery_issuer_mismatch", category="misconfigured"): ...  # ≠ OKTA_ISSUER
class InactiveUser(LoginRefused, code="inactive_user"): ...  # the Airflow account is deactivated
class StaleToken(LoginRefused, code="stale_token"): ...  # older than what the account reflects: may only take away
class OktaApiMisconfigured(LoginRefused, code="okta_api_misconfigured", category="misconfigured"): ...  # Groups API
class ServiceUserLogin(LoginRefused, code="service_user_login"): ...  # the username is a bot's service user
# fmt: on

# OAuth errors (RFC 6749 4.1.2.1, 5.2) that mean Airflow's request or Okta app is wrong: an administrator's to fix.
MISCONFIGURED_OKTA_ERRORS = frozenset(
    "invalid_client invalid_scope invalid_request unauthorized_client unsupported_response_type unsupported_grant_type".split()
)


def classify(error: OktaSecurityError) -> Refusal:
    """Return ``error``'s row of the table; Okta's own error code decides an ``okta_error``'s category."""
    row = REFUSALS.get(error.code) or REFUSALS[LoginRefused.code]  # any other error: a refused sign-in
    if isinstance(error, OktaError) and (
        error.error in MISCONFIGURED_OKTA_ERRORS
        # the callback URL Airflow builds differs from the one it sent (proxy, base_url)
        or (error.error == "invalid_grant" and "redirect_uri" in error.description)
    ):
        return row._replace(category="misconfigured")
    return row
