"""AI agents acting for a person, end to end: the local IdP issues ID-JAGs (Okta Cross App Access) and
client-credentials tokens, a real ``airflow api-server`` (OktaFabAuthManager, SQLite and PostgreSQL)
issues delegated tokens, and every API call they make is an Audit Log row naming the person and the agent.

erin's groups map to Op and Viewer; the agent may use Viewer only, so its token reads but cannot write.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import requests
import yaml
from joserfc import jwt
from joserfc.jwk import RSAKey

from okta_devstack import agent_demo
from okta_devstack.airflow import REPO, AirflowServer, free_port
from okta_local_idp.server import IdpHandle, serve_in_thread
from okta_local_idp.testing import agent_client_token, id_jag_for
from tests.conftest import postgres_database
from tests.integration.helpers import okta_login, rewrite, user_row
from tests.integration.test_audit import RefusalTally, audit_rows, last_log_id
from tests.integration.test_people_api import claims_of, quick_sign_in
from tests.polling import until

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration

AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"
AUDIENCE = "api://airflow"  # the API authorization server's (people's and bots' access tokens)
SCOPE = "airflow.api"
CLI = "airflow-cli"
API_TOKEN = "00local-dev-api-token"
EVENT_HOOK_SECRET = "Bearer agents-hook-secret"
HOOKS = {"Authorization": f"SSWS {API_TOKEN}", "Accept": "application/json"}  # the Management API
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
AGENT = ("airflow-assistant", "airflow-assistant-secret")  # listed under agents: (Viewer)
ROGUE = ("rogue-agent", "rogue-agent-secret")  # an agent app Okta serves, but Airflow does not list
AGENT_REDIRECT = "http://127.0.0.1:8765/callback"
ULO_PATH = "/auth/okta/global-token-revocation"
ERIN = ("erin.agents@example.com", "Erin-pass-1")
ERIN_ID = "00uerinagents0000011"
MAPPING = f"""\
mappings:
  airflow-admins: [Admin]
  airflow-ops: [Op]
  airflow-viewers: [Viewer]
agents:
  {AGENT[0]}:
    name: assistant
    roles: [Viewer]
