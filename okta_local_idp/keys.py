"""The authorization server's RSA signing key, its JWKS and JWT signing (joserfc)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, cast

from joserfc import jwt
from joserfc.jwk import KeyParameters, KeySet, KeySetSerialization, RSAKey

log = logging.getLogger(__name__)

ALGORITHM = "RS256"
_PARAMETERS: KeyParameters = {"alg": ALGORITHM, "use": "sig"}


class SigningKeys:
    """Sign JWTs with one RSA key and publish its public half as a JWKS."""

    def __init__(self, key: RSAKey) -> None:
        if not key.is_private:
            raise ValueError("the signing key must be a private RSA key")
        key.ensure_kid()
        self._key = key
        self._previous: tuple[RSAKey, ...] = ()  # still published after a rotation, like Okta
        self._extra: RSAKey | None = None  # a second key, used only by faults (see extra_key)

    @classmethod
    def generate(cls) -> SigningKeys:
        """Generate a fresh 2048-bit key."""
        return cls(RSAKey.generate_key(2048, parameters=_PARAMETERS.copy(), auto_kid=True))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> SigningKeys:
        """Load a private key from a PEM file or a JWK (JSON) file."""
        data = Path(path).read_bytes()
        if data.lstrip().startswith(b"{"):
            key = RSAKey.import_key(json.loads(data), parameters=_PARAMETERS.copy())
        else:
            key = RSAKey.import_key(data, parameters=_PARAMETERS.copy())
        return cls(key)

    @classmethod
    def load_or_generate(cls, path: str | os.PathLike[str] | None) -> SigningKeys:
        """Load the key at ``path``; create it there first if it does not exist."""
        if path is None:
            return cls.generate()
        file = Path(path)
        if file.exists():
            log.info("loaded signing key from %s", file)
            return cls.from_file(file)
        keys = cls.generate()
        file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(keys._key.as_pem(private=True))
        log.info("generated a signing key and saved it to %s", file)
        return keys

    @property
    def key(self) -> RSAKey:
        """Return the private key (for authlib's ID token encoding)."""
        return self._key

    @property
    def kid(self) -> str:
        """Return the key id put in JWT headers and the JWKS."""
        return str(self._key.kid)

    def public_jwks(self) -> dict[str, Any]:
        """Return the JWKS document served at ``/v1/keys``: the signing key, then any previous ones."""
        keys = []
        for key in (self._key, *self._previous):
            public = key.as_dict(private=False)
            public.update(alg=ALGORITHM, use="sig")
            keys.append(public)
        return {"keys": keys}

    def rotate(self, *, keep_previous: bool = True) -> str:
        """Sign with a fresh key from now on and return its ``kid`` (in memory only, not saved).

        ``keep_previous`` keeps publishing the old key so tokens it signed stay verifiable
        (Okta's scheduled rotation); ``False`` drops every old key at once (an emergency rotation).
        """
        old = self._key
        new = RSAKey.generate_key(2048, parameters=_PARAMETERS.copy(), auto_kid=True)
        self._previous = (old, *self._previous)[:1] if keep_previous else ()
        self._key = new
        state = "still published" if keep_previous else "withdrawn"
        log.warning("rotated the signing key: %s -> %s (previous key %s)", old.kid, new.kid, state)
        return str(new.kid)

    def extra_key(self) -> RSAKey:
        """Return a second private key, made on first use; only faults publish or sign with it."""
        if self._extra is None:
            self._extra = RSAKey.generate_key(2048, parameters=_PARAMETERS.copy(), auto_kid=True)
        return self._extra

    def public_key_set(self) -> KeySet:
        """Return the public keys as a joserfc KeySet (for verifying)."""
        return KeySet.import_key_set(cast("KeySetSerialization", self.public_jwks()))

    def sign(self, claims: dict[str, Any], *, typ: str | None = None) -> str:
        """Return ``claims`` as a signed RS256 JWT with this key's ``kid`` (and the header ``typ``, if given)."""
        key = self._key  # one read: a concurrent rotate() must not pair one key's kid with another's signature
        header = {"alg": ALGORITHM, "kid": str(key.kid), **({"typ": typ} if typ else {})}
        return jwt.encode(header, claims, key, algorithms=[ALGORITHM])

    def verify(self, token: str) -> dict[str, Any]:
        """Return the claims of ``token`` after checking its signature (not its claims)."""
        return dict(jwt.decode(token, self.public_key_set(), algorithms=[ALGORITHM]).claims)
