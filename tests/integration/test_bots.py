"""Bots through a real Airflow api-server with OktaFabAuthManager and the local IdP (SQLite and PostgreSQL).

A bot gets an Okta access token with the client-credentials flow (client_secret_basic or
private_key_jwt), exchanges it at ``POST /auth/token`` for an Airflow JWT, and calls the REST API
as its service user, within its mapped roles only.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
import requests
import sqlalchemy as sa
import yaml
from joserfc import jwt
from joserfc.jwk import RSAKey

from okta_devstack.airflow import REPO
from tests.conftest import MAPPING_SETTLE_SECONDS
from tests.integration.helpers import okta_login, rewrite, user_roles, user_row
from tests.stacks import Stack, StackSpec, airflow_command, running_stack

if TYPE_CHECKING:
    from collections.abc import Iterator

    from okta_devstack.airflow import AirflowServer

AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"
AUDIENCE = "api://airflow"
SCOPE = "airflow.api"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAPPING_CHECK_INTERVAL = MAPPING_SETTLE_SECONDS  # after an edit: OKTA_ROLE_MAPPING_CHECK_SECONDS and a margin
DB_USER = ("pipeline-db-user", "Db-pass-1")
OPS_KEY = RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"}, auto_kid=True)
DAG_ID = "bots_example"
DAG_FILE = f"""
from datetime import datetime
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("{DAG_ID}", start_date=datetime(2024, 1, 1), schedule=None, is_paused_upon_creation=True):
    EmptyOperator(task_id="noop")
"""

CLIENTS_SECTION = """
clients:
  ci-viewer:
    name: ci-viewer
    roles: [Viewer]
  ops-bot:
    name: ops
    roles: [Op]
  scoped-bot:
    name: scoped
    scopes:
      airflow.trigger: [User]
  ci-viewer-2: [Viewer]
  ci-mixed:
    name: ci-mixed
    roles: [Viewer]
    scopes:
      airflow.trigger: [User]
"""


BotStack = Stack  # the factory's stack (tests/stacks.py): airflow, idp, mapping, idp_config, url, token_endpoint


def _bot_clients(data: dict, airflow_url: str) -> None:
    data["server"]["custom_scopes"] = [SCOPE, "airflow.trigger", "other.scope"]
    data["server"]["audience"] = AUDIENCE
    data["users"].append(  # a person whose Okta username is a bot's service username
        {
            "id": "00uimpostor000000009",
            "login": "svc-ci-viewer",
            "password": "Impostor-pass-1",
            "email": "impostor@example.com",
            "groups": ["airflow-admins"],
        }
    )
    cc = {"grant_types": ["client_credentials"]}
    data["clients"] += [
        {"client_id": "ci-viewer", "client_secret": "ci-viewer-secret", **cc},
        {"client_id": "ci-viewer-2", "client_secret": "ci-viewer-2-secret", **cc},
        {"client_id": "scoped-bot", "client_secret": "scoped-bot-secret", **cc},
        {"client_id": "stranger-bot", "client_secret": "stranger-bot-secret", **cc},
        {"client_id": "conflict-bot", "client_secret": "conflict-bot-secret", **cc},
        {"client_id": "burst-bot", "client_secret": "burst-bot-secret", **cc},
        {"client_id": "ci-mixed", "client_secret": "ci-mixed-secret", **cc},
        {
            "client_id": "ops-bot",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [OPS_KEY.as_dict(private=False)]},
            **cc,
        },
    ]


def _dag_and_database_user(airflow: AirflowServer) -> None:
    (airflow.home / "dags" / f"{DAG_ID}.py").write_text(DAG_FILE)
    airflow_command(airflow, "dags", "reserialize")
    airflow_command(
        airflow,
        "users",
        "create",
        "--username",
        DB_USER[0],
        "--password",
        DB_USER[1],
        "--role",
        "Viewer",
        "--firstname",
        "Pipeline",
        "--lastname",
        "DbUser",
        "--email",
        "pipeline-db-user@example.com",
    )


# Token checks run on SQLite; the test with SQL races of its own asks for PostgreSQL (indirect parametrize).
@pytest.fixture(scope="module", params=["sqlite"])
def bots(request, tmp_path_factory) -> Iterator[BotStack]:
    spec = StackSpec(
        database=request.param,
        mapping=(REPO / "config" / "role_mapping.yaml").read_text() + CLIENTS_SECTION,
        edit_idp=_bot_clients,
        auth_manager=AUTH_MANAGER,
        settings={
            "OKTA_BOT_AUDIENCE": AUDIENCE,
            "OKTA_BOT_SCOPES": SCOPE,
            "OKTA_JWKS_REFETCH_INTERVAL_SECONDS": "1",
        },
        before_start=_dag_and_database_user,
    )
    with running_stack(spec, tmp_path_factory.mktemp(f"bots-{request.param}")) as stack:
        yield stack


# --------------------------------------------------------------------------- helpers


def okta_token(stack: BotStack, client_id: str, scope: str = SCOPE) -> str:
    """Get an access token from the IdP with client_secret_basic."""
    response = requests.post(
        stack.token_endpoint,
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, f"{client_id}-secret"),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def okta_token_private_key_jwt(stack: BotStack, client_id: str = "ops-bot", scope: str = SCOPE) -> str:
    """Get an access token from the IdP authenticating with a signed client assertion."""
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": stack.token_endpoint,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    assertion = jwt.encode({"alg": "RS256", "kid": OPS_KEY.kid}, claims, OPS_KEY)
    response = requests.post(
        stack.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def exchange(stack: BotStack, okta_access_token: str, path: str = "/auth/token") -> requests.Response:
    """POST the Okta token to Airflow's token endpoint."""
    return requests.post(
        f"{stack.url}{path}", json={}, headers={"Authorization": f"Bearer {okta_access_token}"}, timeout=60
    )


