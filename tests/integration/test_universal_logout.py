"""Okta Universal Logout end to end: the local IdP signs a person out, every replica follows within 2 s.

SQLite: the Airflow-native stack (``native``, one api-server with ``OktaFabAuthManager``).
PostgreSQL: two api-servers on one database, as replicas behind a load balancer are; the IdP's
request reaches one of them, the other must follow through the database alone. The browser's
cookies (host ``127.0.0.1``, any port) go to both, as they would through one load balancer.

Each request the endpoint refuses must change nothing: the person's session and token still work.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import requests
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import RSAKey

from okta_devstack.airflow import AirflowServer, free_port
from okta_local_idp.server import serve_in_thread
from tests.conftest import postgres_database
from tests.integration.conftest import OKTA_AUTH_MANAGER, ULO_PASSWORD, ULO_PERSON
from tests.integration.deployment import API_TOKEN, CLIENT_ID, CLIENT_SECRET, start_all
from tests.integration.helpers import okta_login
from tests.stacks import idp_data

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from okta_local_idp.server import IdpHandle

PERSON_ID = "00uulo0000000000001a"
PATH = "/auth/okta/global-token-revocation"
EFFECT_SECONDS = 2.0  # the promise: every replica refuses the person's sessions and tokens this soon


@dataclass
class UloStack:
    """Replicas (Airflow URLs) sharing one database, the IdP, and the endpoint's public URL (the JWT's aud)."""

    replicas: list[str]
    idp: IdpHandle
    db_url: str
    endpoint: str


def _ulo_idp(data: dict, airflow_url: str) -> None:
    for client in data["clients"]:
        if client["client_id"] == CLIENT_ID:
            client["universal_logout"] = {"url": f"{airflow_url}{PATH}", "subject_format": "iss_sub"}
    data["users"].append(
        {"id": PERSON_ID, "login": ULO_PERSON, "password": ULO_PASSWORD, "groups": ["airflow-ops", "Everyone"]}
    )


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UloStack]:
    root: Path = tmp_path_factory.mktemp("universal-logout")
    port_a, port_b = free_port(), free_port()
    url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    idp_config = root / "idp_users.yaml"
    idp_config.write_text(json.dumps(idp_data(url_a, url_b, edit=_ulo_idp)))  # JSON is YAML
    mapping = root / "okta_role_mapping.yaml"
    mapping.write_text("mappings:\n  airflow-ops: [Op]\n")
    db_gen = postgres_database()
    db_url = next(db_gen)
    with serve_in_thread(str(idp_config), host="127.0.0.1", port=0) as idp:
        env = {
            "OKTA_ISSUER": idp.issuer,
            "OKTA_CLIENT_ID": CLIENT_ID,
            "OKTA_CLIENT_SECRET": CLIENT_SECRET,
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
            "OKTA_UNIVERSAL_LOGOUT_ENDPOINT": f"{url_a}{PATH}",  # the public URL Okta calls
        }
        a = AirflowServer(root / "a", okta_env=env, port=port_a, db_url=db_url, auth_manager=OKTA_AUTH_MANAGER)
        b = AirflowServer(root / "b", okta_env=env, port=port_b, db_url=db_url, auth_manager=OKTA_AUTH_MANAGER)
        try:
            a.prepare()
            b.prepare(migrate=False)  # A migrated the shared database
            start_all([a, b])
            yield UloStack([url_a, url_b], idp, db_url, f"{url_a}{PATH}")
        finally:
            a.stop()
            b.stop()
            next(db_gen, None)


@pytest.fixture(
    params=[  # each in the group of the server it takes (tests/conftest.py), as xdist cannot see getfixturevalue
        pytest.param("sqlite", marks=pytest.mark.xdist_group("native:")),
        pytest.param("postgres", marks=pytest.mark.xdist_group("tests/integration/test_universal_logout.py")),
    ]
)
def ulo(request: pytest.FixtureRequest) -> UloStack:
    if request.param == "sqlite":
        native = request.getfixturevalue("native")
        return UloStack([native.url], native.idp, native.db_url, f"{native.url}{PATH}")
    return request.getfixturevalue("two_replicas")


# -- the person ----------------------------------------------------------------------------------


def sign_in(url: str) -> requests.Session:
    browser, final = okta_login(url, ULO_PERSON, ULO_PASSWORD)
    assert final.status_code == 200, final.text[:300]
    assert "_token" in browser.cookies, "no Airflow token after the sign-in"
    return browser


def token_works(url: str, token: str) -> bool:
    answer = requests.get(f"{url}/api/v2/dags", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code in (200, 401, 403), answer.text[:300]
    return answer.status_code == 200


def session_works(url: str, browser: requests.Session) -> bool:
    """Return whether the Flask session is signed in: FAB's login page then sends it home, not to Okta."""
    answer = browser.get(f"{url}/auth/login/", allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[:300]
    return "/login/okta" not in answer.headers["Location"]


def everything_works(stack: UloStack, browser: requests.Session, token: str) -> list[bool]:
    return [check for url in stack.replicas for check in (token_works(url, token), session_works(url, browser))]


def not_before(db_url: str) -> Any:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT not_before, jti FROM okta_security_sign_out WHERE username = :u"), {"u": ULO_PERSON}
            ).first()
    finally:
        engine.dispose()


