"""The doctor's checks that ask Okta: discovery, issuer, keys, groups, client credentials, redirect URI, clock.

Each call has OKTA_HTTP_TIMEOUT_SECONDS as connect and read timeout. Nothing here signs anyone in:
the client check sends a made-up authorization code (Okta answers ``invalid_grant`` once the
client id, secret and authentication method are right, ``invalid_client`` otherwise), and the
redirect URI check stops at Okta's sign-in page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.integrations.requests_client.oauth2_session import OAuth2ClientAuth
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from okta_security.doctor import CheckResult, DoctorContext, Status, redirect_uris, skipped
from okta_security.provider import scopes_for

if TYPE_CHECKING:
    from okta_security.settings import OktaSettings

PROBE_CODE = "okta-airflow-doctor-probe"  # never issued by Okta: a right client gets invalid_grant
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
CLOCK_OK_SECONDS = 5  # below this, skew is noise (Date has one-second resolution)
ID_TOKEN_LIFETIME_SECONDS = 3600  # Okta ID tokens are valid for one hour

_OKTA_PAGE_MESSAGE = re.compile(
    r"(The '[a-z_]+' parameter [^<>]*?(?:settings|invalid|required)[^<>]*?\.|Invalid value for '[a-z_]+' parameter\.)"
)


class _Unreachable(Exception):
    """An HTTP call to Okta failed; ``detail`` and ``fix`` say why and what to do."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


def _request(ctx: DoctorContext, method: str, url: str, **kwargs: Any) -> requests.Response:
    host = urlsplit(url).netloc
    kwargs.setdefault("timeout", (ctx.timeout, ctx.timeout))
    try:
        return ctx.http.request(method, url, **kwargs)
    except requests.Timeout as e:
        raise _Unreachable(
            f"{url}: no answer within {ctx.timeout:g} s",
            f"check that this host can reach {host} (firewall, HTTPS_PROXY); raise OKTA_HTTP_TIMEOUT_SECONDS "
            "only if the network is known to be slow",
        ) from e
    except requests.ConnectionError as e:
        raise _Unreachable(
            f"{url}: cannot connect to {host} ({_reason(e)})",
            "check the host name in OKTA_ISSUER (your Okta domain, e.g. dev-123456.okta.com) and that this host "
            "can reach it: DNS, firewall, and HTTPS_PROXY/NO_PROXY if outbound traffic goes through a proxy",
        ) from e
    except requests.RequestException as e:
        raise _Unreachable(f"{url}: {_reason(e)}", "check OKTA_ISSUER and this host's network access to Okta") from e


def _reason(error: Exception) -> str:
    text = str(error)
    for marker in ("Failed to resolve", "Connection refused", "Name or service not known", "certificate verify failed"):
        if marker in text:
            return marker
    return type(error).__name__


# -- discovery, issuer, keys ---------------------------------------------------------------------


def check_discovery(ctx: DoctorContext) -> CheckResult:
    """The issuer's discovery document is reachable and has what a login needs."""
    title = "Discovery document"
    if ctx.settings is None:
        return skipped("discovery", title, "the OKTA_* settings are not valid")
    url = ctx.settings.discovery_url
    sent = ctx.clock()
    try:
        resp = _request(ctx, "GET", url, headers={"Accept": "application/json"})
    except _Unreachable as e:
        return CheckResult("discovery", title, Status.FAIL, e.detail, e.fix, {"url": url})
    ctx.discovery_timing = (sent, ctx.clock(), resp.headers.get("Date"))
    if resp.status_code != 200:
        return CheckResult("discovery", title, Status.FAIL, f"{url}: HTTP {resp.status_code}", _discovery_fix(ctx.settings, resp), {"url": url})
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return CheckResult(
            "discovery",
            title,
            Status.FAIL,
            f"{url}: not a JSON document (Content-Type {resp.headers.get('Content-Type', '?')})",
            "OKTA_ISSUER must be the issuer itself (not a sign-in page or a proxy in front of it)",
            {"url": url},
        )
    missing = [k for k in REQUIRED_METADATA if not doc.get(k)]
    if missing:
        return CheckResult(
            "discovery", title, Status.FAIL, f"{url}: lacks {', '.join(missing)}", "point OKTA_ISSUER at an Okta authorization server", {"url": url}
        )
    ctx.discovery = doc
    ms = resp.elapsed.total_seconds() * 1000
    return CheckResult("discovery", title, Status.OK, f"{url} (HTTP 200, {ms:.0f} ms)", data={"url": url})


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
        return "OKTA_ISSUER is not an Okta issuer: use https://<your Okta domain> or https://<your Okta domain>/oauth2/default"
    return "Okta answered with an error; try again, and check https://status.okta.com if it persists"