def airflow_token(stack: BotStack, okta_access_token: str) -> str:
    response = exchange(stack, okta_access_token)
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def api(stack: BotStack, method: str, path: str, token: str, **kwargs) -> requests.Response:
    return requests.request(
        method, f"{stack.url}/api/v2{path}", headers={"Authorization": f"Bearer {token}"}, timeout=60, **kwargs
    )


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def refusal(response: requests.Response) -> dict:
    return response.json()["detail"]


def log_rows(db_url: str, **where: str) -> list[dict]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            clause = " AND ".join(f"{k} = :{k}" for k in where) or "1=1"
            rows = conn.execute(sa.text(f"SELECT event, owner, extra FROM log WHERE {clause} ORDER BY id"), where)
            return [dict(r) for r in rows.mappings()]
    finally:
        engine.dispose()


def set_active(db_url: str, username: str, active: bool) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE ab_user SET active = :a WHERE username = :u"), {"a": active, "u": username})
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- tests
# Key rotation comes first: nothing before it in the module re-fetches the JWKS.


def test_key_rotation_between_two_exchanges(bots: BotStack):
    first = okta_token(bots, "ci-viewer")
    assert exchange(bots, first).status_code == 201
    old_kid = bots.idp.context.keys.kid
    new_kid = bots.idp.rotate_signing_key(keep_previous=False)  # emergency rotation: old key withdrawn
    assert new_kid != old_kid
    second = okta_token(bots, "ci-viewer")
    response = exchange(bots, second)
    assert response.status_code == 201, response.text  # unknown kid -> one re-fetch -> verified
    time.sleep(1.1)  # OKTA_JWKS_REFETCH_INTERVAL_SECONDS=1 in this stack
    stale = exchange(bots, first)  # signed by the withdrawn key
    assert stale.status_code == 401
    assert refusal(stale)["reason"] == "unknown_key"


