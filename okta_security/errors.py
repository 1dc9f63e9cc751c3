"""Errors raised by okta_security, each with a stable ``code``.

::

    OktaSecurityError                  code
    ├── ConfigError                    "invalid_config"      settings missing/malformed (lists every problem)
    ├── MappingError                   "invalid_mapping"     role-mapping YAML unusable (file:line: problem)
    └── LoginRefused                   (subclass sets code)  a login attempt that must not succeed
        ├── NoMappedRole               "no_mapped_role"      groups match no rule and default_role is null
        ├── IdentityError              "invalid_identity"    claims unusable (no sub, no username, ...)
        ├── UserinfoMismatch           "userinfo_sub_mismatch"  userinfo ``sub`` differs from the ID token's
        ├── TokenValidationError       "invalid_id_token"    ID token signature/claims rejected
        ├── StateMismatch              "invalid_state"       callback state unknown, reused or tampered
        ├── OktaError                  "okta_error"          Okta answered the authorization with an error
        ├── OktaUnavailable            "okta_unavailable"    Okta did not answer (timeout, 5xx)
        └── EmailConflict              "email_conflict"      another Airflow user already has this email

Codes are part of the public contract: logs, the audit trail and the CLI print them,
and admins grep for them. Never rename one.
"""

from __future__ import annotations

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


class LoginRefused(OktaSecurityError):
    """A login that must not succeed; ``message`` is safe to show the user."""

    code = "login_refused"

    def __init__(self, message: str) -> None:
        self.message = message
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
        self.error = error
        self.description = description or ""
        hint = _OKTA_HINTS.get(error, "")
        super().__init__(f"Okta refused the sign-in: {error}: {self.description}{hint}")


class OktaUnavailable(LoginRefused):
    """Okta could not be reached or answered with a server error."""

    code = "okta_unavailable"


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
