"""The registered claims of a short-lived JWT the Okta org signs for one recipient (pure).

Okta's Universal Logout request and an agent's ID-JAG are both such assertions: ``iss`` the org,
``aud`` exactly one URL, ``sub``, ``jti``, ``iat`` and ``exp`` required, ``iat`` not in the future and
``exp`` at most ``max_lifetime`` after it. :func:`claims_problem` says what is wrong, as a stable reason
and a sentence; each caller raises its own refusal with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from joserfc.jwt import ClaimsOption


def claims_problem(
    claims: Mapping[str, Any],
    *,
    what: str,
    org: str,
    audience: str,
    audience_setting: str,
    leeway: int,
    now: float,
    max_lifetime: int,
    essential: tuple[str, ...] = (),
) -> tuple[str, str] | None:
    """Return ``(reason, message)`` for the first check ``claims`` fail, or None; ``what`` names the token."""
    required: dict[str, ClaimsOption] = {name: {"essential": True} for name in ("sub", "jti", "iat", "exp", *essential)}
    registry = jwt.JWTClaimsRegistry(
        now=int(now),
        leeway=leeway,
        iss={"essential": True, "value": org},
        aud={"essential": True, "value": audience},
        **required,
    )
    try:
        registry.validate(dict(claims))
    except ExpiredTokenError:
        return "expired", f"{what} has expired."
    except MissingClaimError as e:
        return "missing_claims", f"{what} lacks required claims: {e.claim}."
    except InvalidClaimError as e:
        expected = {
            "iss": f"it must be the Okta org, {org}",
            "aud": f"it must be {audience} ({audience_setting})",
            "iat": "it must be given and not in the future",
        }.get(e.claim, "it is required")
        return f"bad_{e.claim}", f"{what}'s '{e.claim}' claim is missing or wrong: {expected}."
    except JoseError as e:  # joserfc's other claim errors (e.g. a non-numeric iat)
        return "bad_claims", f"{what}'s claims are unusable: {e.description}."
    aud = claims["aud"]
    if isinstance(aud, list) and aud != [audience]:  # exactly this recipient
        return "bad_aud", f"{what}'s 'aud' must be exactly {audience} ({audience_setting})."
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int | float) or not isinstance(exp, int | float) or isinstance(iat, bool):
        return "bad_claims", f"{what}'s 'iat' and 'exp' must be numbers."
    if exp - iat > max_lifetime:
        return "lifetime_too_long", f"{what} may live at most {max_lifetime} s ('exp' - 'iat')."
    return None