def test_viewer_bot_reads_but_cannot_write(bots: BotStack):
    token = airflow_token(bots, okta_token(bots, "ci-viewer"))
    dags = api(bots, "GET", "/dags", token)
    assert dags.status_code == 200
    assert [d["dag_id"] for d in dags.json()["dags"]] == [DAG_ID]
    assert api(bots, "PATCH", f"/dags/{DAG_ID}", token, json={"is_paused": False}).status_code == 403
    assert api(bots, "POST", f"/dags/{DAG_ID}/dagRuns", token, json={"logical_date": None}).status_code == 403
    assert api(bots, "GET", "/pools", token).status_code == 200
    denied = api(bots, "POST", "/pools", token, json={"name": "viewer-pool", "slots": 1})
    assert denied.status_code == 403
    assert api(bots, "POST", "/variables", token, json={"key": "k", "value": "v"}).status_code == 403
    assert user_roles(bots.db_url, "svc-ci-viewer") == {"Viewer"}
    row = user_row(bots.db_url, "svc-ci-viewer")
    assert row["email"] == "ci-viewer@okta-clients.invalid"
    assert row["password"] is None  # cannot sign in with a password


def test_a_person_cannot_sign_in_as_a_service_user(bots: BotStack):
    assert exchange(bots, okta_token(bots, "ci-viewer")).status_code == 201
    session, final = okta_login(bots.url, "svc-ci-viewer", "Impostor-pass-1")
    assert final.status_code == 403
    assert "service_user_login" in final.text
    assert "_token" not in session.cookies
    assert user_roles(bots.db_url, "svc-ci-viewer") == {"Viewer"}
    assert user_row(bots.db_url, "svc-ci-viewer")["email"] == "ci-viewer@okta-clients.invalid"