"""


@dataclass
class AgentStack:
    airflow: AirflowServer
    idp: IdpHandle
    mapping: Path

    @property
    def url(self) -> str:
        return self.airflow.base_url

    @property
    def db_url(self) -> str:
        return self.airflow.db_url

    @property
    def audience(self) -> str:
        return f"{self.url}/auth/token"


def _idp_config(port: int) -> dict[str, Any]:
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    data["server"].update(custom_scopes=[SCOPE], audience=AUDIENCE, access_token_groups_claim=True, api_token=API_TOKEN)
    audience = f"http://127.0.0.1:{port}/auth/token"
    for client in data["clients"]:
        if client["client_id"] == "airflow-local":
            client["redirect_uris"] = [f"http://127.0.0.1:{port}/auth/oauth-authorized/okta"]
            client["universal_logout"] = {"url": f"http://127.0.0.1:{port}{ULO_PATH}"}
    data["clients"] = [c for c in data["clients"] if c["client_id"] not in (AGENT[0], ROGUE[0])]
    for client_id, secret in (AGENT, ROGUE):
        data["clients"].append(
            {
                "client_id": client_id,
                "client_secret": secret,
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["authorization_code", "client_credentials", TOKEN_EXCHANGE],
                "redirect_uris": [AGENT_REDIRECT],
                "cross_app_access": {"audiences": [audience]},
            }
        )
    data["users"].append(
        {
            "id": ERIN_ID,
            "login": ERIN[0],
            "password": ERIN[1],
            "email": ERIN[0],
            "given_name": "Erin",
            "family_name": "Agents",
            "groups": ["airflow-ops", "airflow-viewers", "Everyone"],
        }
    )
    data["event_hooks"] = [
        {"name": "airflow", "url": f"http://127.0.0.1:{port}/auth/okta/events", "authorization": EVENT_HOOK_SECRET}
    ]
    return data


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def agents(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentStack]:
    root = tmp_path_factory.mktemp(f"agents-{request.param}")
    port = free_port()
    idp_config = root / "idp.yaml"
    idp_config.write_text(yaml.safe_dump(_idp_config(port), sort_keys=False))
    mapping = root / "okta_role_mapping.yaml"
    mapping.write_text(MAPPING)
    db_gen = postgres_database() if request.param == "postgres" else None
    db_url = next(db_gen) if db_gen is not None else None
    idp = serve_in_thread(str(idp_config), host="127.0.0.1", port=0)
    airflow = AirflowServer(
        root / "airflow",
        port=port,
        db_url=db_url,
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
            "OKTA_EVENT_HOOK_SECRET": EVENT_HOOK_SECRET,
            "OKTA_UNIVERSAL_LOGOUT_ENDPOINT": f"http://127.0.0.1:{port}{ULO_PATH}",
            "OKTA_AGENT_AUDIENCE": f"http://127.0.0.1:{port}/auth/token",
        },
    )
    try:
        airflow.prepare()
        airflow.start()
        stack = AgentStack(airflow, idp, mapping)
        okta_login(stack.url, *ERIN)  # erin signs in once: her account is linked to her Okta user
        [hook] = requests.get(f"{idp.base_url}/api/v1/eventHooks", headers=HOOKS, timeout=10).json()
        verify = f"{idp.base_url}/api/v1/eventHooks/{hook['id']}/lifecycle/verify"
        assert requests.post(verify, headers=HOOKS, timeout=10).ok  # Okta delivers to a verified hook only
        yield stack
    finally:
        airflow.stop()
        idp.shutdown()
        if db_gen is not None:
            next(db_gen, None)


# --------------------------------------------------------------------------- helpers


def id_jag(stack: AgentStack, agent: tuple[str, str] = AGENT, who: tuple[str, str] = ERIN) -> str:
    """An ID-JAG for Airflow, obtained as a real agent does: erin signs in to the agent's app, the app asks the org."""
    return id_jag_for(
        stack.idp.base_url,
        client_id=agent[0],
        client_secret=agent[1],
        username=who[0],
        password=who[1],
        audience=stack.audience,
        redirect_uri=AGENT_REDIRECT,
    )


def actor_token(stack: AgentStack, agent: tuple[str, str] = AGENT) -> str:
    return agent_client_token(stack.idp.issuer, client_id=agent[0], client_secret=agent[1], scope=SCOPE)


def forged_id_jag(stack: AgentStack, key: RSAKey | None = None, **over: Any) -> str:
    """An ID-JAG signed by hand (with the org's key unless ``key``), to test each check."""
    now = int(time.time())
    claims = {
        "iss": stack.idp.base_url,
        "sub": ERIN_ID,
        "aud": stack.audience,
        "client_id": AGENT[0],
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 300,
    }
    claims.update(over)
    signer = key or stack.idp.context.keys.key
    return jwt.encode({"alg": "RS256", "kid": str(signer.kid), "typ": "oauth-id-jag+jwt"}, claims, signer)


def present(stack: AgentStack, assertion: str) -> requests.Response:
    return requests.post(f"{stack.url}/auth/token", data={"grant_type": JWT_BEARER, "assertion": assertion}, timeout=60)


def exchange(stack: AgentStack, subject: str, actor: str) -> requests.Response:
    body = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "actor_token": actor,
        "actor_token_type": ACCESS_TOKEN_TYPE,
    }
    return requests.post(f"{stack.url}/auth/token", data=body, timeout=60)


def api(stack: AgentStack, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, f"{stack.url}/api/v2{path}", headers=headers, timeout=60, **kwargs)


def delegated(stack: AgentStack) -> str:
    response = present(stack, id_jag(stack))
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def refused(response: requests.Response, code: str | None, reason: str | None = None) -> dict[str, Any]:
    """Assert an RFC 6749 §5.2 refusal with okta_security's code; return the body."""
    assert response.status_code == 400, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == "invalid_grant", body
    assert code is None or body["code"] == code, body
    assert body["error_description"]
    if reason is not None:
        assert body["reason"] == reason, body
    return body


