"""The token endpoint in front of FAB's: JSON or form bodies, and refusals in RFC 6749 §5.2's shape.

FAB's route is replaced by a stand-in that records the body it got and answers as FAB's would
(its LoginResponse, or the HTTPException its login service raises); the FastAPI app is real.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from okta_security.adapter import token_endpoint
from okta_security.errors import AccessTokenRejected, NoMappedRole, OktaKeysUnavailable, OktaUnavailable

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
        (b"grant_type=a&grant_type=b", token_endpoint.FORM, "grant_type appear more than once"),
        (b"assertion=\xff", token_endpoint.FORM, "not valid UTF-8"),
        (b"x=" + b"a" * 70_000, token_endpoint.FORM, "larger than 65536 bytes"),
    ],
)
def test_bodies_that_are_no_request_get_invalid_request(content, content_type, words):
    fab = FabRoute()
    response = client(fab).post("/auth/token", content=content, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert words in response.json()["error_description"]
    assert fab.bodies == []


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
