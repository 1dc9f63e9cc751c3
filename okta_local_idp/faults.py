"""Deliberate misbehaviour ("faults") for security tests of the relying party.

Faults come from ``server.faults`` in the YAML file and from runtime overrides set
through ``POST /__idp/faults`` (loopback only) or :meth:`IdpHandle.set_faults`.
Runtime overrides win; a ``null`` value removes an override.

Known faults:

``userinfo_sub`` (str)
    ``/v1/userinfo`` answers with this ``sub`` instead of the user's id.
``id_token_groups`` (bool)
    ``false`` leaves the ``groups`` claim out of ID tokens even when configured.

Management API faults (``/api/v1``; applied in :mod:`okta_local_idp.management_api`):

``api_status`` (int)
    Answer with this HTTP status: 429 is Okta's rate limit (``E0000047``, ``X-Rate-Limit-Remaining: 0``),
    5xx an outage (``E0000009``).
``api_status_times`` (int)
    Only the next N calls get ``api_status`` (counts down); unset = every call.
``api_rate_limit_reset_in`` (int)
    With ``api_status: 429``, ``X-Rate-Limit-Reset`` lies this many seconds ahead (default 1).
``api_delay_ms`` (int)
    Answer every Management API call this many milliseconds late (a slow Okta).

ID token and key faults (the OpenID Foundation's RP certification tests; applied in
:mod:`okta_local_idp.misbehaviour`):

``id_token_iss`` / ``id_token_aud`` / ``id_token_nonce`` (str)
    Put this ``iss`` / ``aud`` / ``nonce`` in ID tokens (rp-id_token-issuer-mismatch, -aud, rp-nonce-invalid).
``id_token_drop_claims`` (list of str)
    Leave these claims out of ID tokens, e.g. ``[sub]`` or ``[iat]`` (rp-id_token-sub, rp-id_token-iat).
``id_token_exp_offset`` (int)
    ID tokens expire this many seconds after ``iat``; negative = already expired.
``id_token_alg`` (``none`` | ``HS256`` | ``bad_sig``)
    Unsigned ID tokens; HMAC-signed with the client secret; RS256 with a corrupted signature.
``id_token_kid_absent`` (bool)
    No ``kid`` in ID token headers, and the JWKS publishes only the signing key (+ the extra
    key, if on), without ``kid`` (rp-id_token-kid-absent-single-jwks / -multiple-jwks).
``id_token_extra_key`` (bool)
    Sign ID tokens with the IdP's second key (published only with ``jwks_extra_key``).
``jwks_extra_key`` (bool)
    The JWKS also publishes a second RSA key.
``jwks_status`` (int)
    ``/v1/keys`` answers with this HTTP error status (an Okta outage while keys are re-fetched).
``discovery_issuer`` (str)
    The discovery documents name this ``issuer`` (rp-discovery-issuer-not-matching-config).

Benchmark faults (applied in :mod:`okta_local_idp.backchannel`):

``latency_ms`` (int)
    Answer every back-channel request (token, keys, userinfo, discovery, introspection,
    revocation, Management API) this many milliseconds late: a WAN round trip to Okta.

Operability faults (what ``okta-airflow doctor`` must diagnose):

``jwks_empty`` (bool)
    ``/v1/keys`` publishes no key at all (an issuer without RS256 signing keys).
``date_offset_seconds`` (int)
    The ``Date`` header of the authorization server's responses is shifted by this many seconds
    (a relying party whose clock is off by the opposite amount).

Session faults (applied in :mod:`okta_local_idp.views`):

``sign_in_age_seconds`` (int)
    A sign-in at the IdP counts as made this many seconds ago (its ``auth_time``): evidence that
    ages out soon, without waiting for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

KNOWN_FAULTS: dict[str, type] = {
    "userinfo_sub": str,
    "id_token_groups": bool,
    "api_status": int,
    "api_status_times": int,
    "api_rate_limit_reset_in": int,
    "api_delay_ms": int,
    "id_token_iss": str,
    "id_token_aud": str,
    "id_token_nonce": str,
    "id_token_drop_claims": list,
    "id_token_exp_offset": int,
    "id_token_alg": str,
    "id_token_kid_absent": bool,
    "id_token_extra_key": bool,
    "jwks_extra_key": bool,
    "jwks_status": int,
    "discovery_issuer": str,
    "jwks_empty": bool,
    "date_offset_seconds": int,
    "latency_ms": int,
    "sign_in_age_seconds": int,
}
FAULT_CHOICES: dict[str, tuple[str, ...]] = {"id_token_alg": ("none", "HS256", "bad_sig")}


class FaultError(ValueError):
    """A fault name or value is not understood."""


def validate_faults(faults: Mapping[str, Any], *, allow_none: bool = False) -> dict[str, Any]:
    """Return ``faults`` as a dict after checking names and value types."""
    problems = []
    for name, value in faults.items():
        expected = KNOWN_FAULTS.get(name)
        if expected is None:
            problems.append(f"unknown fault {name!r} (known: {', '.join(sorted(KNOWN_FAULTS))})")
        elif value is None and allow_none:
            continue
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            problems.append(f"fault {name!r} must be a {expected.__name__}")
        elif name in FAULT_CHOICES and value not in FAULT_CHOICES[name]:
            problems.append(f"fault {name!r} must be one of {', '.join(FAULT_CHOICES[name])}")
        elif isinstance(value, list) and not all(isinstance(item, str) for item in value):
            problems.append(f"fault {name!r} must be a list of claim names (strings)")
    if problems:
        raise FaultError("; ".join(problems))
    return dict(faults)
