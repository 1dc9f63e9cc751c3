"""Errors raised by okta_security, each with a stable ``code``.

::

    OktaSecurityError                  code
    ├── ConfigError                    "invalid_config"      settings missing/malformed (lists every problem)
    ├── MappingError                   "invalid_mapping"     role-mapping YAML unusable (file:line: problem)
    ├── RoleSyncError                  "role_sync_failed"    declared roles (``roles:``) could not be synced to Airflow
    ├── TooManyDeactivations           "too_many_deactivations"  sync-users plan exceeds the guard; nothing applied
    ├── LogoutRefused                  (subclass sets code)  a Universal Logout request that changes nothing (``status``)
    │   ├── LogoutUnauthorized         "logout_unauthorized"  the signed JWT failed a check (``reason``: which)   401
    │   ├── LogoutMalformed            "logout_malformed"    the body is no ``sub_id`` Airflow reads            400
    │   ├── LogoutUnknownSubject       "logout_unknown_subject"  no Airflow account belongs to the subject      404
    │   └── LogoutUnavailable          "logout_unavailable"  Okta's keys or the database did not answer         503
    ├── TokenRequestInvalid            "invalid_token_request"  POST /auth/token body is no grant Airflow takes (``oauth_error``)
    ├── DeviceSignInFailed             "device_sign_in_failed"  okta-airflow login: Okta or Airflow said no (``error``: whose code)
    ├── RelinkRefused                  "relink_refused"      ``okta-airflow relink`` cannot link the account as asked
    ├── OktaApiError                   "okta_api_error"      a Management API call failed (``request_id``: Okta's)
    │   ├── OktaApiUnavailable         "okta_api_unavailable"  timeout, connection error, 5xx, 429 past the wait budget
    │   └── OktaApiRejected            "okta_api_rejected"   4xx: credentials, scopes, unknown user, odd answer
    ├── BotRefused                     (subclass sets code)  a bot's Okta access token earns no Airflow identity
    │   ├── AccessTokenRejected        "invalid_access_token"  signature/claims/scope check failed (``reason``: which) 401
    │   ├── UnmappedClient             "unmapped_client"     the token's client grants no role in ``clients:``       403
    │   ├── ServiceUserConflict        "service_user_conflict"  the service username is another Airflow user's       403
    │   ├── ServiceUserInactive        "service_user_inactive"  the client's service user is deactivated in Airflow  403
    │   └── OktaKeysUnavailable        "okta_keys_unavailable"  the issuer's signing keys could not be fetched       503
    └── LoginRefused                   (subclass sets code)  a login attempt that must not succeed
        ├── NoMappedRole               "no_mapped_role"      groups match no rule and default_role is null
        ├── MappedRoleMissing          "mapped_role_missing"  the groups map only to roles deleted from Airflow
        ├── IdentityError              "invalid_identity"    claims unusable (no sub, no username, ...)
        ├── UserinfoMismatch           "userinfo_sub_mismatch"  userinfo ``sub`` differs from the ID token's
        ├── TokenValidationError       "invalid_id_token"    ID token signature/claims rejected
        ├── StateMismatch              "invalid_state"       callback state unknown, reused or tampered
        ├── OktaError                  "okta_error"          Okta answered the authorization with an error
        ├── OktaUnavailable            "okta_unavailable"    Okta did not answer (timeout, 5xx)
        ├── DatabaseUnavailable        "database_unavailable"  Airflow's metadata database did not answer mid-login
        ├── EmailConflict              "email_conflict"      another Airflow user already has this email
        ├── DiscoveryMismatch          "discovery_issuer_mismatch"  discovery ``issuer`` is not OKTA_ISSUER
        ├── InactiveUser               "inactive_user"       the Airflow account is deactivated
        ├── StaleToken                 "stale_token"         the token predates what the account reflects (a deactivation, a group removal)
        ├── RateLimited                "rate_limited"        too many sign-ins of one person with Okta tokens (HTTP 429, ``retry_after``)
        ├── OktaApiMisconfigured       "okta_api_misconfigured"  Okta refused Airflow's Groups API call (credentials, scopes)
        ├── ServiceUserLogin           "service_user_login"  the username is an Okta client's service user (a bot's)
        ├── OktaUserChanged            "okta_user_changed"   the account is linked to another Okta user (reused login)
        ├── UnlinkedAccount            "unlinked_account"    an account never linked to Okta; adopting is switched off
        └── SignedOut                  "signed_out"          Okta signed the person out everywhere after the token was issued

Codes are part of the public contract: logs, the audit trail and the CLI print them,
and admins grep for them. Never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from okta_security.untrusted import OAUTH_ERROR_CHARS, OAUTH_ERROR_DESCRIPTION_CHARS, bounded, printable

if TYPE_CHECKING:
    from collections.abc import Iterable


class OktaSecurityError(Exception):
    """Base class; ``code`` is a stable machine-readable identifier."""

    code = "okta_security_error"


class ConfigError(OktaSecurityError):
    """Configuration is missing or malformed; ``problems`` lists every one found."""

    code = "invalid_config"

    def __init__(self, problems: Iterable[str], *, source: str = "okta_security settings") -> None:
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


class MappingError(ConfigError):
    """The role-mapping file cannot be used; each problem reads ``file:line: what — fix``."""

    code = "invalid_mapping"

    def __init__(self, problems: Iterable[str], *, source: str = "role mapping") -> None:
        super().__init__(problems, source=source)


class RoleSyncError(OktaSecurityError):
    """Declared roles could not be written to Airflow's database; ``problems`` says why, per role."""

    code = "role_sync_failed"

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"declared roles could not be synced ({len(self.problems)} problem(s)):\n{lines}")


