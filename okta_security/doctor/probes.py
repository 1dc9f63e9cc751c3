"""The doctor's probes that act as Airflow would: a token request and an authorization request.

The client check sends a made-up authorization code: Okta answers ``invalid_grant`` once the client
id, secret (or key) and authentication method are right, ``invalid_client`` otherwise; the wrong
method is told apart by trying the other one. The redirect URI check starts a sign-in exactly as
Airflow does and stops at Okta's sign-in page. Nobody is signed in.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from authlib.integrations.requests_client.oauth2_session import OAuth2ClientAuth

from okta_security.doctor import sign_in_probe
from okta_security.doctor.okta import Unreachable, request_okta
from okta_security.doctor.report import CheckResult, DoctorContext, Status, Verdicts, redirect_uris
from okta_security.oidc.provider import client_auth_methods, client_credential, scopes_for

if TYPE_CHECKING:
    from okta_security.settings.loader import OktaSettings

PROBE_CODE = "okta-airflow-doctor-probe"  # never issued by Okta: a right client gets invalid_grant
SECRET_METHODS = ("client_secret_basic", "client_secret_post")

_OKTA_PAGE_MESSAGE = re.compile(
    r"(The '[a-z_]+' parameter [^<>]*?(?:settings|invalid|required)[^<>]*?\.|Invalid value for '[a-z_]+' parameter\.)"
)


# -- client credentials -------------------------------------------------------------------------


def _token_probe(ctx: DoctorContext, endpoint: str, method: str, redirect_uri: str) -> tuple[int, str, str]:
    """POST a made-up code with ``method`` client authentication; return (status, error, description)."""
    assert ctx.settings is not None
    auth = _client_auth(ctx.settings, method)
    body = {
        "grant_type": "authorization_code",
        "code": PROBE_CODE,
        "redirect_uri": redirect_uri,
        "code_verifier": secrets.token_urlsafe(48),
    }
    resp = request_okta(ctx, "POST", endpoint, data=body, auth=auth, headers={"Accept": "application/json"})
    try:
        payload = resp.json()
    except ValueError:
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    return resp.status_code, str(payload.get("error", "")), str(payload.get("error_description", ""))


def _client_auth(settings: OktaSettings, method: str) -> OAuth2ClientAuth:
    """Return authlib's client authentication for ``method``, exactly as a login signs the token request."""
    if method == "private_key_jwt":
        (signer,) = client_auth_methods(settings)
        return OAuth2ClientAuth(settings.client_id, client_credential(settings), auth_method=signer)
    secret = settings.client_secret.get() if settings.client_secret is not None else ""
    return OAuth2ClientAuth(settings.client_id, secret, auth_method=method)


def check_client(ctx: DoctorContext) -> CheckResult:
    """Okta accepts OKTA_CLIENT_ID / OKTA_CLIENT_SECRET with OKTA_TOKEN_AUTH_METHOD."""
    check = Verdicts("client", "Client credentials")
    if ctx.discovery is None or ctx.settings is None:
        return check.skip("no discovery document")
    method = ctx.settings.token_auth_method
    endpoint = ctx.discovery["token_endpoint"]
    uris = redirect_uris(ctx)
    redirect_uri = uris[0] if uris else "http://localhost/okta-airflow-doctor"
    try:
        status, error, description = _token_probe(ctx, endpoint, method, redirect_uri)
        if error == "invalid_client" and method in SECRET_METHODS:
            other = next(m for m in SECRET_METHODS if m != method)
            other_error = _token_probe(ctx, endpoint, other, redirect_uri)[1]
        else:
            other, other_error = "", ""
    except Unreachable as e:
        return check.fail(e.detail, e.fix)
    data = {"method": method, "status": status, "error": error}
    if error == "invalid_grant":
        return check.ok(
            f"Okta accepts client {ctx.settings.client_id!r} with {method} "
            "(a made-up code got invalid_grant, as it should)",
            **data,
        )
    said = f"Okta answered HTTP {status} {error or '(no error code)'}: {description or '(no description)'}"
    if error == "invalid_client" and other_error == "invalid_grant":
        return check.fail(
            f"{said} — but it accepts the same credentials with {other}",
            f"set OKTA_TOKEN_AUTH_METHOD={other} (or change the app's Client authentication in Okta to match)",
            **{**data, "accepted_method": other},
        )
    if error == "invalid_client" and method == "private_key_jwt":
        fix = (
            "register the public half of OKTA_CLIENT_PRIVATE_KEY in the app (Applications → <your Airflow app> → "
            "General → Client Credentials → Public keys); once it has several keys, give the key as a JWK whose "
            "kid is the one Okta shows"
        )
    elif error == "invalid_client":
        fix = (
            "copy Client ID and Client secret from Okta (Applications → Applications → <your Airflow app> → General → "
            "Client Credentials) into OKTA_CLIENT_ID and OKTA_CLIENT_SECRET(_FILE); a rotated or expired secret "
            "gives the same error, and the app must be a Web Application using a client secret"
        )
    elif error == "unauthorized_client":
        fix = "allow the Authorization Code grant: Applications → <your Airflow app> → General → Grant type"
    else:
        fix = "see Okta's message; the System Log (Reports → System Log) has the details"
    return check.fail(said, fix, **data)


