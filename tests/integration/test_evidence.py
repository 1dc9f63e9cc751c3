"""Evidence with a time, end to end: an Okta token from before an offboarding can never undo it.

A real ``airflow api-server`` (OktaFabAuthManager, SQLite and PostgreSQL) beside the local IdP, with
event hooks and Okta API credentials. Person tokens with a chosen ``iat`` are signed with the IdP's
own key, as Okta would have issued them earlier; the offboarding goes through the IdP's Management
API, whose event hook deactivates the account or takes a role away.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import requests
import sqlalchemy as sa
import yaml

from okta_devstack.airflow import REPO, AirflowServer, free_port
from okta_local_idp.server import IdpHandle, serve_in_thread
from tests.conftest import postgres_database
from tests.integration.helpers import okta_login, user_roles, user_row
from tests.integration.test_audit import audit_rows, last_log_id
from tests.integration.test_people_api import (
    API_TOKEN,
    AUDIENCE,
    AUTH_MANAGER,
    CLI,
    EVENT_HOOK_SECRET,
    OKTA_CLI,
    SCOPE,
    _idp_config,
    exchange,
    person_claims,
)
from tests.polling import until as wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

# People of this module only: each test offboards one of them.
MO = ("mo.mover@example.com", "Mover-pass-1", "00umover0000000000008", ["airflow-admins", "airflow-viewers"])
GIL = ("gil.gone@example.com", "Gone-pass-1", "00ugone00000000000009", ["airflow-viewers"])
HAL = ("hal.handed@example.com", "Handed-pass-1", "00uhanded00000000010", ["airflow-viewers"])
RAE = ("rae.rapid@example.com", "Rapid-pass-1", "00urapid000000000011", ["airflow-viewers"])
SIGN_INS_PER_MINUTE = 8
ALICE = ("alice.admin@example.com", "Admin-pass-1")
HOOKS = {"Authorization": f"SSWS {API_TOKEN}", "Accept": "application/json"}


@dataclass
class EvidenceStack:
    airflow: AirflowServer
    idp: IdpHandle

    @property
    def url(self) -> str:
        return self.airflow.base_url

    @property
    def db_url(self) -> str:
        return self.airflow.db_url

    def okta(self, method: str, path: str) -> requests.Response:
        """Call the IdP's Management API as an Okta administrator would."""
        return requests.request(method, f"{self.idp.base_url}/api/v1{path}", headers=HOOKS, timeout=10)

    def token(self, who: tuple[str, str, str, list[str]], *, age: int = 0, groups: list[str] | None = None) -> str:
        """Return an Okta access token for ``who``, issued ``age`` seconds ago (signed with the IdP's key)."""
        issued = int(time.time()) - age
        claims = person_claims(
            self,  # type: ignore[arg-type]
            jti=f"AT.{who[2]}.{issued}.{time.monotonic_ns()}",
            iat=issued,
            exp=issued + 3600,
            uid=who[2],
            sub=who[0],
            groups=who[3] if groups is None else groups,
        )
        return self.idp.context.keys.sign(claims)


def _config(port: int) -> dict[str, Any]:
    data = _idp_config(port)
    for login, password, uid, groups in (MO, GIL, HAL, RAE):
        name = login.split("@")[0].split(".")
        data["users"].append(
            {
                "id": uid,
                "login": login,
                "password": password,
                "email": login,
                "given_name": name[0].title(),
                "family_name": name[1].title(),
                "groups": groups,
            }
        )
    return data


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EvidenceStack]:
    root = tmp_path_factory.mktemp(f"evidence-{request.param}")
    port = free_port()
    idp_config = root / "idp.yaml"
    idp_config.write_text(yaml.safe_dump(_config(port), sort_keys=False))
    idp = serve_in_thread(str(idp_config), host="127.0.0.1", port=0)
    mapping = root / "okta_role_mapping.yaml"
    shutil.copy(REPO / "config" / "role_mapping.yaml", mapping)
    db_gen = postgres_database() if request.param == "postgres" else None
    airflow = AirflowServer(
        root / "airflow",
        port=port,
        db_url=next(db_gen) if db_gen else None,
        auth_manager=AUTH_MANAGER,
        okta_env={
            "OKTA_ISSUER": idp.issuer,
            "OKTA_CLIENT_ID": "airflow-local",
            "OKTA_CLIENT_SECRET": "airflow-local-secret",
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
            "OKTA_BOT_AUDIENCE": AUDIENCE,
            "OKTA_BOT_SCOPES": SCOPE,
            "OKTA_CLI_CLIENT_ID": CLI,
            "OKTA_API_TOKEN": API_TOKEN,
            "OKTA_API_MAX_WAIT_SECONDS": "2",
            "OKTA_EVENT_HOOK_SECRET": EVENT_HOOK_SECRET,
            "OKTA_PERSON_SIGN_INS_PER_MINUTE": str(SIGN_INS_PER_MINUTE),
        },
    )
    try:
        airflow.prepare()
        airflow.start()
        evidence = EvidenceStack(airflow, idp)
        [hook] = evidence.okta("GET", "/eventHooks").json()
        assert evidence.okta("POST", f"/eventHooks/{hook['id']}/lifecycle/verify").ok
        yield evidence
    finally:
        airflow.stop()
        idp.shutdown()
        if db_gen is not None:
            db_gen.close()