def check_issuer(ctx: DoctorContext) -> CheckResult:
    """The discovery document's ``issuer`` equals OKTA_ISSUER exactly (ID tokens carry it as ``iss``)."""
    title = "Issuer matches OKTA_ISSUER"
    if ctx.discovery is None or ctx.settings is None:
        return skipped("issuer", title, "no discovery document")
    found, expected = ctx.discovery["issuer"], ctx.settings.issuer
    if found == expected:
        return CheckResult("issuer", title, Status.OK, found)
    return CheckResult(
        "issuer",
        title,
        Status.FAIL,
        f"Okta says issuer {found!r}, OKTA_ISSUER is {expected!r}: every ID token would be refused (iss)",
        f"set OKTA_ISSUER={found} exactly as Okta reports it (Security → API → Authorization Servers → Issuer); "
        "with a custom domain, Okta reports that domain",
        {"found": found, "expected": expected},
    )


def check_jwks(ctx: DoctorContext) -> CheckResult:
    """The JWKS is reachable and holds at least one RS256 signing key."""
    title = "Signing keys (JWKS)"
    if ctx.discovery is None:
        return skipped("jwks", title, "no discovery document")
    uri = ctx.discovery["jwks_uri"]
    algs = ctx.discovery.get("id_token_signing_alg_values_supported")
    try:
        resp = _request(ctx, "GET", uri, headers={"Accept": "application/json"})
    except _Unreachable as e:
        return CheckResult("jwks", title, Status.FAIL, e.detail, e.fix, {"url": uri})
    try:
        keys = resp.json().get("keys") if resp.status_code == 200 else None
    except (ValueError, AttributeError):
        keys = None
    if not isinstance(keys, list):
        return CheckResult("jwks", title, Status.FAIL, f"{uri}: HTTP {resp.status_code}, no key set", "check the jwks_uri of the authorization server", {"url": uri})
    rs256 = [k for k in keys if isinstance(k, dict) and k.get("kty") == "RSA" and k.get("alg", "RS256") == "RS256" and k.get("use", "sig") == "sig"]
    if not rs256 or (algs is not None and "RS256" not in algs):
        return CheckResult(
            "jwks",
            title,
            Status.FAIL,
            f"{uri}: {len(keys)} key(s), none for RS256 (ID token algorithms offered: {algs})",
            "okta_security accepts only RS256-signed ID tokens, Okta's default: check that OKTA_ISSUER is your Okta "
            "authorization server and, with manual key rotation, that it has an active key "
            "(Security → API → Authorization Servers → <server> → Signing Key Rotation)",
            {"url": uri, "keys": len(keys)},
        )
    try:
        KeySet.import_key_set({"keys": rs256})
    except (JoseError, ValueError, TypeError) as e:
        return CheckResult(
            "jwks", title, Status.FAIL, f"{uri}: unusable RS256 key: {e}", "check the authorization server's signing keys", {"url": uri}
        )
    kids = ", ".join(str(k.get("kid", "?")) for k in rs256)
    return CheckResult("jwks", title, Status.OK, f"{len(rs256)} RS256 key(s) (kid {kids})", data={"url": uri})


# -- groups -------------------------------------------------------------------------------------