def account_active(db_url: str) -> bool:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(sa.text("SELECT active FROM ab_user WHERE username = :u"), {"u": ULO_PERSON}).scalar()
            )
    finally:
        engine.dispose()


def audit_extras(db_url: str, event: str) -> list[dict]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT extra FROM log WHERE event = :e ORDER BY id"), {"e": event}).all()
    finally:
        engine.dispose()
    return [json.loads(r[0]) for r in rows if r[0]]


# -- requests as Okta (or an impostor) sends them --------------------------------------------------


def claims_for(stack: UloStack, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": stack.idp.base_url,
        "sub": CLIENT_ID,
        "aud": stack.endpoint,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return claims


def unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}."


ISS_SUB = "iss_sub"


def body_for(stack: UloStack, kind: str = ISS_SUB) -> dict[str, Any]:
    if kind == "email":
        return {"sub_id": {"format": "email", "email": ULO_PERSON}}
    return {"sub_id": {"format": "iss_sub", "iss": stack.idp.base_url, "sub": PERSON_ID}}


def send(stack: UloStack, token: str, body: Any, *, replica: int = 0) -> requests.Response:
    return requests.post(
        f"{stack.replicas[replica]}{PATH}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


BAD_REQUESTS = {
    # name: (token maker, body maker, status, reason)
    "unsigned": (lambda s: unsigned(claims_for(s)), body_for, 401, "alg_not_allowed"),
    "wrong_key": (
        lambda s: jwt.encode(
            {"alg": "RS256", "kid": s.idp.context.keys.kid},
            claims_for(s),
            RSAKey.generate_key(2048, parameters={"kid": s.idp.context.keys.kid}),
        ),
        body_for,
        401,
        "bad_signature",
    ),
    "wrong_audience": (
        lambda s: s.idp.context.keys.sign(claims_for(s, aud=f"https://elsewhere.example.com{PATH}")),
        body_for,
        401,
        "bad_aud",
    ),
    "custom_server_issuer": (
        lambda s: s.idp.context.keys.sign(claims_for(s, iss=s.idp.issuer)),
        body_for,
        401,
        "bad_iss",
    ),
    "expired": (
        lambda s: s.idp.context.keys.sign(claims_for(s, iat=int(time.time()) - 600, exp=int(time.time()) - 300)),
        body_for,
        401,
        "expired",
    ),
    "malformed_body": (
        lambda s: s.idp.context.keys.sign(claims_for(s)),
        lambda s: {"sub_id": {"format": "opaque", "id": PERSON_ID}},
        400,
        "unsupported_format",
    ),
    "unknown_subject": (
        lambda s: s.idp.context.keys.sign(claims_for(s)),
        lambda s: {"sub_id": {"format": "email", "email": "nobody@example.com"}},
        404,
        "no_account",
    ),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_a_bad_request_is_refused_and_changes_nothing(ulo: UloStack, case: str):
    make_token, make_body, status, reason = BAD_REQUESTS[case]
    browser = sign_in(ulo.replicas[0])
    token = browser.cookies["_token"]
    before = not_before(ulo.db_url)
    answer = send(ulo, make_token(ulo), make_body(ulo), replica=len(ulo.replicas) - 1)
    assert answer.status_code == status, answer.text
    assert answer.json()["reason"] == reason
    time.sleep(EFFECT_SECONDS)  # a change, had there been one, would show by now
    assert not_before(ulo.db_url) == before
    assert all(everything_works(ulo, browser, token))
    assert any(extra.get("reason") == reason for extra in audit_extras(ulo.db_url, "universal_logout.refused"))


def test_okta_s_sign_out_ends_every_session_and_token_on_every_replica_within_2_s(ulo: UloStack):
    first = sign_in(ulo.replicas[0])
    second = sign_in(ulo.replicas[-1])  # another browser, signed in on the other replica
    tokens = [first.cookies["_token"], second.cookies["_token"]]
    assert all(everything_works(ulo, first, tokens[0]) + everything_works(ulo, second, tokens[1]))
    sent = len(requests.get(f"{ulo.idp.base_url}/__idp/universal-logout", timeout=10).json())

    # Okta's "Revoke all user sessions": the IdP ends its own, then calls Airflow's endpoint.
    answer = requests.delete(
        f"{ulo.idp.base_url}/api/v1/users/{PERSON_ID}/sessions",
        headers={"Authorization": f"SSWS {API_TOKEN}"},
        timeout=30,
    )
    signed_out_at = time.monotonic()
    assert answer.status_code == 204
    [request] = requests.get(f"{ulo.idp.base_url}/__idp/universal-logout", timeout=10).json()[sent:]
    assert request["status"] == 204, request

    while True:
        results = everything_works(ulo, first, tokens[0]) + everything_works(ulo, second, tokens[1])
        elapsed = time.monotonic() - signed_out_at
        if not any(results) or elapsed > EFFECT_SECONDS:
            break
        time.sleep(0.1)
    assert not any(results), f"still signed in {elapsed:.1f} s later: {results}"

    assert account_active(ulo.db_url)  # signed out, not deactivated
    row = not_before(ulo.db_url)
    assert row is not None
    assert row.jti == request["claims"]["jti"]
    audits = [a for a in audit_extras(ulo.db_url, "user.universal_logout") if a.get("jti") == row.jti]
    assert len(audits) == 1
    assert "eyJ" not in json.dumps(audits)  # the request's jti, never its token

    # The next sign-in through Okta works, on every replica.
    again = sign_in(ulo.replicas[-1])
    assert all(everything_works(ulo, again, again.cookies["_token"]))


def test_a_replayed_request_is_refused_and_changes_nothing(ulo: UloStack):
    sign_in(ulo.replicas[0])  # the person has an account (whatever ran before)
    token = ulo.idp.context.keys.sign(claims_for(ulo))
    assert send(ulo, token, body_for(ulo, "email")).status_code == 204  # the email format works too
    first = not_before(ulo.db_url)
    browser = sign_in(ulo.replicas[0])
    time.sleep(1.1)  # a different second: a replay that went through would move the not-before past this sign-in
    replayed = send(ulo, token, body_for(ulo, "email"), replica=len(ulo.replicas) - 1)
    assert replayed.status_code == 401
    assert replayed.json()["reason"] == "replayed_jti"
    time.sleep(EFFECT_SECONDS)
    assert not_before(ulo.db_url) == first
    assert all(everything_works(ulo, browser, browser.cookies["_token"]))


def test_a_body_over_4_kb_is_refused_unread(ulo: UloStack):
    sign_in(ulo.replicas[0])  # the person has an account (whatever ran before)
    token = ulo.idp.context.keys.sign(claims_for(ulo))
    padded = {**body_for(ulo), "padding": "x" * 5000}
    before = not_before(ulo.db_url)
    answer = send(ulo, token, padded)
    assert answer.status_code == 413
    assert answer.json()["error"] == "request_too_large"
    assert not_before(ulo.db_url) == before
    assert send(ulo, token, body_for(ulo)).status_code == 204  # its jti was not taken: nothing was read
