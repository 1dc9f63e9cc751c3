"""The demo's AI assistant acting for erin: ``python -m okta_devstack.agent_demo --airflow-url ... --org-url ...``.

What a real agent does with Okta's Cross App Access, against the demo's local IdP and Airflow:

0. erin has signed in to Airflow once (here: okta-airflow login's device sign-in), so her account is
   linked to her Okta user;
1. erin signs in to the assistant's app at the Okta org (here: over HTTP, with her demo password);
2. the assistant exchanges her ID token for an ID-JAG naming her and itself, for Airflow;
3. Airflow's ``POST /auth/token`` turns the ID-JAG into a delegated token: erin's roles that ``agents:``
   allows the assistant, with the assistant as ``act``;
4. the assistant lists DAGs; then alice, an administrator, signs in on the CLI (device sign-in) and reads
   Airflow's Audit Log: the assistant's call is a row owned by erin that names the assistant (docs/agents.md).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any

import requests

from okta_local_idp.testing import decide_device, id_jag_for

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AGENT, AGENT_SECRET, AGENT_REDIRECT = "airflow-assistant", "airflow-assistant-secret", "http://127.0.0.1:8765/callback"
ERIN, ERIN_PASSWORD = "erin.finance@example.com", "Finance-pass-1"
ADMIN = ("alice.admin@example.com", "Admin-pass-1")  # reads the Audit Log (agents' own roles cannot)
CLI_CLIENT_ID, SCOPE = "airflow-cli", "airflow.api"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def run(
    airflow_url: str,
    org_url: str,
    *,
    user: str = ERIN,
    password: str = ERIN_PASSWORD,
    reader: tuple[str, str] = ADMIN,
) -> list[str]:
    """Act for ``user`` as the demo's assistant; return what to print. Raise RuntimeError when a step fails."""
    airflow_url = airflow_url.rstrip("/")
    audience = f"{airflow_url}/auth/token"
    _person_token(airflow_url, org_url, (user, password))  # her first sign-in links her account to her Okta user
    grant = id_jag_for(org_url, AGENT, AGENT_SECRET, user, password, audience=audience, redirect_uri=AGENT_REDIRECT)
    lines = [f"1. {user} signed in to the assistant's app; Okta issued an ID-JAG for {audience}"]
    answer = requests.post(audience, data={"grant_type": JWT_BEARER, "assertion": grant}, timeout=60)
    if answer.status_code != 201:
        raise RuntimeError(f"Airflow refused the ID-JAG ({answer.status_code}): {answer.text[:500]}")
    token, roles = answer.json()["access_token"], answer.json().get("roles")
    act = _claims(token).get("act")
    lines.append(f"2. Airflow issued a delegated token: acts for {user} as {act}, with roles {roles}")
    headers = {"Authorization": f"Bearer {token}"}
    dags = requests.get(f"{airflow_url}/api/v2/dags", headers=headers, timeout=60)
    seen = [d["dag_id"] for d in dags.json().get("dags", [])] if dags.ok else []
    lines.append(f"3. GET /api/v2/dags -> {dags.status_code}: {', '.join(seen) or '(none)'}")
    admin = {"Authorization": f"Bearer {_person_token(airflow_url, org_url, reader)}"}
    logs = requests.get(
        f"{airflow_url}/api/v2/eventLogs",
        params={"event": "agent.request", "order_by": "-id", "limit": "5"},
        headers=admin,
        timeout=60,
    )
    lines.append(f"4. {reader[0]} reads GET /api/v2/eventLogs?event=agent.request -> {logs.status_code}; latest rows:")
    for row in logs.json().get("event_logs", []) if logs.ok else []:
        extra = _extra(row.get("extra"))
        lines.append(
            f"   {row.get('when', '')[:19]}  owner={row.get('owner')}  act={extra.get('act', {}).get('sub')}  "
            f"{extra.get('method')} {extra.get('endpoint')} -> {extra.get('status')}"
        )
    return lines


def _person_token(airflow_url: str, org_url: str, who: tuple[str, str]) -> str:
    """Return an Airflow token for ``who``: a device sign-in (okta-airflow login's), approved over HTTP."""
    issuer = f"{org_url.rstrip('/')}/oauth2/default"
    device = requests.post(
        f"{issuer}/v1/device/authorize", data={"client_id": CLI_CLIENT_ID, "scope": SCOPE}, timeout=30
    )
    device.raise_for_status()
    code = device.json()
    decide_device(requests.Session(), code["verification_uri_complete"], *who)
    okta = requests.post(
        f"{issuer}/v1/token",
        data={"grant_type": DEVICE_GRANT, "device_code": code["device_code"], "client_id": CLI_CLIENT_ID},
        timeout=30,
    )
    okta.raise_for_status()
    answer = requests.post(
        f"{airflow_url}/auth/token",
        data={"grant_type": JWT_BEARER, "assertion": okta.json()["access_token"]},
        timeout=60,
    )
    if answer.status_code != 201:
        raise RuntimeError(f"Airflow refused {who[0]}'s token ({answer.status_code}): {answer.text[:500]}")
    return str(answer.json()["access_token"])


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _extra(value: Any) -> dict[str, Any]:
    try:
        extra = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return {}
    return extra if isinstance(extra, dict) else {}


def main(argv: list[str] | None = None) -> int:
    """Run the assistant once and print each step; exit 1 with the reason when a step fails."""
    parser = argparse.ArgumentParser(prog="python -m okta_devstack.agent_demo", description=__doc__.split("\n")[0])
    parser.add_argument("--airflow-url", default="http://127.0.0.1:8080", help="the demo's Airflow")
    parser.add_argument("--org-url", default="http://127.0.0.1:9000", help="the local IdP (the Okta org URL)")
    parser.add_argument("--user", default=ERIN)
    parser.add_argument("--password", default=ERIN_PASSWORD)
    args = parser.parse_args(argv)
    try:
        lines = run(args.airflow_url, args.org_url, user=args.user, password=args.password)
    except (RuntimeError, AssertionError, requests.RequestException) as e:  # the IdP helpers assert each step
        print(f"agent demo: {e}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