def check_groups(ctx: DoctorContext) -> CheckResult:
    """The groups claim (and ``groups`` scope) the mapping needs is available from the authorization server."""
    title = "Groups claim"
    if ctx.discovery is None or ctx.settings is None:
        return skipped("groups", title, "no discovery document")
    claim = ctx.settings.groups_claim
    scopes = ctx.discovery.get("scopes_supported") or []
    claims = ctx.discovery.get("claims_supported") or []
    requested = scopes_for(ctx.discovery, ctx.settings.extra_scopes)
    scope_note = f"scopes requested at sign-in: {requested}"
    data = {"claim": claim, "scopes_requested": requested.split(), "groups_scope_offered": "groups" in scopes}
    if getattr(ctx.settings, "groups_source", "auto") == "api":
        return CheckResult("groups", title, Status.OK, f"groups come from the Okta Management API (OKTA_GROUPS_SOURCE=api); {scope_note}", data=data)
    server = urlsplit(ctx.settings.issuer).path.removeprefix("/oauth2/")
    if not server or server == "/":
        return CheckResult(
            "groups",
            title,
            Status.WARN,
            f"org authorization server: its groups claim is set on the app, which discovery does not show; {scope_note}",
            _org_server_steps(claim),
            data,
        )
    if claim in claims:
        return CheckResult("groups", title, Status.OK, f"claim {claim!r} is defined on authorization server {server!r}; {scope_note}", data=data)
    return CheckResult(
        "groups",
        title,
        Status.FAIL,
        f"authorization server {server!r} defines no {claim!r} claim (claims_supported), so Okta sends no groups "
        f"and every login falls to default_role; {scope_note}",
        _custom_server_steps(claim, server),
        data,
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


# -- client credentials -------------------------------------------------------------------------


def _token_probe(ctx: DoctorContext, endpoint: str, method: str, redirect_uri: str) -> tuple[int, str, str]:
    """POST a made-up code with ``method`` client authentication; return (status, error, description)."""
    assert ctx.settings is not None
    auth = OAuth2ClientAuth(ctx.settings.client_id, ctx.settings.client_secret.get(), auth_method=method)
    body = {
        "grant_type": "authorization_code",
        "code": PROBE_CODE,
        "redirect_uri": redirect_uri,
        "code_verifier": secrets.token_urlsafe(48),
    }
    resp = _request(ctx, "POST", endpoint, data=body, auth=auth, headers={"Accept": "application/json"})
    try:
        payload = resp.json()
    except ValueError:
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    return resp.status_code, str(payload.get("error", "")), str(payload.get("error_description", ""))


def check_client(ctx: DoctorContext) -> CheckResult:
    """Okta accepts OKTA_CLIENT_ID / OKTA_CLIENT_SECRET with OKTA_TOKEN_AUTH_METHOD."""
    title = "Client credentials"
    if ctx.discovery is None or ctx.settings is None:
        return skipped("client", title, "no discovery document")
    method = ctx.settings.token_auth_method
    if method not in SECRET_METHODS:
        return skipped("client", title, f"the probe covers client secrets only, not {method}")
    endpoint = ctx.discovery["token_endpoint"]
    uris = redirect_uris(ctx)
    redirect_uri = uris[0] if uris else "http://localhost/okta-airflow-doctor"
    try:
        status, error, description = _token_probe(ctx, endpoint, method, redirect_uri)
        if error == "invalid_client":
            other = next(m for m in SECRET_METHODS if m != method)
            other_error = _token_probe(ctx, endpoint, other, redirect_uri)[1]
        else:
            other, other_error = "", ""
    except _Unreachable as e:
        return CheckResult("client", title, Status.FAIL, e.detail, e.fix)
    data = {"method": method, "status": status, "error": error}
    if error == "invalid_grant":
        return CheckResult(
            "client", title, Status.OK, f"Okta accepts client {ctx.settings.client_id!r} with {method} "
            "(a made-up code got invalid_grant, as it should)", data=data
        )
    said = f"Okta answered HTTP {status} {error or '(no error code)'}: {description or '(no description)'}"
    if error == "invalid_client" and other_error == "invalid_grant":
        return CheckResult(
            "client",
            title,
            Status.FAIL,
            f"{said} — but it accepts the same credentials with {other}",
            f"set OKTA_TOKEN_AUTH_METHOD={other} (or change the app's Client authentication in Okta to match)",
            {**data, "accepted_method": other},
        )
    if error == "invalid_client":
        fix = (
            "copy Client ID and Client secret from Okta (Applications → Applications → <your Airflow app> → General → "
            "Client Credentials) into OKTA_CLIENT_ID and OKTA_CLIENT_SECRET(_FILE); a rotated or expired secret "
            "gives the same error, and the app must be a Web Application using a client secret"
        )
    elif error == "unauthorized_client":
        fix = "allow the Authorization Code grant: Applications → <your Airflow app> → General → Grant type"
    else:
        fix = "see Okta's message; the System Log (Reports → System Log) has the details"
    return CheckResult("client", title, Status.FAIL, said, fix, data)


# -- redirect URIs ------------------------------------------------------------------------------


def check_redirect_uris(ctx: DoctorContext) -> CheckResult:
    """Show the redirect URIs to register, and ask Okta whether it accepts the sign-in one."""
    title = "Redirect URIs"
    facts = ctx.airflow
    if facts is None:
        return skipped("redirect_uris", title, "Airflow is not importable here")
    section, key = facts.layout.base_url
    env_var = f"AIRFLOW__{section.upper()}__{key.upper()}"
    uris = redirect_uris(ctx)
    if uris is None:
        return CheckResult(
            "redirect_uris",
            title,
            Status.WARN,
            f"[{section}] {key} is not set: Airflow builds the redirect URI from the Host header each browser sends",
            f"set {env_var}=https://<airflow host> (the URL people type); then register "
            f"https://<airflow host>{facts.layout.callback_path} as sign-in and "
            f"https://<airflow host>{facts.layout.login_path} as sign-out redirect URI",
        )
    sign_in, sign_out = uris
    lines = [f"sign-in redirect URI:  {sign_in}", f"sign-out redirect URI: {sign_out}"]
    data: dict[str, Any] = {"sign_in_redirect_uri": sign_in, "sign_out_redirect_uri": sign_out, "accepted": None}
    fixes: list[str] = []
    status = Status.OK
    proxy_section, proxy_key = facts.layout.enable_proxy_fix
    if sign_in.startswith("https://") and not facts.enable_proxy_fix and not facts.ssl_cert:
        status = Status.WARN
        lines.append(f"https base URL, but [{proxy_section}] {proxy_key} is off and Airflow serves no TLS itself")
        fixes.append(
            f"behind a TLS-terminating proxy set AIRFLOW__{proxy_section.upper()}__{proxy_key.upper()}=True and have "
            "the proxy send X-Forwarded-Proto/Host, else Airflow sends Okta an http:// redirect URI it refuses"
        )
    if ctx.discovery is not None and ctx.settings is not None:
        try:
            accepted, message = _authorize_probe(ctx, sign_in)
        except _Unreachable as e:
            accepted, message = False, e.detail
        data["accepted"] = accepted
        if accepted:
            lines.append(f"Okta accepts the sign-in redirect URI for client {ctx.settings.client_id!r}")
        else:
            status = Status.FAIL
            lines.append(f"Okta refuses the sign-in request: {message}")
            fixes.insert(0, _authorize_fix(message, sign_in, sign_out))
    return CheckResult("redirect_uris", title, status, "\n".join(lines), "; ".join(fixes), data)


def _authorize_probe(ctx: DoctorContext, redirect_uri: str) -> tuple[bool, str]:
    """Start a sign-in as Airflow would (no redirects followed); return (accepted, Okta's message)."""
    assert ctx.discovery is not None and ctx.settings is not None
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "client_id": ctx.settings.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": scopes_for(ctx.discovery, ctx.settings.extra_scopes),
        "state": "okta-airflow-doctor",
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    resp = _request(ctx, "GET", ctx.discovery["authorization_endpoint"], params=params, allow_redirects=False)
    location = resp.headers.get("Location", "")
    if resp.is_redirect and location.startswith(redirect_uri):
        query = parse_qs(urlsplit(location).query)
        if "error" in query:
            return False, f"{query['error'][0]}: {query.get('error_description', [''])[0]}"
        return True, ""
    if resp.is_redirect or resp.status_code == 200:
        return True, ""  # on to Okta's sign-in page: client and redirect URI accepted
    return False, f"HTTP {resp.status_code}: {page_message(resp.text)}"


def page_message(page: str) -> str:
    """Return the error sentence of an Okta HTML error page (or its text, shortened)."""
    text = html.unescape(re.sub(r"(?s)<(script|style)\b.*?</\1>|<[^>]+>", " ", page))
    text = re.sub(r"\s+", " ", text).strip()
    found = _OKTA_PAGE_MESSAGE.search(text)
    return found.group(1) if found else text[:200]


def _authorize_fix(message: str, sign_in: str, sign_out: str) -> str:
    if "redirect_uri" in message:
        return (
            f"in Okta: Applications → Applications → <your Airflow app> → General → LOGIN → Sign-in redirect URIs: "
            f"add exactly {sign_in} (and {sign_out} under Sign-out redirect URIs)"
        )
    if "client_id" in message:
        return "OKTA_CLIENT_ID names no app on this authorization server's org: copy it from the app's General tab"
    if "invalid_scope" in message:
        return "a requested scope is not defined on the authorization server: remove it from OKTA_EXTRA_SCOPES or add it in Okta"
    if "access_denied" in message or "policy" in message.lower():
        return "check the authorization server's Access Policies: a rule must cover this app and the Authorization Code grant"
    return "see Okta's message; the System Log (Reports → System Log) has the details"


# -- clock --------------------------------------------------------------------------------------


def check_clock(ctx: DoctorContext) -> CheckResult:
    """This host's clock agrees with Okta's ``Date`` header within OKTA_CLOCK_SKEW_SECONDS."""
    title = "Clock skew"
    if ctx.discovery_timing is None or ctx.settings is None:
        return skipped("clock", title, "Okta did not answer")
    sent, received, date = ctx.discovery_timing
    try:
        okta_now = parsedate_to_datetime(date or "").timestamp()
    except (TypeError, ValueError):
        return CheckResult("clock", title, Status.WARN, f"Okta sent no usable Date header ({date!r})", "compare this host's clock with an NTP server")
    skew = (sent + received) / 2 - okta_now  # > 0: this host is ahead of Okta
    leeway = ctx.settings.clock_skew_seconds
    where = f"this host's clock is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} Okta's"
    data = {"skew_seconds": round(skew, 1), "leeway_seconds": leeway}
    ntp = "synchronise this host's clock with NTP (e.g. timedatectl set-ntp true, or chrony); raising OKTA_CLOCK_SKEW_SECONDS only hides it"
    if abs(skew) <= CLOCK_OK_SECONDS:
        return CheckResult("clock", title, Status.OK, f"within {CLOCK_OK_SECONDS} s of Okta's clock ({skew:+.0f} s)", data=data)
    if skew < -leeway:
        return CheckResult(
            "clock", title, Status.FAIL, f"{where}: ID tokens look issued in the future and are refused (leeway {leeway} s)", ntp, data
        )
    if skew > ID_TOKEN_LIFETIME_SECONDS + leeway:
        return CheckResult("clock", title, Status.FAIL, f"{where}: Okta's one-hour ID tokens look expired on arrival", ntp, data)
    return CheckResult("clock", title, Status.WARN, f"{where} (within what logins tolerate, leeway {leeway} s)", ntp, data)
