"""Sign-in started by Okta, e.g. its dashboard tile: OpenID Connect Core 1.0 §4, third-party initiated login.

Okta sends the browser to Airflow's initiate login URI with ``iss`` (required), and perhaps
``login_hint`` and ``target_link_uri``. Airflow checks ``iss`` and then starts its own
authorization request exactly as for a sign-in it started itself (PKCE, state, nonce): nothing
in these parameters is a credential, so a forged link can at most start a sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from okta_security.errors import ForeignIssuer
from okta_security.oidc.redirects import safe_next

if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_ISS_CHARS = 1024  # an issuer URL; anything longer is no issuer of ours and is refused
# An Okta login is at most 100 characters and an email 254: a longer hint is dropped, not cut (a cut
# hint would name somebody else).
MAX_LOGIN_HINT_CHARS = 256
MAX_TARGET_LINK_CHARS = 2048  # as MAX_NEXT_CHARS for ``next``: a longer target is ignored


@dataclass(frozen=True)
class InitiatedLogin:
    """What a third-party initiated login asks for, checked: a hint for Okta and where to land."""

    login_hint: str | None = None
    next_path: str | None = None  # a same-origin path taken from ``target_link_uri``


def accepted_issuers(issuer: str) -> frozenset[str]:
    """Return the ``iss`` values that name Airflow's Okta: the issuer, and its org for a custom server.

    Okta's dashboard launches an app with its org URL as ``iss`` (``https://{domain}``), whichever
    authorization server the app signs in with; a custom server's issuer is ``{org}/oauth2/{id}``.
    """
    parts = urlsplit(issuer.rstrip("/"))
    org = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.strip("/").split("/")
    custom_server = len(path) == 2 and path[0] == "oauth2"
    return frozenset({issuer.rstrip("/"), org} if custom_server else {issuer.rstrip("/")})


def read_initiated_login(params: Mapping[str, str], *, issuer: str, own_origin: str) -> InitiatedLogin | None:
    """Return the initiated login ``params`` ask for (None without ``iss``); raise ForeignIssuer for another issuer.

    ``own_origin`` is Airflow's scheme, host and port as the browser sees them (``https://airflow.example``).
    """
    iss = params.get("iss")
    if iss is None:
        return None
    if len(iss) > MAX_ISS_CHARS or iss.rstrip("/") not in accepted_issuers(issuer):
        raise ForeignIssuer
    hint = params.get("login_hint") or None
    if hint is not None and (len(hint) > MAX_LOGIN_HINT_CHARS or not hint.isprintable()):
        hint = None
    return InitiatedLogin(login_hint=hint, next_path=same_origin_path(params.get("target_link_uri"), own_origin))


def same_origin_path(target: str | None, own_origin: str) -> str | None:
    """Return ``target``'s path and query if it is on ``own_origin`` and a safe redirect; else None (ignored).

    OIDC Core §4: the RP MUST verify ``target_link_uri`` so it cannot be used as an open redirector.
    """
    if not target or len(target) > MAX_TARGET_LINK_CHARS:
        return None
    try:
        parts, own = urlsplit(target), urlsplit(own_origin)
        same = (parts.scheme.lower(), parts.netloc.lower()) == (own.scheme.lower(), own.netloc.lower())
    except ValueError:  # an invalid IPv6 host, for one
        return None
    if not same or parts.username is not None or parts.password is not None:
        return None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return path if safe_next(path, "") == path else None