def api(stack: EvidenceStack, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, f"{stack.url}/api/v2{path}", headers=headers, timeout=60, **kwargs)


def airflow_token(stack: EvidenceStack, okta_token: str) -> str:
    response = exchange(stack, okta_token)  # type: ignore[arg-type]
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def refused(stack: EvidenceStack, okta_token: str) -> dict[str, Any]:
    response = exchange(stack, okta_token)  # type: ignore[arg-type]
    assert response.status_code in (400, 503), response.text
    return {"status": response.status_code, **response.json()}


def deactivated(stack: EvidenceStack, login: str) -> bool:
    return wait_until(lambda: not user_row(stack.db_url, login)["active"], timeout=20)


# --------------------------------------------------------------------------- a token from before a deactivation


def test_a_token_from_before_the_deactivation_is_refused_and_the_old_airflow_token_stays_dead(stack: EvidenceStack):
    login, _, uid, _ = GIL
    old = stack.token(GIL, age=120)
    issued = airflow_token(stack, old)
    assert api(stack, "GET", "/dags", issued).status_code == 200
    assert stack.okta("POST", f"/users/{uid}/lifecycle/deactivate").status_code == 200
    assert deactivated(stack, login)

    since = last_log_id(stack.db_url)
    body = refused(stack, old)
    assert (body["status"], body["error"], body["code"]) == (400, "invalid_grant", "stale_token")
    assert not user_row(stack.db_url, login)["active"]
    assert api(stack, "GET", "/dags", issued).status_code in (401, 403)
    [row] = audit_rows(stack.db_url, event="login.refused", owner=login, since_id=since)
    assert row["extra"]["reason"] == "stale_token"


def test_a_newer_token_reactivates_only_once_okta_confirms_and_an_outage_keeps_the_account_closed(
    stack: EvidenceStack,
):
    login, _, uid, _ = GIL
    if user_row(stack.db_url, login) is None or user_row(stack.db_url, login)["active"]:
        test_a_token_from_before_the_deactivation_is_refused_and_the_old_airflow_token_stays_dead(stack)
    # Issued after the deactivation (iat has whole seconds: one ahead), but Okta still says
    # DEPROVISIONED: Airflow asks, and refuses.
    body = refused(stack, stack.token(GIL, age=-1))
    assert body["code"] == "stale_token"
    assert "DEPROVISIONED" in body["message"]
    assert not user_row(stack.db_url, login)["active"]

    assert stack.okta("POST", f"/users/{uid}/lifecycle/activate").status_code == 200
    stack.idp.set_faults(api_status=503)
    try:
        body = refused(stack, stack.token(GIL, age=-1))
        assert (body["status"], body["error"], body["code"]) == (503, "temporarily_unavailable", "okta_unavailable")
        assert not user_row(stack.db_url, login)["active"]
    finally:
        stack.idp.set_faults(api_status=None)
    token = airflow_token(stack, stack.token(GIL, age=-1))
    assert user_row(stack.db_url, login)["active"]
    assert api(stack, "GET", "/dags", token).status_code == 200


# --------------------------------------------------------------------------- a token from before a group removal


def test_an_older_token_after_a_group_removal_raises_no_role(stack: EvidenceStack):
    login, _, uid, _ = MO
    old = stack.token(MO, age=120)
    assert api(stack, "POST", "/variables", airflow_token(stack, old), json={"key": "mo1", "value": "x"}).ok
    assert user_roles(stack.db_url, login) == {"Admin", "Viewer"}
    [admins] = [g for g in stack.okta("GET", "/groups").json() if g["profile"]["name"] == "airflow-admins"]
    assert stack.okta("DELETE", f"/groups/{admins['id']}/users/{uid}").status_code == 204
    assert wait_until(lambda: user_roles(stack.db_url, login) == {"Viewer"}, timeout=20)

    token = airflow_token(stack, old)  # still signs in: Viewer is still Mo's
    assert user_roles(stack.db_url, login) == {"Viewer"}
    assert api(stack, "POST", "/variables", token, json={"key": "mo2", "value": "x"}).status_code == 403
    # Only admin groups in the old token: nothing it maps to is still Mo's.
    assert refused(stack, stack.token(MO, age=120, groups=["airflow-admins"]))["code"] == "stale_token"
    assert user_roles(stack.db_url, login) == {"Viewer"}


