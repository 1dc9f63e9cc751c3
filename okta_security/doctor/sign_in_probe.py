"""Ask the running Airflow, at its public base URL, which sign-in redirect URI it really sends Okta.

Behind a TLS-terminating proxy Airflow builds the redirect URI from the request it sees: with
``[fab] enable_proxy_fix`` off (or a proxy that does not send ``X-Forwarded-Proto``/``-Host``) it
sends ``http://<internal host>/…`` while Okta has ``https://<public host>/…`` registered; an
ingress that strips the base URL's path loses the path. The doctor starts a sign-in at the
public URL, as a browser would, stops at the redirect to Okta, and compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import requests

if TYPE_CHECKING:
    from okta_security.doctor.report import DoctorContext

DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_SHOWN_CHARS = 300  # a redirect URI read from an answer is untrusted text


@dataclass(frozen=True)
class LiveRedirect:
    """What the running Airflow answered to a sign-in started at its public URL."""

    start: str  # the URL the doctor opened
    sent: str | None  # redirect_uri in Airflow's redirect to Okta; None: no such redirect
    problem: str = ""  # why nothing could be compared ("" when ``sent`` is set)


def sign_in_start(ctx: DoctorContext) -> str | None:
    """Return the public URL where a browser starts the Okta sign-in, or None without a base URL."""
    facts = ctx.airflow
    if facts is None or not facts.base_url:
        return None
    return f"{facts.base_url.rstrip('/')}{facts.layout.fab_prefix}/login/okta"


def probe(ctx: DoctorContext) -> LiveRedirect | None:
    """Open the sign-in at the public URL (no redirects followed); None without a base URL."""
    start = sign_in_start(ctx)
    if start is None:
        return None
    timeout = getattr(ctx.settings, "http_timeout_seconds", None) or DEFAULT_TIMEOUT_SECONDS
    try:
        resp = ctx.http.get(start, allow_redirects=False, timeout=timeout)
    except requests.RequestException as e:
        reason = type(e).__name__ if not str(e) else str(e)[:MAX_SHOWN_CHARS]
        return LiveRedirect(start, None, f"not reachable from here ({reason})")
    if not resp.is_redirect:
        return LiveRedirect(start, None, f"answered HTTP {resp.status_code} instead of a redirect to Okta")
    query = parse_qs(urlsplit(resp.headers.get("Location", "")).query)
    sent = query.get("redirect_uri", [None])[0]
    if sent is None:
        return LiveRedirect(start, None, "redirected without a redirect_uri (not to Okta's authorize endpoint)")
    return LiveRedirect(start, sent[:MAX_SHOWN_CHARS])


def mismatch(ctx: DoctorContext, sent: str, expected: str) -> tuple[list[str], list[str]]:
    """Explain why Airflow sends ``sent`` where its base URL gives ``expected``; return (lines, fixes)."""
    facts = ctx.airflow
    assert facts is not None
    section, key = facts.layout.enable_proxy_fix
    proxy_fix = f"AIRFLOW__{section.upper()}__{key.upper()}"
    got, want = urlsplit(sent), urlsplit(expected)
    lines = [f"Airflow sends Okta redirect_uri={sent}, but its base URL gives {expected}"]
    fixes: list[str] = []
    if (got.scheme, got.netloc) != (want.scheme, want.netloc):
        what = "scheme" if got.netloc == want.netloc else "host" if got.scheme == want.scheme else "scheme and host"
        if not facts.enable_proxy_fix:
            lines.append(
                f"the {what} differ: Airflow sees the request as the proxy forwards it "
                f"({got.scheme}://{got.netloc}) because [{section}] {key} is off"
            )
            fixes.append(
                f"set {proxy_fix}=True and have the proxy send X-Forwarded-Proto, X-Forwarded-Host and "
                "X-Forwarded-Port (ingress-nginx does)"
            )
        else:
            lines.append(
                f"the {what} differ although [{section}] {key} is on: the proxy does not send "
                "X-Forwarded-Proto/X-Forwarded-Host, or more proxies than [fab] proxy_fix_x_* trusts are in front"
            )
            fixes.append("make the proxy in front of Airflow send X-Forwarded-Proto and X-Forwarded-Host")
    if got.path != want.path:
        lines.append(f"the path differs ({got.path} instead of {want.path})")
        fixes.append(
            "have the ingress pass the base URL's path through unchanged (no rewrite) and keep [api] base_url "
            "equal to the URL people open"
        )
    return lines, fixes
