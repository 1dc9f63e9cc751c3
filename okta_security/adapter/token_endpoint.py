"""Airflow 3's token endpoint, okta_security's way: JSON or form bodies, RFC 6749 refusals.

:func:`token_routes` serves ``POST /auth/token`` and ``/auth/token/cli`` in front of FAB's: the body may
be a form (RFC 6749 §4.5, RFC 7523 §2.1), FAB's own route then runs unchanged, and a request that named
a ``grant_type`` hears its refusal as RFC 6749 §5.2 says. :func:`refusal` is ``create_token``'s answer.
"""

from __future__ import annotations

import contextvars
import logging
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from okta_security.adapter.request_body import BodyTooLarge, read_asgi
from okta_security.errors import BotRefused, OktaSecurityError, RateLimited, classify
from okta_security.login.bearer import refusal_challenge, refusal_fields
from okta_security.login.step_up import reason_text
from okta_security.people.token_request import TokenRequestInvalid, description, oauth_refusal, parse_body

if TYPE_CHECKING:
    from collections.abc import Callable

    from okta_security.login.step_up import StepUpOutcome
    from okta_security.mapping.step_up import StepUp

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 65_536  # a grant body is one token (Okta's are ~1 KB, at most 16 KB) and a few words
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1: token responses are not cached
_FAB_ERRORS = {400: "invalid_request", 401: "invalid_grant"}  # FAB's password check, told the standard way
# What the answer adds (step-up roles withheld, an agent's roles), filled in by create_token in FAB's thread:
# the dict is made here, before the thread pool copies the context, so the answer below sees it.
_ANSWER: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("okta_token_answer", default=None)


def note_withheld(outcome: StepUpOutcome, step_up: StepUp | None) -> None:
    """Remember for this token request's answer which step-up roles its token did not earn, and why."""
    if outcome.withheld:
        note_answer(withheld_roles=list(outcome.withheld), withheld_reason=reason_text(outcome.reason, step_up))


def note_answer(**fields: Any) -> None:
    """Add ``fields`` to this token request's answer (RFC 6749 §5.1 allows more parameters)."""
    note = _ANSWER.get()
    if note is not None:
        note.update(fields)


def refusal(error: OktaSecurityError, *, standard: bool) -> HTTPException:
    """Return the HTTP answer to a refused token request: RFC 6749 §5.2 when it was a grant, else okta_security's."""
    retry = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else {}
    if standard:
        code, body = oauth_refusal(error)
        return HTTPException(status_code=code, detail=body, headers={**NO_STORE, **retry})
    code = classify(error).api_status
    if isinstance(error, BotRefused):
        return HTTPException(status_code=code, detail=refusal_fields(error), headers=refusal_challenge(error) or None)
    # A person refused by the login decision (no mapped role, inactive account, ...) or an outage.
    message = str(getattr(error, "message", "") or error)
    return HTTPException(status_code=code, detail={"error": error.code, "message": message}, headers=retry or None)


def token_routes() -> list[APIRoute]:
    """Return ``POST /token`` and ``POST /token/cli`` (under ``/auth``), to be served before FAB's own."""
    from airflow.providers.fab.auth_manager.api_fastapi.routes import login as fab_login

    async def token(request: Request) -> JSONResponse:
        return await _answer(request, fab_login.create_token)

    async def token_cli(request: Request) -> JSONResponse:
        return await _answer(request, fab_login.create_token_cli)

    return [
        APIRoute("/token", token, methods=["POST"], status_code=status.HTTP_201_CREATED, include_in_schema=False),
        APIRoute(
            "/token/cli", token_cli, methods=["POST"], status_code=status.HTTP_201_CREATED, include_in_schema=False
        ),
    ]


async def _answer(request: Request, fab_route: Callable[[Request, dict[str, Any]], Any]) -> JSONResponse:
    try:
        body = await read_body(request)
    except BodyTooLarge as e:
        detail = {"error": "invalid_request", "error_description": str(e)}
        return JSONResponse(detail, status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, headers=NO_STORE)
    except TokenRequestInvalid as e:
        code, detail = oauth_refusal(e)
        return JSONResponse(detail, status_code=code, headers=NO_STORE)
    standard = "grant_type" in body
    extra: dict[str, Any] = {}
    _ANSWER.set(extra)
    try:
        # FAB's route, as FastAPI would run it (a sync function, in the thread pool): same lifetimes, same checks.
        answer = await run_in_threadpool(fab_route, request, body)
    except HTTPException as e:
        if not standard:
            raise
        return _standard_error(e)
    content: dict[str, Any] = {**answer.model_dump(), **extra}  # RFC 6749 §5.1 allows more parameters
    if standard:
        content["token_type"] = "Bearer"  # RFC 6749 §5.1
    return JSONResponse(content, status_code=status.HTTP_201_CREATED, headers=NO_STORE)


async def read_body(request: Request) -> dict[str, Any]:
    """Return the request's parameters (JSON or form), read no further than MAX_BODY_BYTES + 1; raise as ``parse_body``."""
    return parse_body(await read_asgi(request, MAX_BODY_BYTES), request.headers.get("content-type", ""))


def _standard_error(e: HTTPException) -> JSONResponse:
    detail = e.detail
    if isinstance(detail, dict) and "error_description" in detail:
        return JSONResponse(detail, status_code=e.status_code, headers={**NO_STORE, **(e.headers or {})})
    # FAB's own refusals of grant_type=password (a bare string), or anything else FAB raised.
    message = detail if isinstance(detail, str) else str((detail or {}).get("message", "The request was refused."))
    body = {"error": _FAB_ERRORS.get(e.status_code, "invalid_request"), "error_description": description(message)}
    if e.status_code >= 500:
        return JSONResponse({**body, "error": "server_error"}, status_code=e.status_code, headers=NO_STORE)
    return JSONResponse(body, status_code=status.HTTP_400_BAD_REQUEST, headers=NO_STORE)
