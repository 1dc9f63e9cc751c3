"""Request bodies read with a limit: a declared length over it is refused unread, a stream read to the limit + 1.

On Airflow 3, FAB mounts Flask with Starlette's ``WSGIMiddleware``, which buffers a whole body first;
:class:`FlaskMountLimit` in front of that mount makes the Flask endpoints' limits hold there too.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import request

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

READ_CHUNK_BYTES = 65_536


class BodyTooLarge(Exception):
    """The request's body is (or declares itself) longer than the endpoint accepts."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"The request body is larger than {limit} bytes, the most this endpoint accepts; send a smaller body."
        )


def declared_over(content_length: str | int | None, limit: int) -> bool:
    """Return whether a declared ``Content-Length`` is over ``limit`` (an unparsable one is the server's to refuse)."""
    try:
        return int(content_length) > limit  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


async def read_asgi(request: Request, limit: int) -> bytes:
    """Return the body of a Starlette request, reading no more than ``limit`` + 1 bytes; raise BodyTooLarge."""
    if declared_over(request.headers.get("content-length"), limit):
        raise BodyTooLarge(limit)
    parts: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge(limit)
        parts.append(chunk)
    return b"".join(parts)


def read_wsgi(limit: int) -> bytes:
    """Return Flask's request body, read no further than ``limit`` + 1 bytes (a chunked one from the raw stream)."""
    if declared_over(request.content_length, limit):
        raise BodyTooLarge(limit)
    if request.content_length is not None:
        data = request.get_data(cache=False)  # Werkzeug stops at the declared length
    elif "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        data = _read_at_most(request.input_stream, limit + 1)  # the server de-chunks; we bound
    else:
        data = b""
    if len(data) > limit:
        raise BodyTooLarge(limit)
    return data


def _read_at_most(stream: Any, size: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while total < size:
        part = stream.read(min(READ_CHUNK_BYTES, size - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)


class FlaskMountLimit:
    """ASGI middleware for FAB's Flask mount: a body over ``limit`` gets 413 before the WSGI bridge buffers it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if declared_over(headers.get(b"content-length", b"").decode("latin-1") or None, self.limit):
            await self._refuse(send)
            return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracked_send)
        except BodyTooLarge:
            if started:  # the app answered while still reading: nothing more can be said
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": "request_too_large", "message": str(BodyTooLarge(self.limit))}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": [*headers, (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
