"""Bounded request bodies: a declared length over the limit is never read, a stream never past the limit + 1."""

from __future__ import annotations

import asyncio
import io
import json
import warnings
from typing import Any

import pytest
from flask import Flask

from okta_security.adapter.request_body import BodyTooLarge, FlaskMountLimit, read_wsgi

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette deprecates it; FAB mounts its Flask app with it all the same
    from starlette.middleware.wsgi import WSGIMiddleware

LIMIT = 100_000
CHUNK = b"a" * 65_536


class Upload:
    """An ASGI ``receive`` handing out ``chunks`` chunks of 64 KiB; counts the reads."""

    def __init__(self, chunks: int) -> None:
        self.left = chunks
        self.reads = 0

    async def __call__(self) -> dict[str, Any]:
        self.reads += 1
        self.left -= 1
        return {"type": "http.request", "body": CHUNK, "more_body": self.left > 0}


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.post("/auth/okta/events")
    def events() -> Any:
        return {"read": len(read_wsgi(LIMIT))}

    return app


def call(upload: Upload, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST through FlaskMountLimit in front of Starlette's WSGI bridge, as on Airflow 3; return status, body."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": "/auth/okta/events",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8080),
    }
    app = FlaskMountLimit(WSGIMiddleware(flask_app()), LIMIT)
    asyncio.run(app(scope, upload, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_the_bridge_never_gets_a_body_declared_over_the_limit():
    upload = Upload(chunks=5_000)
    status, body = call(upload, {"Content-Length": str(5_000 * len(CHUNK))})
    assert status == 413
    assert upload.reads == 0
    assert "larger than 100000 bytes" in json.loads(body)["message"]


def test_the_bridge_stops_reading_a_stream_past_the_limit():
    upload = Upload(chunks=5_000)  # chunked: no Content-Length
    status, _ = call(upload, {"Transfer-Encoding": "chunked"})
    assert status == 413
    assert upload.reads == 2  # 128 KiB: the second chunk is past the limit


def test_a_body_within_the_limit_reaches_flask():
    status, body = call(Upload(chunks=1), {"Content-Length": str(len(CHUNK))})
    assert (status, json.loads(body)) == (200, {"read": len(CHUNK)})


class Endless(io.RawIOBase):
    """A server's input stream that never ends; counts the bytes read."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.read_bytes += len(buffer)
        buffer[:] = b"x" * len(buffer)
        return len(buffer)


@pytest.mark.parametrize(
    ("environ", "read"),
    [
        ({"CONTENT_LENGTH": str(10**9)}, 0),  # refused on what it declares
        ({"HTTP_TRANSFER_ENCODING": "chunked"}, LIMIT + 1),  # read one byte past the limit, then refused
    ],
)
def test_flask_reads_no_more_than_the_limit_plus_one(environ, read):
    stream = Endless()
    environ = {**environ, "wsgi.input": stream, "wsgi.input_terminated": True}  # gunicorn: a stream to its end
    with flask_app().test_request_context("/", method="POST", environ_overrides=environ):
        with pytest.raises(BodyTooLarge, match="send a smaller body"):
            read_wsgi(LIMIT)
    assert stream.read_bytes == read
