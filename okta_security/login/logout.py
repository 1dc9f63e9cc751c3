"""Decide whether a logout request may end the Okta session without asking (pure: no I/O).

Ending the Okta session signs the person out of every application that uses Okta, and a plain
link does it: the session cookie (SameSite=Lax) goes along on a top-level navigation from any
site. So a logout that another site started ends Airflow's session at most, and the person
confirms before the Okta session ends. Who started the request is the browser's word in Fetch
Metadata's ``Sec-Fetch-Site`` (sent by every current browser, and kept across same-origin
redirects such as the UI's ``/api/v2/auth/logout``); older browsers are judged by ``Origin``,
else ``Referer``. With none of them (a bookmark on an old browser, a script) the request goes
through, as it always did.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# Sec-Fetch-Site values of requests the person made on Airflow itself or by hand (typed, bookmarked).
_OWN_INITIATIVE = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """Return the URL's origin (``scheme://host[:port]``, lower-cased, default port dropped), or None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host.lower()}{suffix}"


def is_cross_site(*, sec_fetch_site: str | None, origin: str | None, referer: str | None, own_origin: str) -> bool:
    """Return whether another origin (or an unknown one) started the request; Airflow is at ``own_origin``."""
    if sec_fetch_site:
        return sec_fetch_site.strip().lower() not in _OWN_INITIATIVE
    own = origin_of(own_origin)
    for header in (origin, referer):
        if header:  # "null" (an opaque origin: sandboxed frame, data: URL) has no origin either
            return own is None or origin_of(header) != own
    return False
