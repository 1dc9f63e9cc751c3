"""The doctor's checks that read Okta's public endpoints: discovery, issuer, keys, groups claim, clock.

Every call has OKTA_HTTP_TIMEOUT_SECONDS as connect and read timeout; a failure becomes a check
result that says why and what to do (:class:`Unreachable`). The probes that act as Airflow would
(token and authorization requests) are in :mod:`okta_security.doctor.probes`.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from okta_security.doctor.report import CheckResult, DoctorContext, Verdicts, json_body
from okta_security.oidc.provider import scopes_for

if TYPE_CHECKING:
    from okta_security.settings.loader import OktaSettings

REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
CLOCK_OK_SECONDS = 5  # below this, skew is noise (Date has one-second resolution)
ID_TOKEN_LIFETIME_SECONDS = 3600  # Okta ID tokens are valid for one hour


class Unreachable(Exception):
    """An HTTP call to Okta failed; ``detail`` and ``fix`` say why and what to do."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


def request_okta(ctx: DoctorContext, method: str, url: str, **kwargs: Any) -> requests.Response:
    host = urlsplit(url).netloc
    kwargs.setdefault("timeout", (ctx.timeout, ctx.timeout))
    try:
        return ctx.http.request(method, url, **kwargs)
    except requests.Timeout as e:
        raise Unreachable(
            f"{url}: no answer within {ctx.timeout:g} s",
            f"check that this host can reach {host} (firewall, HTTPS_PROXY); raise OKTA_HTTP_TIMEOUT_SECONDS "
            "only if the network is known to be slow",
        ) from e
    except requests.ConnectionError as e:
        raise Unreachable(
            f"{url}: cannot connect to {host} ({_reason(e)})",
            "check the host name in OKTA_ISSUER (your Okta domain, e.g. dev-123456.okta.com) and that this host "
            "can reach it: DNS, firewall, and HTTPS_PROXY/NO_PROXY if outbound traffic goes through a proxy",
        ) from e
    except requests.RequestException as e:
        raise Unreachable(f"{url}: {_reason(e)}", "check OKTA_ISSUER and this host's network access to Okta") from e


def _reason(error: Exception) -> str:
    text = str(error)
    for marker in ("Failed to resolve", "Connection refused", "Name or service not known", "certificate verify failed"):
        if marker in text:
            return marker
    return type(error).__name__


# -- discovery, issuer, keys ---------------------------------------------------------------------


def check_discovery(ctx: DoctorContext) -> CheckResult:
    """The issuer's discovery document is reachable and has what a login needs."""
    check = Verdicts("discovery", "Discovery document")
    if ctx.settings is None:
        return check.skip("the OKTA_* settings are not valid")
    url = ctx.settings.discovery_url
    sent = ctx.clock()
    try:
        resp = request_okta(ctx, "GET", url, headers={"Accept": "application/json"})
    except Unreachable as e:
        return check.fail(e.detail, e.fix, url=url)
    ctx.discovery_timing = (sent, ctx.clock(), resp.headers.get("Date"))
    if resp.status_code != 200:
        return check.fail(f"{url}: HTTP {resp.status_code}", _discovery_fix(ctx.settings, resp), url=url)
    doc = json_body(resp)
    if doc is None:
        return check.fail(
            f"{url}: not a JSON document (Content-Type {resp.headers.get('Content-Type', '?')})",
            "OKTA_ISSUER must be the issuer itself (not a sign-in page or a proxy in front of it)",
            url=url,
        )
    missing = [k for k in REQUIRED_METADATA if not doc.get(k)]
    if missing:
        return check.fail(
            f"{url}: lacks {', '.join(missing)}", "point OKTA_ISSUER at an Okta authorization server", url=url
        )
    ctx.discovery = doc
    ms = resp.elapsed.total_seconds() * 1000
    return check.ok(f"{url} (HTTP 200, {ms:.0f} ms)", url=url)