# -- redirect URIs ------------------------------------------------------------------------------


def check_redirect_uris(ctx: DoctorContext) -> CheckResult:
    """Show the redirect URIs to register, and ask Okta whether it accepts the sign-in one."""
    check = Verdicts("redirect_uris", "Redirect URIs")
    facts = ctx.airflow
    if facts is None:
        return check.skip("Airflow is not importable here")
    section, key = facts.layout.base_url
    env_var = f"AIRFLOW__{section.upper()}__{key.upper()}"
    uris = redirect_uris(ctx)
    if uris is None:
        return check.warn(
            f"[{section}] {key} is not set: Airflow builds the redirect URI from the Host header each browser sends",
            f"set {env_var}=https://<airflow host> (the URL people type); then register "
            f"https://<airflow host>{facts.layout.callback_path} as sign-in and "
            f"https://<airflow host>{facts.layout.login_path} as sign-out redirect URI",
        )
    sign_in, sign_out = uris
    # Okta's "Login initiated by: Either Okta or App": the dashboard tile opens this with iss.
    initiate = f"{facts.base_url.rstrip('/')}{facts.layout.fab_prefix}/login/okta"
    lines = [
        f"sign-in redirect URI:  {sign_in}",
        f"sign-out redirect URI: {sign_out}",
        f"initiate login URI:    {initiate}",
    ]
    data: dict[str, Any] = {
        "sign_in_redirect_uri": sign_in,
        "sign_out_redirect_uri": sign_out,
        "initiate_login_uri": initiate,
        "accepted": None,
    }
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
    live = sign_in_probe.probe(ctx)  # what the running Airflow really sends (a proxy may change it)
    if live is not None and live.sent is None:
        lines.append(f"Airflow at {live.start}: {live.problem}; the redirect URI it sends was not compared")
    elif live is not None and live.sent == sign_in:
        lines.append(f"Airflow at {live.start} sends this sign-in redirect URI")
    elif live is not None and live.sent is not None:
        status = Status.FAIL
        mismatch_lines, mismatch_fixes = sign_in_probe.mismatch(ctx, live.sent, sign_in)
        lines.extend(mismatch_lines)
        fixes[:0] = mismatch_fixes
    if ctx.discovery is not None and ctx.settings is not None:
        try:
            accepted, message = _authorize_probe(ctx, sign_in)
        except Unreachable as e:
            accepted, message = False, e.detail
        data["accepted"] = accepted
        if accepted:
            lines.append(f"Okta accepts the sign-in redirect URI for client {ctx.settings.client_id!r}")
        else:
            status = Status.FAIL
            lines.append(f"Okta refuses the sign-in request: {message}")
            fixes.insert(0, _authorize_fix(message, sign_in, sign_out))
    return CheckResult(check.check, check.title, status, "\n".join(lines), "; ".join(fixes), data)


def _authorize_probe(ctx: DoctorContext, redirect_uri: str) -> tuple[bool, str]:
    """Start a sign-in as Airflow would (no redirects followed); return (accepted, Okta's message)."""
    assert ctx.discovery is not None
    assert ctx.settings is not None
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
    resp = request_okta(ctx, "GET", ctx.discovery["authorization_endpoint"], params=params, allow_redirects=False)
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
        return (
            "a requested scope is not defined on the authorization server: "
            "remove it from OKTA_EXTRA_SCOPES or add it in Okta"
        )
    if "access_denied" in message or "policy" in message.lower():
        return (
            "check the authorization server's Access Policies: "
            "a rule must cover this app and the Authorization Code grant"
        )
    return "see Okta's message; the System Log (Reports → System Log) has the details"
