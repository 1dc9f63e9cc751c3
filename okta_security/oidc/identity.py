"""Turn verified Okta claims (and, when needed, userinfo) into an :class:`OktaIdentity`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from okta_security.errors import IdentityError, UserinfoMismatch
from okta_security.settings.specs import OktaSettings
from okta_security.untrusted import GROUP_NAME_CHARS

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class OktaIdentity:
    """Who Okta says signed in, and their groups."""

    sub: str
    username: str
    first_name: str
    last_name: str
    email: str
    groups: tuple[str, ...]
    groups_source: str  # "id_token" | "userinfo" | "api" (Okta's Groups API) | "none"


def has_groups_claim(claims: Mapping[str, Any], groups_claim: str = OktaSettings.groups_claim) -> bool:
    """Return whether the ID token carries the groups claim (an empty list counts)."""
    return groups_claim in claims


def _groups(value: Any, claim: str, origin: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
        raise IdentityError(
            f"The {origin} claim {claim!r} is not a list of group names. "
            "Ask your Okta administrator to check the groups claim configuration."
        )
    # Okta refuses group names over GROUP_NAME_CHARS: a longer one names no group, and only costs work.
    return tuple(dict.fromkeys(g for g in value if len(g) <= GROUP_NAME_CHARS))


def identity_from_claims(
    id_claims: Mapping[str, Any],
    userinfo: Mapping[str, Any] | None = None,
    *,
    groups_claim: str = OktaSettings.groups_claim,
) -> OktaIdentity:
    """Build the identity from the verified ID token claims, using userinfo only to fill gaps."""
    sub = id_claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise IdentityError("Okta's ID token has no 'sub' claim; the sign-in cannot be trusted.")
    if userinfo is not None and userinfo.get("sub") != sub:
        # OIDC Core 5.3.2: the userinfo sub MUST match the ID token's, or the response is not to be used.
        raise UserinfoMismatch(
            "Okta's userinfo response names a different user than the ID token, so the sign-in was refused."
        )
    merged: dict[str, Any] = dict(userinfo or {})
    merged.update({k: v for k, v in id_claims.items() if v not in (None, "")})

    login = merged.get("preferred_username") or merged.get("email")
    if not isinstance(login, str) or not login.strip():
        raise IdentityError(
            "Okta sent neither 'preferred_username' nor 'email' for this user. "
            "Request the 'profile' and 'email' scopes for the Okta app."
        )
    email = merged.get("email") if isinstance(merged.get("email"), str) else ""
    first, last = _names(merged)

    if has_groups_claim(id_claims, groups_claim):
        groups, source = _groups(id_claims[groups_claim], groups_claim, "ID token"), "id_token"
    elif userinfo is not None:
        groups, source = _groups(userinfo.get(groups_claim), groups_claim, "userinfo"), "userinfo"
    else:
        groups, source = (), "none"
    return OktaIdentity(
        sub=sub,
        username=login.strip().lower(),
        first_name=first,
        last_name=last,
        email=(email or "").strip().lower(),
        groups=groups,
        groups_source=source,
    )


def _names(claims: Mapping[str, Any]) -> tuple[str, str]:
    first = claims.get("given_name") or ""
    last = claims.get("family_name") or ""
    if not first and not last and isinstance(claims.get("name"), str):
        parts = claims["name"].strip().split(" ", 1)
        first, last = parts[0], parts[1] if len(parts) > 1 else ""
    return str(first), str(last)