def _discovery_fix(settings: OktaSettings, resp: requests.Response) -> str:
    path = urlsplit(settings.issuer).path
    if resp.status_code == 404 and path.startswith("/oauth2/"):
        server = path.removeprefix("/oauth2/")
        return (
            f"there is no authorization server {server!r}: copy the Issuer URI from Okta (Security → API → "
            "Authorization Servers), or use the org authorization server, OKTA_ISSUER=https://<your Okta domain>"
        )
    if resp.status_code in (401, 403):
        return (
            "custom authorization servers need Okta's API Access Management; without it use the org "
            "authorization server: OKTA_ISSUER=https://<your Okta domain>"
        )
    if resp.status_code == 404:
        return (
            "OKTA_ISSUER is not an Okta issuer: use https://<your Okta domain> "
            "or https://<your Okta domain>/oauth2/default"
        )
    return "Okta answered with an error; try again, and check https://status.okta.com if it persists"


def check_issuer(ctx: DoctorContext) -> CheckResult:
    """The discovery document's ``issuer`` equals OKTA_ISSUER exactly (ID tokens carry it as ``iss``)."""
    check = Verdicts("issuer", "Issuer matches OKTA_ISSUER")
    if ctx.discovery is None or ctx.settings is None:
        return check.skip("no discovery document")
    found, expected = ctx.discovery["issuer"], ctx.settings.issuer
    if found == expected:
        return check.ok(found)
    return check.fail(
        f"Okta says issuer {found!r}, OKTA_ISSUER is {expected!r}: every ID token would be refused (iss)",
        f"set OKTA_ISSUER={found} exactly as Okta reports it (Security → API → Authorization Servers → Issuer); "
        "with a custom domain, Okta reports that domain",
        found=found,
        expected=expected,
    )


def check_jwks(ctx: DoctorContext) -> CheckResult:
    """The JWKS is reachable and holds at least one RS256 signing key."""
    check = Verdicts("jwks", "Signing keys (JWKS)")
    if ctx.discovery is None:
        return check.skip("no discovery document")
    uri = ctx.discovery["jwks_uri"]
    algs = ctx.discovery.get("id_token_signing_alg_values_supported")
    try:
        resp = request_okta(ctx, "GET", uri, headers={"Accept": "application/json"})
    except Unreachable as e:
        return check.fail(e.detail, e.fix, url=uri)
    keys = (json_body(resp) or {}).get("keys")
    if not isinstance(keys, list):
        return check.fail(
            f"{uri}: HTTP {resp.status_code}, no key set", "check the jwks_uri of the authorization server", url=uri
        )
    rs256 = [
        k
        for k in keys
        if isinstance(k, dict)
        and k.get("kty") == "RSA"
        and k.get("alg", "RS256") == "RS256"
        and k.get("use", "sig") == "sig"
    ]
    if not rs256 or (algs is not None and "RS256" not in algs):
        return check.fail(
            f"{uri}: {len(keys)} key(s), none for RS256 (ID token algorithms offered: {algs})",
            "okta_security accepts only RS256-signed ID tokens, Okta's default: check that OKTA_ISSUER is your Okta "
            "authorization server and, with manual key rotation, that it has an active key "
            "(Security → API → Authorization Servers → <server> → Signing Key Rotation)",
            url=uri,
            keys=len(keys),
        )
    try:
        KeySet.import_key_set({"keys": rs256})
    except (JoseError, ValueError, TypeError) as e:
        return check.fail(f"{uri}: unusable RS256 key: {e}", "check the authorization server's signing keys", url=uri)
    kids = ", ".join(str(k.get("kid", "?")) for k in rs256)
    return check.ok(f"{len(rs256)} RS256 key(s) (kid {kids})", url=uri)


# -- groups -------------------------------------------------------------------------------------


