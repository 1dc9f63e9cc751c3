"""An Identity Assertion JWT Authorization Grant (ID-JAG): Okta's word that an agent acts for a person (pure).

With Okta's Cross App Access an AI agent (the "requesting app") asks the Okta org for an ID-JAG
(draft-ietf-oauth-identity-assertion-authz-grant) naming the person (``sub``, the Okta user id) and
the agent (``client_id``) for one resource (``aud``), then presents it to Airflow's token endpoint
with the jwt-bearer grant (RFC 7523 §2.1). :func:`verify_id_jag` checks it:

- header ``typ`` ``oauth-id-jag+jwt`` (an ID token or access token is never taken for one), RS256,
  signed with the org authorization server's keys (joserfc, through the shared key cache);
- ``iss`` the org URL, ``aud`` exactly ``OKTA_AGENT_AUDIENCE``, ``exp`` in the future, ``iat`` not in
  the future and at most :data:`MAX_LIFETIME_SECONDS` before ``exp``;
- ``sub``, ``client_id`` and ``jti`` present and bounded. The ``jti`` is claimed once by the caller
  (across replicas), so a grant is spent by its first use.

Refusals are :class:`okta_security.errors.AgentGrantRejected` with a stable ``reason``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from joserfc.errors import JoseError

from okta_security.errors import AgentGrantRejected, OktaKeysUnavailable
from okta_security.oidc.assertion import claims_problem
from okta_security.oidc.id_token import KeysUnavailable, MalformedToken, UnknownSigningKey, decode_signed, token_header

if TYPE_CHECKING:
    from collections.abc import Mapping

    from okta_security.oidc.id_token import JwksCache

ID_JAG_TYPE = "oauth-id-jag+jwt"  # the draft's media type, in the JOSE header's typ
MAX_TOKEN_CHARS = 16_384
MAX_LIFETIME_SECONDS = 600  # Okta issues ID-JAGs for 300 s; a grant meant to live longer is refused
MAX_ID_CHARS = 128  # sub (00u…, 20 characters), client_id, jti


@dataclass(frozen=True)
class IdJag:
    """What a verified ID-JAG vouches for (never the token itself)."""

    user_id: str  # ``sub``: the Okta user id of the person
    agent: str  # ``client_id``: the agent's client id
    jti: str
    issued_at: int
    expires_at: int
    scopes: frozenset[str] = frozenset()
    mfa: Mapping[str, Any] = field(default_factory=dict)  # amr and auth_time, when Okta copied them


def is_id_jag(token: str) -> bool:
    """Return whether an (unverified) token's header says it is an ID-JAG: only to choose the checks."""
    try:
        return len(token) <= MAX_TOKEN_CHARS and token_header(token, require_kid=False).get("typ") == ID_JAG_TYPE
    except MalformedToken:
        return False


def verify_id_jag(token: str, *, keys: JwksCache, org: str, audience: str, leeway: int, now: float) -> IdJag:
    """Return what the ID-JAG vouches for; raise AgentGrantRejected, or OktaKeysUnavailable (503)."""
    if not audience:
        raise AgentGrantRejected(
            "agents_disabled",
            "This Airflow does not take ID-JAGs: OKTA_AGENT_AUDIENCE is not set. Ask your Airflow administrator "
            "to set it to this Airflow's token endpoint URL (see docs/agents.md).",
        )
    if len(token) > MAX_TOKEN_CHARS:
        raise AgentGrantRejected("malformed", f"The assertion is longer than {MAX_TOKEN_CHARS} characters.")
    try:
        header = token_header(token, require_kid=False)
    except MalformedToken as e:
        raise AgentGrantRejected(e.reason, f"The assertion is not an RS256-signed JWT: {e.detail}.") from e
    if header.get("typ") != ID_JAG_TYPE:
        raise AgentGrantRejected(
            "wrong_type", f"The assertion is not an ID-JAG (its header's typ is not {ID_JAG_TYPE})."
        )
    try:
        decoded = decode_signed(token, keys)
    except UnknownSigningKey as e:
        raise AgentGrantRejected("unknown_key", "The ID-JAG is signed with a key the Okta org does not publish.") from e
    except KeysUnavailable as e:
        raise OktaKeysUnavailable("Okta's signing keys could not be fetched; try again.") from e
    except JoseError as e:
        raise AgentGrantRejected("bad_signature", "The ID-JAG's signature does not verify with the org's keys.") from e
    return check_claims(dict(decoded.claims), org=org, audience=audience, leeway=leeway, now=now)


def check_claims(claims: Mapping[str, Any], *, org: str, audience: str, leeway: int, now: float) -> IdJag:
    """Return the grant once its claims check out; else raise AgentGrantRejected."""
    problem = claims_problem(
        claims,
        what="The ID-JAG",
        org=org,
        audience=audience,
        audience_setting="OKTA_AGENT_AUDIENCE",
        leeway=leeway,
        now=now,
        max_lifetime=MAX_LIFETIME_SECONDS,
        essential=("client_id",),
    )
    if problem is not None:
        raise AgentGrantRejected(*problem)
    iat, exp = claims["iat"], claims["exp"]
    sub, agent, jti = (_identifier(claims, name) for name in ("sub", "client_id", "jti"))
    scope = claims.get("scope")
    return IdJag(
        user_id=sub,
        agent=agent,
        jti=jti,
        issued_at=int(iat),
        expires_at=int(exp),
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
        mfa={name: claims[name] for name in ("amr", "auth_time") if name in claims},
    )


def _identifier(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS or not value.isprintable():
        raise AgentGrantRejected(
            f"bad_{name}", f"The ID-JAG's {name!r} must be a string of 1 to {MAX_ID_CHARS} characters."
        )
    return value