def test_op_bot_with_private_key_jwt_writes_and_is_attributed(bots: BotStack):
    token = airflow_token(bots, okta_token_private_key_jwt(bots))
    pool = f"ops-pool-{uuid.uuid4().hex[:6]}"
    created = api(bots, "POST", "/pools", token, json={"name": pool, "slots": 2})
    assert created.status_code == 201, created.text
    assert user_roles(bots.db_url, "svc-ops") == {"Op"}
    paused = api(bots, "PATCH", f"/dags/{DAG_ID}", token, json={"is_paused": True})
    assert paused.status_code == 200, paused.text
    users = requests.get(f"{bots.url}/auth/fab/v1/users", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert users.status_code == 403  # managing users needs Admin, which this client is not mapped to
    # Airflow's own Audit Log attributes the write to the bot's service user.
    names = [row["event"] for row in log_rows(bots.db_url, owner="svc-ops")]
    assert any("pool" in name for name in names), names
    exchanged = log_rows(bots.db_url, event="bot.token_exchanged", owner="svc-ops")
    assert exchanged
    extra = json.loads(exchanged[-1]["extra"])
    assert extra["client_id"] == "ops-bot"
    assert extra["roles"] == ["Op"]
    assert extra["token_jti"].startswith("AT.")
    assert "eyJ" not in exchanged[-1]["extra"]  # never the token itself


def test_airflow_token_never_outlives_the_okta_token(bots: BotStack):
    okta = okta_token(bots, "ci-viewer")
    airflow = airflow_token(bots, okta)
    assert claims_of(airflow)["exp"] <= claims_of(okta)["exp"]
    cli = exchange(bots, okta, "/auth/token/cli")
    assert cli.status_code == 201
    assert claims_of(cli.json()["access_token"])["exp"] <= claims_of(okta)["exp"]


def test_unmapped_client_is_refused_with_403(bots: BotStack):
    response = exchange(bots, okta_token(bots, "stranger-bot"))
    assert response.status_code == 403
    detail = refusal(response)
    assert detail["error"] == "unmapped_client"
    assert detail["client_id"] == "stranger-bot"
    assert "not mapped to any Airflow role" in detail["message"]
    assert user_row(bots.db_url, "svc-stranger-bot") is None
    refused = log_rows(bots.db_url, event="bot.token_refused")
    assert any(json.loads(r["extra"]).get("client_id") == "stranger-bot" for r in refused)


def test_scope_mapped_client_needs_the_scope(bots: BotStack):
    without = exchange(bots, okta_token(bots, "scoped-bot"))
    assert without.status_code == 403
    assert "airflow.trigger" in refusal(without)["message"]
    token = airflow_token(bots, okta_token(bots, "scoped-bot", scope=f"{SCOPE} airflow.trigger"))
    assert api(bots, "GET", "/dags", token).status_code == 200
    triggered = api(bots, "POST", f"/dags/{DAG_ID}/dagRuns", token, json={"logical_date": None})
    assert triggered.status_code == 200, triggered.text
    assert user_roles(bots.db_url, "svc-scoped+user") == {"User"}


def can_edit_dags(stack: BotStack, token: str) -> bool:
    """Return whether the token may pause a DAG (User may, Viewer may not); the DAG stays paused."""
    answer = api(stack, "PATCH", f"/dags/{DAG_ID}", token, json={"is_paused": True})
    assert answer.status_code in (200, 403), answer.text
    return answer.status_code == 200


def test_each_airflow_token_keeps_the_roles_its_okta_token_earned(bots: BotStack):
    """Two overlapping exchanges of one client: the narrow token never gains the broad one's roles."""
    narrow = airflow_token(bots, okta_token(bots, "ci-mixed"))
    broad = airflow_token(bots, okta_token(bots, "ci-mixed", scope=f"{SCOPE} airflow.trigger"))
    assert not can_edit_dags(bots, narrow), "the narrow token gained the roles of a later, broader exchange"
    assert can_edit_dags(bots, broad)
    again = airflow_token(bots, okta_token(bots, "ci-mixed"))  # a later narrow exchange takes nothing away
    assert can_edit_dags(bots, broad)
    assert not can_edit_dags(bots, again)
    assert not can_edit_dags(bots, narrow)
    assert user_roles(bots.db_url, "svc-ci-mixed") == {"Viewer"}
    assert user_roles(bots.db_url, "svc-ci-mixed+user") == {"Viewer", "User"}
    assert user_row(bots.db_url, "svc-ci-mixed+user")["email"] == "ci-mixed+user@okta-clients.invalid"
    owners = {row["owner"] for row in log_rows(bots.db_url, event="bot.token_exchanged")}
    assert {"svc-ci-mixed", "svc-ci-mixed+user"} <= owners


def test_a_client_removed_from_the_mapping_loses_every_service_user(bots: BotStack):
    narrow = airflow_token(bots, okta_token(bots, "ci-mixed"))
    broad = airflow_token(bots, okta_token(bots, "ci-mixed", scope=f"{SCOPE} airflow.trigger"))
    assert api(bots, "GET", "/dags", narrow).status_code == 200
    assert api(bots, "GET", "/dags", broad).status_code == 200
    original = bots.mapping.read_text()
    entry = "  ci-mixed:\n    name: ci-mixed\n    roles: [Viewer]\n    scopes:\n      airflow.trigger: [User]\n"
    assert entry in original
    rewrite(bots.mapping, original.replace(entry, ""))
    try:
        time.sleep(MAPPING_CHECK_INTERVAL)
        assert exchange(bots, okta_token(bots, "ci-viewer")).status_code == 201  # the server notices the change
        for token in (narrow, broad):
            assert api(bots, "GET", "/dags", token).status_code in (401, 403)
        assert not user_row(bots.db_url, "svc-ci-mixed")["active"]
        assert not user_row(bots.db_url, "svc-ci-mixed+user")["active"]
        retired = {row["owner"] for row in log_rows(bots.db_url, event="bot.service_user_retired")}
        assert {"svc-ci-mixed", "svc-ci-mixed+user"} <= retired
        assert refusal(exchange(bots, okta_token(bots, "ci-mixed")))["error"] == "unmapped_client"
    finally:
        rewrite(bots.mapping, original)
        time.sleep(MAPPING_CHECK_INTERVAL)
    # Back in the mapping: the next exchange brings the retired user back (an admin's deactivation would not).
    token = airflow_token(bots, okta_token(bots, "ci-mixed"))
    assert api(bots, "GET", "/dags", token).status_code == 200
    assert user_row(bots.db_url, "svc-ci-mixed")["active"]


def test_missing_scope_is_401(bots: BotStack):
    response = exchange(bots, okta_token(bots, "ci-viewer", scope="other.scope"))
    assert response.status_code == 401
    detail = refusal(response)
    assert (detail["error"], detail["reason"]) == ("invalid_access_token", "missing_scope")
    assert "airflow.api" in detail["message"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_wrong_audience_is_401(bots: BotStack):
    data = yaml.safe_load(bots.idp_config.read_text())
    data["server"]["audience"] = "api://someone-else"
    original = bots.idp_config.read_text()
    rewrite(bots.idp_config, yaml.safe_dump(data, sort_keys=False))
    try:
        token = okta_token(bots, "ci-viewer")
    finally:
        rewrite(bots.idp_config, original)
    assert claims_of(token)["aud"] == "api://someone-else"
    response = exchange(bots, token)
    assert response.status_code == 401
    detail = refusal(response)
    assert detail["reason"] == "wrong_audience"
    assert AUDIENCE in detail["message"]


def test_expired_token_is_401(bots: BotStack):
    now = int(time.time())
    claims = claims_of(okta_token(bots, "ci-viewer"))
    claims.update(iat=now - 7200, exp=now - 3600, jti=f"AT.{uuid.uuid4().hex}")
    expired = bots.idp.context.keys.sign(claims)  # Okta's own key, an hour past expiry
    response = exchange(bots, expired)
    assert response.status_code == 401
    assert refusal(response)["reason"] == "expired"


def test_bad_signature_is_401(bots: BotStack):
    claims = claims_of(okta_token(bots, "ci-viewer"))
    forger = RSAKey.generate_key(2048, auto_kid=False)
    forged = jwt.encode({"alg": "RS256", "kid": bots.idp.context.keys.kid}, claims, forger)
    response = exchange(bots, forged)
    assert response.status_code == 401
    assert refusal(response)["reason"] == "bad_signature"
    assert user_roles(bots.db_url, "svc-ci-viewer") == {"Viewer"}


def test_username_and_password_still_work_for_database_users(bots: BotStack):
    response = requests.post(
        f"{bots.url}/auth/token", json={"username": DB_USER[0], "password": DB_USER[1]}, timeout=60
    )
    assert response.status_code == 201, response.text
    assert api(bots, "GET", "/dags", response.json()["access_token"]).status_code == 200
    wrong = requests.post(f"{bots.url}/auth/token", json={"username": DB_USER[0], "password": "nope"}, timeout=60)
    assert wrong.status_code == 401
    assert requests.post(f"{bots.url}/auth/token", json={}, timeout=60).status_code == 400


def test_deactivated_service_user_is_refused(bots: BotStack):
    okta = okta_token(bots, "ci-viewer-2")
    assert exchange(bots, okta).status_code == 201
    set_active(bots.db_url, "svc-ci-viewer-2", False)
    try:
        response = exchange(bots, okta)
        assert response.status_code == 403
        assert refusal(response)["error"] == "service_user_inactive"
    finally:
        set_active(bots.db_url, "svc-ci-viewer-2", True)


def test_a_service_username_taken_by_someone_else_is_not_taken_over(bots: BotStack):
    bots.airflow_command(
        "users",
        "create",
        "--username",
        "svc-conflict",
        "--password",
        "Human-pass-1",
        "--role",
        "Admin",
        "--firstname",
        "Human",
        "--lastname",
        "Admin",
        "--email",
        "human.admin@example.com",
    )
    original = bots.mapping.read_text()
    rewrite(bots.mapping, original + "  conflict-bot: {name: conflict, roles: [Viewer]}\n")
    try:
        time.sleep(MAPPING_CHECK_INTERVAL)
        response = exchange(bots, okta_token(bots, "conflict-bot"))
        assert response.status_code == 403
        assert refusal(response)["error"] == "service_user_conflict"
        assert user_roles(bots.db_url, "svc-conflict") == {"Admin"}  # untouched
    finally:
        rewrite(bots.mapping, original)
        time.sleep(MAPPING_CHECK_INTERVAL)


def test_role_change_in_the_mapping_applies_at_the_next_exchange(bots: BotStack):
    original = bots.mapping.read_text()
    rewrite(bots.mapping, original.replace("  ci-viewer-2: [Viewer]", "  ci-viewer-2: [Viewer, Op]"))
    try:
        time.sleep(MAPPING_CHECK_INTERVAL)
        token = airflow_token(bots, okta_token(bots, "ci-viewer-2"))
        assert user_roles(bots.db_url, "svc-ci-viewer-2") == {"Viewer", "Op"}
        extra = json.loads(log_rows(bots.db_url, event="bot.token_exchanged", owner="svc-ci-viewer-2")[-1]["extra"])
        assert extra["roles_before"] == ["Viewer"]
        assert api(bots, "GET", "/dags", token).status_code == 200
    finally:
        rewrite(bots.mapping, original)
        time.sleep(MAPPING_CHECK_INTERVAL)


@pytest.mark.parametrize("bots", ["postgres"], indirect=True)  # concurrency is tested against PostgreSQL only
def test_concurrent_first_exchanges_create_one_service_user(bots: BotStack):
    original = bots.mapping.read_text()
    rewrite(bots.mapping, original + "  burst-bot: {name: burst, roles: [Viewer]}\n")
    try:
        time.sleep(MAPPING_CHECK_INTERVAL)
        tokens = [okta_token(bots, "burst-bot") for _ in range(8)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = [r.status_code for r in pool.map(lambda t: exchange(bots, t), tokens)]
        assert statuses == [201] * 8
        engine = sa.create_engine(bots.db_url)
        try:
            with engine.connect() as conn:
                count = conn.execute(sa.text("SELECT COUNT(*) FROM ab_user WHERE username = 'svc-burst'")).scalar()
        finally:
            engine.dispose()
        assert count == 1
    finally:
        rewrite(bots.mapping, original)
        time.sleep(MAPPING_CHECK_INTERVAL)


def test_the_documented_example_works(bots: BotStack):
    text = (REPO / "docs" / "bots.md").read_text()
    block = text.split("<!-- bots-example:start -->")[1].split("<!-- bots-example:end -->")[0]
    script = block.split("```bash\n", 1)[1].rsplit("```", 1)[0]
    env = {
        **os.environ,
        "OKTA_ISSUER": bots.idp.issuer,
        "CLIENT_ID": "ci-viewer",
        "CLIENT_SECRET": "ci-viewer-secret",
        "AIRFLOW_URL": bots.url,
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"  # total_entries: the one DAG of this stack


def test_exchanges_make_no_call_to_okta_once_keys_are_cached(bots: BotStack, monkeypatch):
    hits = []
    view = bots.idp.app.view_functions["oidc.keys_view"]
    monkeypatch.setitem(bots.idp.app.view_functions, "oidc.keys_view", lambda: hits.append(1) or view())
    tokens = [okta_token(bots, "ci-viewer") for _ in range(5)]
    assert exchange(bots, tokens[0]).status_code == 201  # keys are warm from earlier tests (or fetched now)
    warm = len(hits)
    for token in tokens[1:]:
        assert exchange(bots, token).status_code == 201
    assert len(hits) == warm
    requests.get(f"{bots.idp.issuer}/v1/keys", timeout=10)
    assert len(hits) == warm + 1  # the counter does see fetches of the keys
