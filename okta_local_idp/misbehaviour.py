"""Apply the ID token and key faults: tokens and a JWKS an RP must refuse (or cope with).

Everything here runs only while a fault from :mod:`okta_local_idp.faults` is on; without one,
the ID token authlib signed and the JWKS of :class:`~okta_local_idp.keys.SigningKeys` pass
through untouched. The modes follow the OpenID Foundation's RP certification tests
(``rp-id_token-*``, ``rp-nonce-invalid``, ``rp-discovery-issuer-not-matching-config``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.jwk import OctKey
from joserfc.util import json_b64encode, to_str, urlsafe_b64decode, urlsafe_b64encode

from .keys import ALGORITHM

if TYPE_CHECKING:
    from joserfc.jwk import RSAKey

    from .context import IdpContext
    from .models import Client

log = logging.getLogger(__name__)

ID_TOKEN_FAULTS = (
    "id_token_iss",
    "id_token_aud",
    "id_token_nonce",
    "id_token_drop_claims",
    "id_token_exp_offset",
    "id_token_alg",
    "id_token_kid_absent",
    "id_token_extra_key",
)


def misbehave_id_token(idp: IdpContext, id_token: str, client: Client) -> str:
    """Return ``id_token`` rewritten by the active ID token faults (unchanged when none is on)."""
    faults = {
        name: value
        for name, value in idp.effective_faults().items()
        if name in ID_TOKEN_FAULTS and value is not False and value != []
    }
    if not faults:
        return id_token
    claims = idp.keys.verify(id_token)  # our own token, signed a moment ago
    for name in ("iss", "aud", "nonce"):
        if f"id_token_{name}" in faults:
            claims[name] = faults[f"id_token_{name}"]
    if "id_token_exp_offset" in faults:
        claims["exp"] = int(claims["iat"]) + int(faults["id_token_exp_offset"])
    for name in faults.get("id_token_drop_claims") or ():
        claims.pop(name, None)
    log.warning("issuing a deliberately faulty ID token (%s)", ", ".join(sorted(faults)))
    key = idp.keys.extra_key() if faults.get("id_token_extra_key") else idp.keys.key
    alg = faults.get("id_token_alg")
    if alg == "none":
        return _unsigned(claims)
    if alg == "HS256":
        return _hmac_with_client_secret(claims, client)
    header = {"alg": ALGORITHM} if faults.get("id_token_kid_absent") else {"alg": ALGORITHM, "kid": str(key.kid)}
    token = jwt.encode(header, claims, key, algorithms=[ALGORITHM])
    return _corrupt_signature(token) if alg == "bad_sig" else token


def published_jwks(idp: IdpContext) -> dict[str, Any]:
    """Return the JWKS to serve at ``/v1/keys`` under the active key faults."""
    if idp.fault("jwks_empty"):
        return {"keys": []}
    kid_absent = bool(idp.fault("id_token_kid_absent"))
    extra = bool(idp.fault("jwks_extra_key"))
    if not (kid_absent or extra):
        return idp.keys.public_jwks()
    if kid_absent:  # the certification OP's shape: its signing key(s) only, none with a kid
        keys = [_public_jwk(idp.keys.key)]
    else:
        keys = list(idp.keys.public_jwks()["keys"])
    if extra:
        keys.append(_public_jwk(idp.keys.extra_key()))
    if kid_absent:
        for key in keys:
            key.pop("kid", None)
    return {"keys": keys}


def discovery_issuer(idp: IdpContext) -> str:
    """Return the ``issuer`` the discovery documents name (the ``discovery_issuer`` fault, else the real one)."""
    return str(idp.fault("discovery_issuer") or idp.issuer)


def _public_jwk(key: RSAKey) -> dict[str, Any]:
    public = dict(key.as_dict(private=False))
    public.update(alg=ALGORITHM, use="sig")
    return public


def _unsigned(claims: dict[str, Any]) -> str:
    # alg "none" (RFC 7519 section 6): built by hand on purpose; no signing library should make one.
    return f"{to_str(json_b64encode({'alg': 'none'}))}.{to_str(json_b64encode(claims))}."


def _hmac_with_client_secret(claims: dict[str, Any], client: Client) -> str:
    # The "alg confusion" attack: an RP that accepts HS256 would verify this with the shared secret.
    if not client.client_secret:
        raise ValueError(f"id_token_alg=HS256 needs a client secret; client {client.client_id!r} has none")
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(client.client_secret), algorithms=["HS256"])


def _corrupt_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(urlsafe_b64decode(signature.encode("ascii")))
    raw[len(raw) // 2] ^= 0x01
    return f"{header}.{payload}.{to_str(urlsafe_b64encode(bytes(raw)))}"