def recorded(tally: RefusalTally, code: str, count: int = 1) -> list[dict[str, Any]]:
    """Assert ``count`` more ``agent.token_refused`` with ``code``, as rows of their own or counted in an aggregate.

    Refusals that name no account are aggregated per source and reason once a few rows exist (anyone can
    provoke them); the detail (which check failed) is in the answer and the row of its own, not the count.
    """
    rows = tally.wait(count)
    assert tally.added() == count, rows
    assert {row["extra"]["reason"] for row in rows} == {code}, rows
    return rows


# --------------------------------------------------------------------------- acting for erin


def test_an_agent_acting_for_erin_sees_only_what_both_allow_and_every_call_is_audited(agents: AgentStack):
    since = last_log_id(agents.db_url)
    response = present(agents, id_jag(agents))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["token_type"], body["roles"]) == ("Bearer", ["Viewer"])
    token = body["access_token"]
    claims = claims_of(token)
    assert claims["act"] == {"sub": AGENT[0]}
    assert claims["sub"] == str(user_row(agents.db_url, ERIN[0])["id"])
    assert claims["exp"] - claims["iat"] <= 15 * 60 + 5
    # erin herself is Op: she could write; the agent, allowed Viewer only, reads but cannot write.
    assert api(agents, "GET", "/dags", token).status_code == 200
    assert api(agents, "POST", "/variables", token, json={"key": "agent", "value": "no"}).status_code == 403
    [issued] = audit_rows(agents.db_url, event="agent.token_issued", since_id=since)
    assert issued["owner"] == ERIN[0]
    assert issued["extra"]["act"] == {"sub": AGENT[0]}
    assert (issued["extra"]["grant"], issued["extra"]["roles"]) == ("id-jag", ["Viewer"])
    assert set(issued["extra"]["person_roles"]) == {"Op", "Viewer"}
    assert until(lambda: len(audit_rows(agents.db_url, event="agent.request", since_id=since)) == 2, timeout=5)
    calls = audit_rows(agents.db_url, event="agent.request", since_id=since)
    assert [(r["owner"], r["extra"]["method"], r["extra"]["endpoint"], r["extra"]["status"]) for r in calls] == [
        (ERIN[0], "GET", "/api/v2/dags", 200),
        (ERIN[0], "POST", "/api/v2/variables", 403),
    ]
    for row in calls:
        assert row["extra"]["act"] == {"sub": AGENT[0]}
        assert row["extra"]["jti"] == claims["jti"]
    [signed_in] = audit_rows(agents.db_url, event="login.succeeded", owner=ERIN[0], since_id=since)
    assert signed_in["extra"]["act"] == AGENT[0]
    assert token not in str(calls)


def test_airflow_s_own_token_route_never_turns_a_delegated_token_into_erins(agents: AgentStack):
    token = delegated(agents)
    before = claims_of(token)
    for token_type in ("api", "cli"):  # Airflow 3's POST /ui/auth/token mints a token for the caller
        minted = requests.post(
            f"{agents.url}/ui/auth/token",
            json={"token_type": token_type},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert minted.status_code in (200, 201), minted.text
        again = minted.json()["access_token"]
        claims = claims_of(again)
        assert claims["act"] == {"sub": AGENT[0]}  # still the agent acting for erin, not erin
        assert claims["exp"] <= before["exp"]  # and no longer than the delegation it came from
        assert api(agents, "POST", "/variables", again, json={"key": "agent", "value": "no"}).status_code == 403


def test_rfc_8693_token_exchange_with_erins_token_and_the_agents_own(agents: AgentStack):
    person = quick_sign_in(agents, ERIN)["access_token"]  # type: ignore[arg-type]
    response = exchange(agents, person, actor_token(agents))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["issued_token_type"], body["roles"]) == (ACCESS_TOKEN_TYPE, ["Viewer"])
    token = body["access_token"]
    assert claims_of(token)["act"] == {"sub": AGENT[0]}
    assert api(agents, "GET", "/dags", token).status_code == 200
    assert api(agents, "POST", "/variables", token, json={"key": "agent", "value": "no"}).status_code == 403