# --------------------------------------------------------------------------- an administrator's hand


def _set_active_in_the_ui(stack: EvidenceStack, admin: requests.Session, user_id: int, active: bool) -> None:
    """Edit the account on Airflow's Security > List Users page, as an administrator does."""
    url = f"{stack.url}/auth/users/edit/{user_id}"
    page = admin.get(url, timeout=30)
    assert page.status_code == 200, page.text[:300]
    form = dict(re.findall(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', page.text))
    form.update({k: v for k, v in re.findall(r'<input[^>]*?value="([^"]*)"[^>]*?name="([^"]+)"', page.text)[::-1]})
    roles = re.findall(
        r'<option[^>]*?selected[^>]*?value="([^"]+)"|<option[^>]*?value="([^"]+)"[^>]*?selected', page.text
    )
    data: list[tuple[str, str]] = [(k, v) for k, v in form.items() if k not in ("active",)]
    data += [("roles", a or b) for a, b in roles]
    if active:
        data.append(("active", "y"))
    done = admin.post(url, data=data, timeout=30, allow_redirects=False)
    assert done.status_code in (200, 302), done.text[:500]
    assert (
        user_row(stack.db_url, HAL[0])["active"] is active or bool(user_row(stack.db_url, HAL[0])["active"]) == active
    )


def test_an_account_an_administrator_reactivated_and_deactivated_again_stays_theirs(stack: EvidenceStack):
    login, _, uid, _ = HAL
    airflow_token(stack, stack.token(HAL, age=60))
    user_id = user_row(stack.db_url, login)["id"]
    assert stack.okta("POST", f"/users/{uid}/lifecycle/deactivate").status_code == 200
    assert deactivated(stack, login)
    admin, _ = okta_login(stack.url, *ALICE)
    _set_active_in_the_ui(stack, admin, user_id, True)
    assert user_row(stack.db_url, login)["active"]
    _set_active_in_the_ui(stack, admin, user_id, False)
    assert not user_row(stack.db_url, login)["active"]
    with sa.create_engine(stack.db_url).connect() as conn:
        marker = conn.execute(
            sa.text("SELECT deactivated_by FROM okta_security_user WHERE user_id = :i"), {"i": user_id}
        )
        assert marker.scalar() is None

    # Okta lets Hal in again: neither a new token nor sync-users undoes the administrator's decision.
    assert stack.okta("POST", f"/users/{uid}/lifecycle/activate").status_code == 200
    assert refused(stack, stack.token(HAL, age=-1))["code"] == "inactive_user"
    sync = subprocess.run(
        [OKTA_CLI, "sync-users", "--json"], env=stack.airflow.env(), capture_output=True, text=True, timeout=300
    )
    assert sync.returncode == 0, sync.stderr[-2000:]
    [entry] = [e for e in json.loads(sync.stdout)["entries"] if e["username"] == login]
    assert (entry["action"], entry["reason"]) == ("skip", "deactivated_by_admin")
    assert not user_row(stack.db_url, login)["active"]


# --------------------------------------------------------------------------- cost


def test_a_person_exchanging_in_a_loop_gets_429_with_retry_after_and_aggregated_audit_rows(stack: EvidenceStack):
    token = stack.token(RAE)
    for _ in range(SIGN_INS_PER_MINUTE):
        airflow_token(stack, token)
    since = last_log_id(stack.db_url)
    responses = [exchange(stack, token) for _ in range(10)]  # type: ignore[arg-type]
    assert {r.status_code for r in responses} == {429}
    body = responses[0].json()
    assert (body["error"], body["code"]) == ("temporarily_unavailable", "rate_limited")
    assert 1 <= int(responses[0].headers["Retry-After"]) <= math.ceil(60 / SIGN_INS_PER_MINUTE)
    assert responses[0].headers["Cache-Control"] == "no-store"

    # As for the browser's floods: a few rows per person and minute, then one row per minute that counts
    # the rest (two when the refusals straddle a minute's edge). Every refusal is counted once.
    def counted() -> tuple[int, int, int]:
        rows = audit_rows(stack.db_url, event="login.refused", owner=RAE[0], since_id=since)
        aggregated = [r["extra"]["count"] for r in rows if r["extra"].get("aggregated")]
        return len(rows), len(aggregated), len(rows) - len(aggregated) + sum(aggregated)

    assert wait_until(lambda: counted()[2] == len(responses), timeout=15), counted()
    rows, aggregated, _ = counted()
    assert 1 <= aggregated <= 2
    assert rows < len(responses)
