"""``okta-airflow doctor --live``: ask the running API server for okta_security's health.

``GET <base url>/auth/okta/health`` (:mod:`okta_security.health`) answers, to a caller
Airflow lets read its configuration, the mapping in force and its last reload or rejection, the
age of the cached JWKS and whether Okta answers from the server. The token given with
``--token-file`` is sent as a bearer token and never printed.
"""

from __future__ import annotations

from typing import Any

import requests

from okta_security.doctor.report import CheckResult, DoctorContext, Status, Verdicts, json_body

HEALTH_PATH = "/auth/okta/health"
MAX_SHOWN_CHARS = 300  # text from the server's answer is shown bounded


def _health_url(ctx: DoctorContext) -> str:
    base = ctx.live_url or (ctx.airflow.base_url if ctx.airflow is not None else "")
    return f"{base.rstrip('/')}{HEALTH_PATH}" if base else ""


def check_live(ctx: DoctorContext) -> CheckResult:
    """Fetch the running API server's health and report what it says."""
    check = Verdicts("live", "Running API server")
    url = _health_url(ctx)
    if not url:
        return check.skip("no URL: pass --url or set [api] base_url")
    headers = {"Authorization": f"Bearer {ctx.live_token}"} if ctx.live_token else {}
    try:
        resp = ctx.http.get(url, headers=headers, timeout=ctx.timeout, allow_redirects=False)
    except requests.RequestException as e:
        return check.fail(
            f"{url}: no answer ({type(e).__name__})",
            "check that the API server runs and that --url (or [api] base_url) reaches it from here",
        )
    if resp.status_code in (401, 403):
        return check.fail(
            f"{url}: HTTP {resp.status_code}: the health needs an Airflow token of someone allowed to read "
            "Airflow's configuration",
            "pass --token-file with an Airflow API token of an Admin (e.g. from POST /auth/token)",
            status=resp.status_code,
        )
    if resp.status_code == 404:
        return check.fail(
            f"{url}: HTTP 404: this API server does not serve okta_security's health",
            "set [core] auth_manager = okta_security.auth_manager.OktaFabAuthManager and restart it",
            status=404,
        )
    body = json_body(resp)
    if body is None:
        return check.fail(
            f"{url}: HTTP {resp.status_code}, not okta_security's health JSON: {resp.text[:MAX_SHOWN_CHARS]}",
            "check --url: it must be the API server's base URL",
            status=resp.status_code,
        )
    lines, healthy = _describe(body)
    fix = "" if healthy else "see the lines above; okta-airflow check-mapping explains a rejected mapping"
    return CheckResult(check.check, check.title, Status.OK if healthy else Status.FAIL, "\n".join(lines), fix, body)


def _describe(body: dict[str, Any]) -> tuple[list[str], bool]:
    """Return the report's lines and whether the server is healthy."""
    mapping = body.get("mapping") or {}
    okta = body.get("okta") or {}
    jwks = body.get("jwks") or {}
    process = body.get("process") or {}
    lines = [
        f"mapping in force: {mapping.get('file')} (version {mapping.get('version')}, {mapping.get('rules')} rules)"
    ]
    if mapping.get("last_reload"):
        lines.append(
            f"last reload: {mapping['last_reload'].get('at')} (version {mapping['last_reload'].get('version')})"
        )
    if mapping.get("rejected_now"):
        problems = (mapping.get("last_rejection") or {}).get("problems") or []
        lines.append("the file on disk is REJECTED; the last good mapping stays in force:")
        lines.extend(f"  {str(p)[:MAX_SHOWN_CHARS]}" for p in problems)
    age = jwks.get("age_seconds")
    lines.append(
        f"Okta signing keys cached {age:.0f} s ago" if age is not None else "Okta signing keys not fetched yet"
    )
    if okta.get("reachable"):
        lines.append(f"Okta from the server: reachable ({okta.get('ms')} ms, {okta.get('url')})")
    else:
        why = okta.get("error") or f"HTTP {okta.get('status')}"
        lines.append(f"Okta from the server: NOT reachable ({why}, {okta.get('url')})")
    if process:
        lines.append(f"answered by process {process.get('pid')} (started {process.get('started_at')})")
    return lines, body.get("status") == "ok"