def test_the_demos_assistant_script_shows_both_identities(agents: AgentStack):
    lines = agent_demo.run(agents.url, agents.idp.base_url, user=ERIN[0], password=ERIN[1])
    assert f"acts for {ERIN[0]} as {{'sub': '{AGENT[0]}'}}, with roles ['Viewer']" in lines[1]
    assert lines[2].startswith("3. GET /api/v2/dags -> 200")
    assert lines[3].startswith("4. alice.admin@example.com reads GET /api/v2/eventLogs?event=agent.request -> 200")
    assert any(f"owner={ERIN[0]}  act={AGENT[0]}  GET /api/v2/dags -> 200" in line for line in lines[4:]), lines


# --------------------------------------------------------------------------- refusals


def test_an_agent_not_in_agents_is_refused_and_audited(agents: AgentStack):
    tally = RefusalTally(agents.db_url, "agent.token_refused")
    body = refused(present(agents, id_jag(agents, agent=ROGUE)), "agent_not_mapped")
    assert ROGUE[0] in body["error_description"]
    [row] = recorded(tally, "agent_not_mapped")
    if not row["extra"].get("aggregated"):
        assert row["extra"]["act"] == {"sub": ROGUE[0]}
    refused(
        exchange(agents, quick_sign_in(agents, ERIN)["access_token"], actor_token(agents, ROGUE)), "agent_not_mapped"
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (
            lambda s: forged_id_jag(s, key=RSAKey.generate_key(2048, parameters={"kid": s.idp.context.keys.kid})),
            "bad_signature",
        ),
        (lambda s: forged_id_jag(s, iat=int(time.time()) - 900, exp=int(time.time()) - 600), "expired"),
        (lambda s: forged_id_jag(s, aud="https://other.example.com/auth/token"), "bad_aud"),
        (lambda s: forged_id_jag(s, iss=s.idp.issuer), "bad_iss"),  # the custom server does not issue ID-JAGs
    ],
    ids=["forged", "expired", "wrong-audience", "wrong-issuer"],
)
def test_a_bad_id_jag_is_refused_with_its_reason_and_audited(agents: AgentStack, forge: Any, reason: str):
    tally = RefusalTally(agents.db_url, "agent.token_refused")
    refused(present(agents, forge(agents)), "invalid_agent_grant", reason)
    recorded(tally, "invalid_agent_grant")


def test_an_id_jag_is_spent_by_its_first_use(agents: AgentStack):
    grant = id_jag(agents)
    assert present(agents, grant).status_code == 201
    tally = RefusalTally(agents.db_url, "agent.token_refused")
    refused(present(agents, grant), "invalid_agent_grant", "replayed")
    recorded(tally, "invalid_agent_grant")


def test_a_bot_token_as_the_subject_and_a_persons_token_as_the_actor_are_refused(agents: AgentStack):
    person = quick_sign_in(agents, ERIN)["access_token"]  # type: ignore[arg-type]
    bot = actor_token(agents)
    tally = RefusalTally(agents.db_url, "agent.token_refused")
    refused(exchange(agents, bot, bot), "invalid_agent_grant", "subject_not_a_person")
    refused(exchange(agents, person, person), "invalid_agent_grant", "actor_not_a_client")
    recorded(tally, "invalid_agent_grant", count=2)


