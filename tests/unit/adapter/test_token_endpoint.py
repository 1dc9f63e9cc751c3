"""The token endpoint in front of FAB's: JSON or form bodies, and refusals in RFC 6749 §5.2's shape.

FAB's route is replaced by a stand-in that records the body it got and answers as FAB's would
(its LoginResponse, or the HTTPException its login service raises); the FastAPI app is real.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from okta_security.adapter import token_endpoint
from okta_security.errors import AccessTokenRejected, NoMappedRole, OktaKeysUnavailable, OktaUnavailable
from okta_security.people.token_request import FORM

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class LoginResponse(BaseModel):
    access_token: str


class FabRoute:
    """FAB's create_token route: records the body, then answers or raises as told."""

    def __init__(self, raises: HTTPException | None = None) -> None:
        self.raises = raises
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: Request, body: dict[str, Any]) -> LoginResponse:
        self.bodies.append(body)
        if self.raises is not None:
            raise self.raises
        return LoginResponse(access_token="airflow-jwt")


def client(fab: FabRoute) -> TestClient:
    async def token(request: Request) -> Any:
        return await token_endpoint._answer(request, fab)

    app = FastAPI()
    app.router.routes.append(APIRoute("/auth/token", token, methods=["POST"]))
    return TestClient(app)


GRANT = {"grant_type": JWT_BEARER, "assertion": "okta.access.token"}


@pytest.mark.parametrize("shape", ["json", "data"])
def test_a_grant_as_json_or_form_reaches_fab_as_the_same_body(shape):
    fab = FabRoute()
    response = client(fab).post("/auth/token", **{shape: GRANT})
    assert response.status_code == 201
    assert response.json() == {"access_token": "airflow-jwt", "token_type": "Bearer"}
    assert response.headers["cache-control"] == "no-store"
    assert fab.bodies == [GRANT]


def test_fab_s_own_body_is_answered_as_fab_does():
    fab = FabRoute()
    response = client(fab).post("/auth/token", json={"username": "u", "password": "p"})
    assert (response.status_code, response.json()) == (201, {"access_token": "airflow-jwt"})
    fab.raises = HTTPException(status_code=401, detail="Invalid credentials")
    refused = client(fab).post("/auth/token", json={"username": "u", "password": "bad"})
    assert (refused.status_code, refused.json()) == (401, {"detail": "Invalid credentials"})


@pytest.mark.parametrize(
    ("content", "content_type", "words"),
    [
        (b"[1, 2]", "application/json", "must be a JSON object"),
        (b"{not json", "application/json", "must be a JSON object"),
        (b"", "application/json", "must be a JSON object"),
        (b"grant_type=a&grant_type=b", FORM, "grant_type appear more than once"),
        (b"assertion=\xff", FORM, "not valid UTF-8"),
    ],
)
def test_bodies_that_are_no_request_get_invalid_request(content, content_type, words):
    fab = FabRoute()
    response = client(fab).post("/auth/token", content=content, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert words in response.json()["error_description"]
    assert fab.bodies == []


class Upload:
    """An ASGI ``receive`` that hands out a body in chunks and counts what the app asked for."""

    def __init__(self, chunks: int, chunk: bytes = b"a" * 65_536) -> None:
        self.left = chunks
        self.chunk = chunk
        self.reads = 0

    async def __call__(self) -> dict[str, Any]:
        self.reads += 1
        self.left -= 1
        return {"type": "http.request", "body": self.chunk, "more_body": self.left > 0}


def post_raw(app: Any, upload: Upload, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Run one POST /auth/token through the ASGI app with ``upload`` as the body; return status and JSON."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": "/auth/token",
        "raw_path": b"/auth/token",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8080),
    }
    asyncio.run(app(scope, upload, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def test_a_declared_body_over_the_limit_is_refused_unread():
    upload = Upload(chunks=5_000)  # 300 MiB, were it read
    status, body = post_raw(
        client(FabRoute()).app, upload, {"Content-Type": FORM, "Content-Length": str(5_000 * 65_536)}
    )
    assert (status, body["error"]) == (413, "invalid_request")
    assert "larger than 65536 bytes" in body["error_description"]
    assert upload.reads == 0


def test_a_streamed_body_over_the_limit_is_read_no_further():
    upload = Upload(chunks=5_000)  # chunked: no Content-Length
    status, body = post_raw(client(FabRoute()).app, upload, {"Content-Type": FORM})
    assert (status, body["error"]) == (413, "invalid_request")
    assert upload.reads == 2  # 64 KiB, then one more chunk shows the body is over the limit


def test_a_form_with_a_charset_is_still_a_form():
    fab = FabRoute()
    body = b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=abc"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
    assert client(fab).post("/auth/token", content=body, headers=headers).status_code == 201
    assert fab.bodies == [{"grant_type": JWT_BEARER, "assertion": "abc"}]


@pytest.mark.parametrize(
    ("raised", "status", "error"),
    [
        (HTTPException(status_code=400, detail="Username and password must be provided"), 400, "invalid_request"),
        (HTTPException(status_code=401, detail="Invalid credentials"), 400, "invalid_grant"),
        (
            HTTPException(status_code=500, detail={"error": "invalid_config", "message": "install it"}),
            500,
            "server_error",
        ),
    ],
)
def test_fab_s_refusals_of_a_grant_are_told_the_standard_way(raised, status, error):
    response = client(FabRoute(raised)).post("/auth/token", data={"grant_type": "password", "username": "u"})
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_refusal_of_a_grant_is_rfc_6749():
    error = token_endpoint.refusal(NoMappedRole("carol", ["marketing"]), standard=True)
    assert error.status_code == 400
    assert error.detail["error"] == "invalid_grant"
    assert error.detail["code"] == "no_mapped_role"
    assert error.headers == token_endpoint.NO_STORE
    response = client(FabRoute(error)).post("/auth/token", data=GRANT)
    assert (response.status_code, response.json()) == (400, error.detail)


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (AccessTokenRejected("expired", "expired"), 401, {"error": "invalid_access_token", "reason": "expired"}),
        (NoMappedRole("carol", []), 403, {"error": "no_mapped_role"}),
        (OktaUnavailable("Okta is not answering"), 503, {"error": "okta_unavailable"}),
        (OktaKeysUnavailable("keys"), 503, {"error": "okta_keys_unavailable"}),
    ],
)
def test_refusal_with_a_bearer_header_keeps_okta_security_s_shape(error, status, detail):
    refused = token_endpoint.refusal(error, standard=False)
    assert refused.status_code == status
    assert detail.items() <= refused.detail.items()
    assert refused.detail["message"]
