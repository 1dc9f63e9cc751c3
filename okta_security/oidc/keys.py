"""The issuers' signing keys: one cache per issuer in this process, shared by every kind of token.

ID tokens (the browser), people's and bots' access tokens are all verified with the keys of their
issuer through :func:`keys_for`; when they share an issuer they share one cache, so one key
rotation costs one re-fetch, whoever meets the new ``kid`` first.
"""

from __future__ import annotations

import threading
from typing import Any

import requests

from okta_security.oidc.id_token import JwksCache
from okta_security.okta_api import observe

_caches: dict[str, JwksCache] = {}
_caches_lock = threading.Lock()


def fetch_jwks(issuer: str, timeout: float) -> dict[str, Any]:
    """Return the issuer's JWKS, found through its discovery document (two GETs, not rate-limited by Okta)."""
    discovery = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=timeout, hooks=observe.HOOKS)
    discovery.raise_for_status()
    metadata = discovery.json()
    if metadata.get("issuer") != issuer:  # OIDC Discovery 4.3: never trust keys of another issuer
        raise ValueError(f"discovery document of {issuer} names the issuer {metadata.get('issuer')!r}")
    keys = requests.get(metadata["jwks_uri"], timeout=timeout, hooks=observe.HOOKS)
    keys.raise_for_status()
    return dict(keys.json())


def keys_for(issuer: str, *, timeout: float, min_refetch_interval: float) -> JwksCache:
    """Return this process's key cache for ``issuer`` (made at the first call; later settings do not change it)."""
    with _caches_lock:
        cache = _caches.get(issuer)
        if cache is None:
            cache = _caches[issuer] = JwksCache(
                lambda: fetch_jwks(issuer, timeout), min_refetch_interval=min_refetch_interval
            )
        return cache