class OktaApiError(OktaSecurityError):
    """A Management API call failed; carries Okta's status, error code and request id (never a token)."""

    code = "okta_api_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        okta_code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.okta_code = okta_code
        self.request_id = request_id
        suffix = f" (Okta request id {request_id})" if request_id else ""
        super().__init__(message + suffix)


class OktaApiUnavailable(OktaApiError):
    """Okta did not answer usefully: timeout, connection error, 5xx, or rate-limited past the wait budget."""

    code = "okta_api_unavailable"


class OktaApiRejected(OktaApiError):
    """Okta refused the call (4xx) or answered something unusable; retrying will not help."""

    code = "okta_api_rejected"


class LoginRefused(OktaSecurityError):
    """A login that must not succeed; ``message`` is safe to show the user."""

    code = "login_refused"

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        self.message = message
        self.request_id = request_id  # Okta's X-Okta-Request-Id when an Okta call caused the refusal
        super().__init__(message)


class NoMappedRole(LoginRefused):
    """None of the user's groups maps to an Airflow role and there is no default role."""

    code = "no_mapped_role"

    def __init__(self, username: str, groups: Iterable[str]) -> None:
        self.username = username
        self.groups = sorted(groups)
        shown = ", ".join(self.groups) if self.groups else "(none)"
        super().__init__(
            f"Okta signed you in as {username!r}, with groups: {shown}. "
            "None of these groups is mapped to an Airflow role, so Airflow cannot let you in. "
            "Ask your Airflow administrator to map one of your Okta groups to a role."
        )


class MappedRoleMissing(LoginRefused):
    """The user's groups map to roles, but none of them exists in Airflow's database any more."""

    code = "mapped_role_missing"

    def __init__(self, username: str, groups: Iterable[str], missing_roles: Iterable[str]) -> None:
        self.username = username
        self.groups = sorted(groups)
        self.missing_roles = sorted(missing_roles)
        super().__init__(
            f"Okta signed you in as {username!r}. Your groups map to the Airflow role(s) "
            f"{', '.join(self.missing_roles)}, which no longer exist in Airflow, so Airflow cannot let you in. "
            "Ask your Airflow administrator to recreate the role(s) or change the role mapping."
        )


class IdentityError(LoginRefused):
    """The verified claims lack something a login needs."""

    code = "invalid_identity"


class UserinfoMismatch(LoginRefused):
    """The userinfo response names a different subject than the ID token."""

    code = "userinfo_sub_mismatch"


class TokenValidationError(LoginRefused):
    """The ID token failed verification; ``reason`` says which check (never the token)."""

    code = "invalid_id_token"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Okta's sign-in token could not be verified ({reason}), so the sign-in was refused.")


class StateMismatch(LoginRefused):
    """The callback's ``state`` does not belong to a sign-in this browser started."""

    code = "invalid_state"


class OktaError(LoginRefused):
    """Okta redirected back with an OAuth error (``error`` is Okta's code)."""

    code = "okta_error"

    def __init__(self, error: str, description: str | None) -> None:
        # Both may come from the callback's query string: bounded here, escaped in the one-line message.
        self.error = bounded(error, OAUTH_ERROR_CHARS)
        self.description = bounded(description or "", OAUTH_ERROR_DESCRIPTION_CHARS)
        hint = _OKTA_HINTS.get(self.error, "")
        super().__init__(f"Okta refused the sign-in: {printable(self.error)}: {printable(self.description)}{hint}")


class OktaUnavailable(LoginRefused):
    """Okta could not be reached or answered with a server error."""

    code = "okta_unavailable"


class DatabaseUnavailable(LoginRefused):
    """Airflow's metadata database did not answer during the login (restart, failover, network)."""

    code = "database_unavailable"


class EmailConflict(LoginRefused):
    """The Okta user's email already belongs to a different Airflow user."""

    code = "email_conflict"


