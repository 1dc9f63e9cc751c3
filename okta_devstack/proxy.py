"""A loopback reverse proxy for tests and benchmarks: a load balancer, optionally terminating TLS.

It stands where an ingress stands in production: one origin for the browser, each request sent
to the next backend in turn (round robin, no stickiness), and, when asked, TLS ended here with
``X-Forwarded-Proto`` / ``X-Forwarded-Host`` / ``X-Forwarded-Port`` / ``X-Forwarded-For`` set
the way ingress-nginx sets them (any such header the client sent is dropped first: a client
must not be able to claim the scheme or host). It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
)
FORWARDED = frozenset({"x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-forwarded-for", "forwarded"})
BACKEND_TIMEOUT_SECONDS = 120.0  # longer than any login step the tests drive


@dataclass(frozen=True)
class Served:
    """One request the proxy forwarded: what, to which backend, and the backend's answer."""

    method: str
    path: str
    backend: int
    status: int


class LoopbackProxy:
    """Forward each request to the next backend; record who served what; optionally terminate TLS.

    ``forwarded=True`` sets the ``X-Forwarded-*`` headers (the scheme is ``https`` when the proxy
    terminates TLS); ``public_host`` overrides the ``Host`` the client sent (``X-Forwarded-Host``);
    ``backend_host=True`` sends the backend's address as ``Host``.
    """

    def __init__(
        self,
        backends: list[str],
        *,
        tls: tuple[Path, Path] | None = None,
        forwarded: bool = False,
        public_host: str | None = None,
        backend_host: bool = False,
    ) -> None:
        self.backends = list(backends)  # "host:port"
        self.forwarded = forwarded
        self.public_host = public_host
        # True: send the backend's own address as Host, as nginx's ``proxy_pass`` does unless told
        # ``proxy_set_header Host $host``; Airflow then sees an internal host, not the public one.
        self.backend_host = backend_host
        self.scheme = "https" if tls is not None else "http"
        self.served: list[Served] = []
        self._next = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_port
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="loopback-proxy", daemon=True)
        self._thread.start()

    def pick(self) -> int:
        """Return the index of the backend for the next request (round robin)."""
        with self._lock:
            index = self._next
            self._next = (self._next + 1) % len(self.backends)
            return index

    def record(self, served: Served) -> None:
        with self._lock:
            self.served.append(served)

    def served_by(self, path_prefix: str) -> list[int]:
        """Return the backends that served requests whose path starts with ``path_prefix``, in order."""
        with self._lock:
            return [s.backend for s in self.served if s.path.startswith(path_prefix)]

    def forwarded_headers(self, client_host: str, host: str) -> dict[str, str]:
        """Return the ``X-Forwarded-*`` headers for a request that came to ``host``."""
        public = self.public_host or host
        port = public.rsplit(":", 1)[1] if ":" in public else ("443" if self.scheme == "https" else "80")
        return {
            "X-Forwarded-Proto": self.scheme,
            "X-Forwarded-Host": public,
            "X-Forwarded-Port": port,
            "X-Forwarded-For": client_host,
        }

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> LoopbackProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _handler_for(proxy: LoopbackProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            index = proxy.pick()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            skip = HOP_BY_HOP | (FORWARDED if proxy.forwarded else frozenset())
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
            if proxy.forwarded:
                headers.update(proxy.forwarded_headers(self.client_address[0], self.headers.get("Host", "")))
            if proxy.backend_host:
                headers = {k: v for k, v in headers.items() if k.lower() != "host"}
                headers["Host"] = proxy.backends[index]
            conn = http.client.HTTPConnection(proxy.backends[index], timeout=BACKEND_TIMEOUT_SECONDS)
            try:
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    upstream = conn.getresponse()
                    payload = upstream.read()
                except (OSError, http.client.HTTPException) as e:
                    proxy.record(Served(self.command, self.path, index, 502))
                    self._answer(502, [("Content-Type", "text/plain")], f"bad gateway: {e}\n".encode())
                    return
                proxy.record(Served(self.command, self.path, index, upstream.status))
                kept = [(n, v) for n, v in upstream.getheaders() if n.lower() not in HOP_BY_HOP | {"content-length"}]
                self._answer(upstream.status, kept, payload, reason=upstream.reason)  # keeps every Set-Cookie
            finally:
                conn.close()

        def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes, reason: str = "") -> None:
            self.send_response(status, reason or None)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (e.g. Okta's 3 s event-hook timeout); nobody to answer
            self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """Write a throw-away certificate and key for ``host`` (an IP or a DNS name); return their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "proxy-cert.pem", directory / "proxy-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path