def test_removing_the_agent_from_the_mapping_stops_its_tokens_at_the_next_request(agents: AgentStack):
    token = delegated(agents)
    assert api(agents, "GET", "/dags", token).status_code == 200
    original = agents.mapping.read_text()
    since = last_log_id(agents.db_url)
    rewrite(agents.mapping, original.split("agents:")[0])
    try:
        assert until(lambda: api(agents, "GET", "/dags", token).status_code == 403, timeout=15)

        # The row is written once the answer is sent: wait for the refused request's.
        def refused_rows() -> list[dict[str, Any]]:
            rows = audit_rows(agents.db_url, event="agent.request", since_id=since)
            return [row for row in rows if row["extra"]["status"] == 403]

        assert until(lambda: bool(refused_rows()), timeout=5)
        assert "not listed under agents:" in refused_rows()[0]["extra"]["refused"]
    finally:
        rewrite(agents.mapping, original)
    assert until(lambda: present(agents, id_jag(agents)).status_code == 201, timeout=15, every=0.5)


# --------------------------------------------------------------------------- logout and leavers (last: erin leaves)


def test_unassigning_erin_from_the_agents_app_ends_its_tokens_not_hers(agents: AgentStack):
    since = last_log_id(agents.db_url)
    agent_token = delegated(agents)
    own = requests.post(
        f"{agents.url}/auth/token",
        data={"grant_type": JWT_BEARER, "assertion": quick_sign_in(agents, ERIN)["access_token"]},  # type: ignore[arg-type]
        timeout=60,
    ).json()["access_token"]
    removed = requests.delete(
        f"{agents.idp.base_url}/api/v1/apps/{AGENT[0]}/users/{ERIN_ID}", headers=HOOKS, timeout=10
    )
    assert removed.status_code == 204
    assert until(lambda: api(agents, "GET", "/dags", agent_token).status_code == 403, timeout=5)
    assert api(agents, "GET", "/dags", own).status_code == 200  # erin's own access is untouched
    assert user_row(agents.db_url, ERIN[0])["active"]
    [ended] = audit_rows(agents.db_url, event="agent.delegation_ended", since_id=since)
    assert (ended["owner"], ended["extra"]["act"]) == (ERIN[0], {"sub": AGENT[0]})
    # A grant Okta vouched for after the unassignment (here the IdP keeps issuing them) is the agent's again.
    assert until(lambda: present(agents, id_jag(agents)).status_code == 201, timeout=5, every=0.5)


def test_okta_s_universal_logout_of_erin_ends_the_agents_token(agents: AgentStack):
    token = delegated(agents)
    assert api(agents, "GET", "/dags", token).status_code == 200
    sent = requests.post(f"{agents.idp.base_url}/__idp/universal-logout", json={"user": ERIN_ID}, timeout=30)
    assert [r["status"] for r in sent.json()] == [204]
    assert until(lambda: api(agents, "GET", "/dags", token).status_code == 403, timeout=2.0)
    # A grant from after the sign-out works: from the next second on (an iat has whole seconds).
    assert until(lambda: present(agents, id_jag(agents)).status_code == 201, timeout=5, every=0.5)


def test_offboarding_erin_cuts_the_agents_token_as_fast_as_her_own(agents: AgentStack):
    own = requests.post(
        f"{agents.url}/auth/token",
        data={"grant_type": JWT_BEARER, "assertion": quick_sign_in(agents, ERIN)["access_token"]},  # type: ignore[arg-type]
        timeout=60,
    ).json()["access_token"]
    agent_token = delegated(agents)
    assert api(agents, "GET", "/dags", own).status_code == 200
    assert api(agents, "GET", "/dags", agent_token).status_code == 200
    started = time.monotonic()
    base = agents.idp.base_url
    deactivated = requests.post(f"{base}/api/v1/users/{ERIN_ID}/lifecycle/deactivate", headers=HOOKS, timeout=10)
    assert deactivated.status_code == 200
    assert until(lambda: api(agents, "GET", "/dags", own).status_code in (401, 403), timeout=15)
    own_cut = time.monotonic() - started
    assert api(agents, "GET", "/dags", agent_token).status_code in (401, 403)  # already, with hers
    assert own_cut < 15
    since = last_log_id(agents.db_url)
    refused(present(agents, forged_id_jag(agents)), None)  # and no new one, even with a grant Okta signed
    assert audit_rows(agents.db_url, event="agent.token_refused", since_id=since)