_OKTA_HINTS = {
    "access_denied": " — if Okta says the user is not assigned to the client application, "
    "ask your Okta administrator to assign you (or your group) to the Airflow app.",
    "invalid_scope": " — a requested scope is not defined on the Okta authorization server; "
    "remove it from OKTA_EXTRA_SCOPES or define it in Okta.",
    "invalid_client": " — check OKTA_CLIENT_ID / OKTA_CLIENT_SECRET and OKTA_TOKEN_AUTH_METHOD.",
}


def okta_hint(error: str) -> str:
    """Return Airflow's advice for Okta's OAuth error code, as " — advice" ("" when there is none)."""
    return _OKTA_HINTS.get(error, "")


class DiscoveryMismatch(LoginRefused):
    """The discovery document names another issuer than ``OKTA_ISSUER`` (OIDC Discovery 4.3)."""

    code = "discovery_issuer_mismatch"


class InactiveUser(LoginRefused):
    """The Airflow account exists but is deactivated; Okta's word does not reactivate it."""

    code = "inactive_user"


class StaleToken(LoginRefused):
    """The sign-in's evidence is older than what the account reflects: it may take access away, never give it back."""

    code = "stale_token"


class RateLimited(LoginRefused):
    """One person signed in with Okta tokens more often than ``OKTA_PERSON_SIGN_INS_PER_MINUTE`` allows."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OktaApiMisconfigured(LoginRefused):
    """Okta refused Airflow's Management API call for the user's groups (credentials, scopes, org)."""

    code = "okta_api_misconfigured"


class BotRefused(OktaSecurityError):
    """A bot's token exchange (or API call) that must not succeed; ``message`` is safe to send the bot.

    ``http_status`` is what the Airflow adapters answer (401, 403 or 503).
    """

    code = "bot_refused"
    http_status = 403

    def __init__(self, message: str, *, client_id: str | None = None) -> None:
        self.message = message
        self.client_id = client_id
        super().__init__(message)


class AccessTokenRejected(BotRefused):
    """The Okta access token failed a check; ``reason`` is a stable sub-code (never the token)."""

    code = "invalid_access_token"
    http_status = 401

    def __init__(self, reason: str, message: str, *, client_id: str | None = None) -> None:
        self.reason = reason
        super().__init__(message, client_id=client_id)


class UnmappedClient(BotRefused):
    """The token is valid, but its client is not mapped to any Airflow role."""

    code = "unmapped_client"


class ServiceUserConflict(BotRefused):
    """The client's service username already belongs to an Airflow user that is not this client's."""

    code = "service_user_conflict"


class ServiceUserInactive(BotRefused):
    """The client's service user exists but an Airflow admin deactivated it."""

    code = "service_user_inactive"


class OktaKeysUnavailable(BotRefused):
    """The issuer's JWKS could not be fetched, so no token can be verified right now."""

    code = "okta_keys_unavailable"
    http_status = 503


class ServiceUserLogin(LoginRefused):
    """A person's Okta username names a bot's service user: a login must never take it over."""

    code = "service_user_login"


class OktaUserChanged(LoginRefused):
    """The account is linked to another Okta user (a reused or renamed login): never signed into."""

    code = "okta_user_changed"

    def __init__(self, account: str, okta_sub: str, linked_sub: str) -> None:
        self.account = account
        self.okta_sub = okta_sub
        self.linked_sub = linked_sub  # the other person's Okta id: for the log and audit, never the page
        super().__init__(
            f"The Airflow account {account!r} belongs to another Okta user, so Airflow did not sign you in to it "
            "(your Okta login may have belonged to someone else before). Ask your Airflow administrator: if the "
            f"account is yours, they run `okta-airflow relink {account} --to-okta-user {okta_sub}`; otherwise they "
            "rename or delete the old account, and your next sign-in creates a new one."
        )


class UnlinkedAccount(LoginRefused):
    """An account okta_security never linked matches the login, and adopting such accounts is off."""

    code = "unlinked_account"

    def __init__(self, account: str, okta_sub: str) -> None:
        self.account = account
        self.okta_sub = okta_sub
        super().__init__(
            f"An Airflow account named {account!r} already exists but was never linked to an Okta user, and this "
            "Airflow does not take such accounts over at sign-in. Ask your Airflow administrator: if the account is "
            f"yours, they run `okta-airflow relink {account} --to-okta-user {okta_sub}`; otherwise they rename or "
            "delete it, and your next sign-in creates a new one."
        )


class SignedOut(LoginRefused):
    """Okta's Universal Logout signed the person out after this token (or session) began: sign in again."""

    code = "signed_out"