def check_groups(ctx: DoctorContext) -> CheckResult:
    """The groups claim (and ``groups`` scope) the mapping needs is available from the authorization server."""
    check = Verdicts("groups", "Groups claim")
    if ctx.discovery is None or ctx.settings is None:
        return check.skip("no discovery document")
    claim = ctx.settings.groups_claim
    scopes = ctx.discovery.get("scopes_supported") or []
    claims = ctx.discovery.get("claims_supported") or []
    requested = scopes_for(ctx.discovery, ctx.settings.extra_scopes)
    scope_note = f"scopes requested at sign-in: {requested}"
    data = {"claim": claim, "scopes_requested": requested.split(), "groups_scope_offered": "groups" in scopes}
    if getattr(ctx.settings, "groups_source", "auto") == "api":
        return check.ok(f"groups come from the Okta Management API (OKTA_GROUPS_SOURCE=api); {scope_note}", **data)
    server = urlsplit(ctx.settings.issuer).path.removeprefix("/oauth2/")
    if not server or server == "/":
        return check.warn(
            "org authorization server: its groups claim is set on the app, which discovery does not show; "
            + scope_note,
            _org_server_steps(claim),
            **data,
        )
    if claim in claims:
        return check.ok(f"claim {claim!r} is defined on authorization server {server!r}; {scope_note}", **data)
    if ctx.settings.groups_api_configured and ctx.settings.groups_source == "auto":
        return check.ok(
            f"authorization server {server!r} defines no {claim!r} claim: groups come from Okta's Groups API "
            f"(API credentials are set, OKTA_GROUPS_SOURCE=auto); {scope_note}",
            **data,
        )
    return check.fail(
        f"authorization server {server!r} defines no {claim!r} claim (claims_supported), so Okta sends no groups "
        f"and every login falls to default_role; {scope_note}",
        _custom_server_steps(claim, server),
        **data,
    )


def _custom_server_steps(claim: str, server: str) -> str:
    return (
        f"in the Okta Admin Console: Security → API → Authorization Servers → {server} → Claims → Add Claim: "
        f"Name {claim}, Include in token type ID Token (Always), Value type Groups, Filter Matches regex "
        "airflow-.* (or .*), Include in Any scope. Optional: Scopes → Add Scope groups (okta_security requests "
        "it when discovery lists it). Or set OKTA_GROUPS_CLAIM to the claim you already have"
    )


def _org_server_steps(claim: str) -> str:
    return (
        "make sure the app sends it: Applications → Applications → <your Airflow app> → Sign On → OpenID Connect "
        f"ID Token → Edit → Groups claim type Filter, Groups claim filter {claim} Matches regex airflow-.* (or .*)"
    )


# -- clock --------------------------------------------------------------------------------------


def check_clock(ctx: DoctorContext) -> CheckResult:
    """This host's clock agrees with Okta's ``Date`` header within OKTA_CLOCK_SKEW_SECONDS."""
    check = Verdicts("clock", "Clock skew")
    if ctx.discovery_timing is None or ctx.settings is None:
        return check.skip("Okta did not answer")
    sent, received, date = ctx.discovery_timing
    try:
        okta_now = parsedate_to_datetime(date or "").timestamp()
    except (TypeError, ValueError):
        return check.warn(f"Okta sent no usable Date header ({date!r})", "compare this host's clock with an NTP server")
    skew = (sent + received) / 2 - okta_now  # > 0: this host is ahead of Okta
    leeway = ctx.settings.clock_skew_seconds
    where = f"this host's clock is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} Okta's"
    data = {"skew_seconds": round(skew, 1), "leeway_seconds": leeway}
    ntp = (
        "synchronise this host's clock with NTP (e.g. timedatectl set-ntp true, or chrony); "
        "raising OKTA_CLOCK_SKEW_SECONDS only hides it"
    )
    if abs(skew) <= CLOCK_OK_SECONDS:
        return check.ok(f"within {CLOCK_OK_SECONDS} s of Okta's clock ({skew:+.0f} s)", **data)
    if skew < -leeway:
        return check.fail(
            f"{where}: ID tokens look issued in the future and are refused (leeway {leeway} s)", ntp, **data
        )
    if skew > ID_TOKEN_LIFETIME_SECONDS + leeway:
        return check.fail(f"{where}: Okta's one-hour ID tokens look expired on arrival", ntp, **data)
    return check.warn(f"{where} (within what logins tolerate, leeway {leeway} s)", ntp, **data)
