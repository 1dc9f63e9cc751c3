"""Build the Flask app and run it, standalone or in a background thread for tests."""

from __future__ import annotations

import functools
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from . import (  # noqa: F401 - management_directory and universal_logout add routes
    admin_api,
    dashboard,
    management_api,
    management_directory,
    universal_logout,
    views,
)
from .backchannel import init_backchannel, stats_of
from .config import ConfigStore
from .context import AUTH_SERVER_PATH, EXTENSION_KEY, IdpContext
from .device import init_device
from .keys import SigningKeys
from .oauth import init_oauth
from .org_server import init_org_server

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterator, Mapping

log = logging.getLogger(__name__)

SESSION_COOKIE_NAME = "okta_local_idp_sid"
_SECRET_PARAMS = re.compile(r"(?<=[?&])(id_token_hint|code|client_secret|password|token|refresh_token)=[^&\s]*")


def create_app(
    config_path: str | os.PathLike[str],
    base_url: str,
    *,
    overrides: Mapping[str, Any] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> Flask:
    """Return the IdP Flask app whose issuer is ``{base_url}/oauth2/default``.

    ``overrides`` replace keys of the YAML ``server:`` section (e.g. CLI flags);
    ``key_file`` (or ``server.signing_key_file``) holds the RSA signing key, created
    on first use; without either a fresh key is generated.
    """
    config_store = ConfigStore(config_path, overrides)
    key_path = key_file or config_store.current().server.signing_key_file
    idp = IdpContext(
        base_url=base_url.rstrip("/"),
        config_store=config_store,
        keys=SigningKeys.load_or_generate(key_path),
    )
    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(32)
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=idp.base_url.startswith("https://"),
    )
    app.extensions[EXTENSION_KEY] = idp
    init_backchannel(app)  # request counts + the latency_ms fault (bench/bench_login.py)
    init_oauth(app, idp)
    init_device(app, idp)  # /v1/device/authorize, /activate, the device_code grant (RFC 8628)
    init_org_server(app, idp)  # /oauth2/v1/token: okta.* scopes for service apps; the org's discovery and keys
    app.register_blueprint(views.blueprint)
    app.register_blueprint(management_api.blueprint)
    app.register_blueprint(admin_api.blueprint)
    app.register_blueprint(dashboard.blueprint)  # /app/UserHome: tiles that start third-party initiated logins
    log.info("okta_local_idp app ready, issuer %s", idp.issuer)
    return app


class _RedactingRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler, with tokens and codes masked in the access log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log the request line with secret query parameters masked."""
        original = self.path
        self.path = _SECRET_PARAMS.sub(lambda m: m.group(1) + "=***", original)
        try:
            super().log_request(code, size)
        finally:
            self.path = original

    def date_time_string(self, timestamp: float | None = None) -> str:
        """Return the ``Date`` header value, shifted by the ``date_offset_seconds`` fault if set."""
        holder = getattr(self.server, "app", None)
        app = getattr(holder, "app", None)
        offset = app.extensions[EXTENSION_KEY].fault("date_offset_seconds", 0) if app is not None else 0
        return super().date_time_string((time.time() if timestamp is None else timestamp) + (offset or 0))


class _LateBoundApp:
    """WSGI app forwarding to an app created after the socket (and port) exist."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None, "IdP app not ready"
        return self.app(environ, start_response)


def url_host(host: str) -> str:
    """Return the host to put in URLs for a listen address (wildcards become loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def make_idp_server(
    config_path: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    issuer_base: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> tuple[BaseWSGIServer, Flask, str]:
    """Bind a threaded werkzeug server and build the app; return (server, app, base_url)."""
    holder = _LateBoundApp()
    server = make_server(host, port, holder, threaded=True, request_handler=_RedactingRequestHandler)
    base_url = (issuer_base or f"http://{url_host(host)}:{server.server_port}").rstrip("/")
    try:
        holder.app = create_app(config_path, base_url, overrides=overrides, key_file=key_file)
    except BaseException:
        server.server_close()
        raise
    return server, holder.app, base_url


@dataclass
class IdpHandle:
    """A running IdP; unpacks as ``(base_url, shutdown)`` and is a context manager."""

    base_url: str
    app: Flask
    _server: BaseWSGIServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def issuer(self) -> str:
        """Return the issuer (``{base_url}/oauth2/default``)."""
        return self.base_url + AUTH_SERVER_PATH

    @property
    def context(self) -> IdpContext:
        """Return the IdP context (config, keys, runtime store)."""
        return self.app.extensions[EXTENSION_KEY]

    def set_faults(self, **faults: Any) -> None:
        """Set runtime faults (``name=None`` removes one); see :mod:`okta_local_idp.faults`."""
        self.context.set_faults(faults)

    def clear_faults(self) -> None:
        """Drop all runtime faults."""
        self.context.clear_faults()

    def rotate_signing_key(self, *, keep_previous: bool = True) -> str:
        """Sign tokens with a new key from now on; return its ``kid`` (see :meth:`SigningKeys.rotate`)."""
        return self.context.keys.rotate(keep_previous=keep_previous)

    def stats(self) -> dict[str, Any]:
        """Return request counts by endpoint (see :mod:`okta_local_idp.backchannel`)."""
        return stats_of(self.app).snapshot()

    def reset_stats(self) -> None:
        """Set the request counts back to zero."""
        stats_of(self.app).reset()

    def shutdown(self) -> None:
        """Stop serving and wait for the server thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.base_url, self.shutdown))

    def __enter__(self) -> IdpHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


def serve_in_thread(
    config_path: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    issuer_base: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> IdpHandle:
    """Start the IdP on a daemon thread (port 0 picks a free port) and return its handle."""
    server, app, base_url = make_idp_server(
        config_path, host, port, issuer_base=issuer_base, overrides=overrides, key_file=key_file
    )
    thread = threading.Thread(
        target=functools.partial(server.serve_forever, poll_interval=0.05),
        name=f"okta_local_idp:{server.server_port}",
        daemon=True,
    )
    thread.start()
    return IdpHandle(base_url=base_url, app=app, _server=server, _thread=thread)
