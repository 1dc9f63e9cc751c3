"""Health at a glance: the mapping in force, its last reload or rejection, the JWKS age, Okta reachability.

Served by :class:`~okta_security.adapter.auth_manager.OktaFabAuthManager` as ``GET /auth/okta/health``
(JSON) to callers Airflow lets read its configuration (Admin by default), with Airflow's own
authentication (the UI's ``_token`` cookie or an API token); ``okta-airflow doctor --live`` shows it.
The answer is one API-server process's view: each worker keeps its own reload history.

Okta's reachability is a fresh request to the discovery document (Okta does not rate-limit it),
at most once per :data:`PROBE_CACHE_SECONDS` per process, so polling this endpoint cannot turn
into load on Okta.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import requests

from okta_security.audit import register_sink
from okta_security.okta_api import observe

if TYPE_CHECKING:
    from okta_security.audit import AuditRecord
    from okta_security.mapping.store import MappingStore
    from okta_security.oidc.id_token import JwksCache
    from okta_security.settings.specs import OktaSettings

PATH = "/okta/health"  # under FAB's /auth mount
SINK_NAME = "health"
PROBE_CACHE_SECONDS = 30.0
PROBE_TIMEOUT_SECONDS = 5.0
MAX_PROBLEMS = 10  # a rejected mapping's problems shown, at most


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class HealthState:
    """What this process has seen since it started: mapping reloads and rejections, Okta's answers."""

    started_at: float = field(default_factory=time.time)
    last_reload: dict[str, Any] | None = None
    last_rejection: dict[str, Any] | None = None
    last_answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # endpoint -> last answer
    probe: dict[str, Any] | None = None
    probed_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record_audit(self, record: AuditRecord) -> None:
        """Remember the last mapping reload and rejection (an audit sink)."""
        at = record.timestamp.isoformat(timespec="seconds").replace("+00:00", "Z")
        if record.event == "mapping.reloaded":
            with self.lock:
                self.last_reload = {"at": at, "version": record.fields.get("new_version")}
        elif record.event == "mapping.rejected":
            problems = [str(p)[:300] for p in (record.fields.get("problems") or [])][:MAX_PROBLEMS]
            with self.lock:
                self.last_rejection = {"at": at, "problems": problems}

    def record_okta_call(self, call: observe.OktaCall) -> None:
        """Remember Okta's last answer per endpoint (an observer of Okta calls)."""
        with self.lock:
            self.last_answers[call.endpoint] = {
                "status": call.status,
                "at": _iso(call.at),
                "ms": round(call.seconds * 1000, 1),
            }

    def reachability(self, settings: OktaSettings, *, now: float | None = None) -> dict[str, Any]:
        """Return a fresh (at most PROBE_CACHE_SECONDS old) answer to: does Okta answer the discovery URL?"""
        now = time.monotonic() if now is None else now
        with self.lock:
            if self.probe is not None and now - self.probed_at < PROBE_CACHE_SECONDS:
                return self.probe
        started = time.perf_counter()
        result: dict[str, Any] = {"url": settings.discovery_url, "checked_at": _iso(time.time())}
        timeout = min(settings.http_timeout_seconds, PROBE_TIMEOUT_SECONDS)
        try:
            with observe.watch(requests.Session()) as http:
                resp = http.get(settings.discovery_url, timeout=timeout, allow_redirects=False)
            result.update(reachable=resp.status_code == 200, status=resp.status_code)
        except requests.RequestException as e:
            result.update(reachable=False, error=type(e).__name__)
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        with self.lock:
            self.probe, self.probed_at = result, now
        return result


STATE = HealthState()


def report(settings: OktaSettings, store: MappingStore, jwks: JwksCache, state: HealthState = STATE) -> dict[str, Any]:
    """Return the health JSON; ``status`` is "ok" unless Okta is unreachable or the mapping file is rejected now."""
    mapping = store.current()
    rejected_now = store.last_error
    age = jwks.age()
    okta = state.reachability(settings)
    with state.lock:
        body: dict[str, Any] = {
            "mapping": {
                "file": store.path,
                "version": mapping.digest[:12],
                "rules": len(mapping.rules),
                "rejected_now": rejected_now is not None,
                "last_reload": state.last_reload,
                "last_rejection": state.last_rejection,
            },
            "jwks": {"age_seconds": None if age is None else round(age, 1)},
            "okta": {"issuer": settings.issuer, **okta, "last_answers": dict(state.last_answers)},
            "process": {"pid": os.getpid(), "started_at": _iso(state.started_at)},
        }
    body["status"] = "ok" if okta.get("reachable") and rejected_now is None else "degraded"
    return body


def install() -> None:
    """Start recording what the health report needs (idempotent)."""
    register_sink(SINK_NAME, STATE.record_audit)
    observe.add_observer(SINK_NAME, STATE.record_okta_call)