class LogoutRefused(OktaSecurityError):
    """A global token revocation request (Okta's Universal Logout) that must change nothing.

    ``status`` is the HTTP answer draft-parecki-oauth-global-token-revocation §3.4.2 gives it;
    ``reason`` a stable sub-code for the audit trail; ``message`` is safe to send back.
    """

    code = "logout_refused"
    status = 400

    def __init__(self, reason: str, message: str, *, jti: str | None = None) -> None:
        self.reason = reason
        self.message = message
        self.jti = jti  # the request JWT's, once its signature verified (the audit trail's key)
        super().__init__(message)


class LogoutUnauthorized(LogoutRefused):
    """The ``Authorization: Bearer`` JWT is missing, not Okta's, or fails a claim check."""

    code = "logout_unauthorized"
    status = 401


class LogoutMalformed(LogoutRefused):
    """The body is not ``{"sub_id": {...}}`` in a subject format Airflow reads (``iss_sub``, ``email``)."""

    code = "logout_malformed"
    status = 400


class LogoutUnknownSubject(LogoutRefused):
    """No Airflow account belongs to the subject (draft §3.4.2: 404 User Not Found)."""

    code = "logout_unknown_subject"
    status = 404


class LogoutUnavailable(LogoutRefused):
    """Okta's signing keys or Airflow's database did not answer: nothing was done; Okta may retry."""

    code = "logout_unavailable"
    status = 503


class RelinkRefused(OktaSecurityError):
    """``okta-airflow relink`` cannot link the account as asked; the message says why and what to do."""

    code = "relink_refused"


class TokenRequestInvalid(OktaSecurityError):
    """A token request Airflow cannot act on; ``oauth_error`` is its RFC 6749 §5.2 code.

    ``invalid_request`` (a missing or repeated parameter) or ``unsupported_grant_type``.
    """

    code = "invalid_token_request"

    def __init__(self, oauth_error: str, message: str) -> None:
        self.oauth_error = oauth_error
        self.message = message
        super().__init__(message)


class DeviceSignInFailed(OktaSecurityError):
    """``okta-airflow login`` could not get a token; ``error`` is the OAuth code Okta or Airflow answered.

    ``access_denied`` and ``expired_token`` (RFC 8628 §3.5) are the person's to fix; ``unreachable``
    means Okta or Airflow did not answer.
    """

    code = "device_sign_in_failed"

    def __init__(self, error: str, message: str) -> None:
        self.error = bounded(error, OAUTH_ERROR_CHARS)
        self.message = message
        super().__init__(message)


class TooManyDeactivations(OktaSecurityError):
    """``sync-users`` would deactivate more accounts than allowed; nothing was applied (exit code 4)."""

    code = "too_many_deactivations"


# ---------------------------------------------------------------------------------------------
# One table for what a refusal means at every door: outage or verdict, who can fix it, and the
# HTTP status of each kind of answer. The refusal page, POST /auth/token and the 2.11 API read it.

Category = Literal["access", "unavailable", "misconfigured"]

# OAuth error codes (RFC 6749 4.1.2.1 and 5.2) that Okta answers when Airflow's request or its Okta
# app is wrong, not the person: nobody can sign in until an administrator fixes the configuration.
MISCONFIGURED_OKTA_ERRORS = frozenset(
    {
        "invalid_client",
        "invalid_scope",
        "invalid_request",
        "unauthorized_client",
        "unsupported_response_type",
        "unsupported_grant_type",
    }
)


@dataclass(frozen=True)
class Classification:
    """What a refusal means: ``outage`` (try again later), its page ``category``, and its HTTP statuses."""

    outage: bool
    category: Category
    api_status: int  # a refused API request (bearer token): 401 bad token, 403 refused, 503 outage
    grant_status: int  # a refused grant at POST /auth/token (RFC 6749 §5.2): 400, or 503 for an outage


def classify(error: OktaSecurityError) -> Classification:
    """Return what ``error`` means at every door."""
    outage = isinstance(error, OktaKeysUnavailable | OktaUnavailable | DatabaseUnavailable)
    if outage:
        return Classification(True, "unavailable", 503, 503)
    if isinstance(error, RateLimited):
        return Classification(False, "access", 429, 429)
    api_status = error.http_status if isinstance(error, BotRefused) else 403
    return Classification(False, _category(error), api_status, 400)


def _category(error: OktaSecurityError) -> Category:
    if isinstance(error, DiscoveryMismatch | OktaApiMisconfigured):
        return "misconfigured"
    if isinstance(error, OktaError) and error.error in MISCONFIGURED_OKTA_ERRORS:
        return "misconfigured"
    if isinstance(error, OktaError) and error.error == "invalid_grant" and "redirect_uri" in error.description:
        return "misconfigured"  # the callback URL Airflow builds differs from the one it sent (proxy, base_url)
    return "access"
