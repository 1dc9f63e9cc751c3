"""Metrics through Airflow's own Stats: StatsD, Datadog or OpenTelemetry, wherever ``[metrics]`` points.

Every name starts with ``okta.`` (after Airflow's ``[metrics] statsd_prefix``) and is listed in
docs/metrics.md. Dimensions a plain StatsD server cannot take as tags (outcome, reason code,
endpoint) are also part of the name, from bounded sets only (stable error codes, endpoint kinds);
backends that take tags get them as well.

Three feeds, so the code that decides never imports this module:

- the audit trail (:func:`okta_security.audit.register_sink`): sign-ins by outcome and reason, bot
  and people token exchanges, event-hook deliveries, account changes (sync-users, event hooks), mapping
  reloads and rejections, role syncs;
- the Okta call observer (:mod:`okta_security.okta_api.observe`): calls by endpoint, latency, 429s;
- two explicit calls: the callback's duration (:func:`timed_callback`) and event-hook effects
  (:func:`event_hook_processed`).
"""

from __future__ import annotations

import functools
import logging
import re
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from okta_security.audit import register_sink
from okta_security.okta_api import observe

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import requests

    from okta_security.audit import AuditRecord

log = logging.getLogger(__name__)

PREFIX = "okta"
SINK_NAME = "airflow_metrics"
_NAME_PART = re.compile(r"[^a-z0-9_]+")
NAME_PART_MAX = 48  # a reason code or effect is short; anything longer is not one of ours

# Audit event -> (metric name, the record field whose value becomes the last name part, or None).
AUDIT_METRICS: Mapping[str, tuple[str, str | None]] = {
    "login.succeeded": ("signin.success", None),
    "login.refused": ("signin.refused", "reason"),
    "bot.token_exchanged": ("bot_token.exchanged", None),
    "bot.token_refused": ("bot_token.refused", "reason"),
    "event_hook.received": ("event_hook.deliveries", None),
    "event_hook.rejected": ("event_hook.rejected", "reason"),
    "event_hook.failed": ("event_hook.failed", None),
    "user.deactivated": ("user.deactivated", "trigger"),
    "user.reactivated": ("user.reactivated", "trigger"),
    "user.roles_changed": ("user.roles_changed", "trigger"),
    "user.created": ("user.created", None),
    "user.renamed": ("user.renamed", None),
    "mapping.reloaded": ("mapping.reloaded", None),
    "mapping.rejected": ("mapping.rejected", None),
    "roles.synced": ("roles.synced", None),
    "roles.sync_failed": ("roles.sync_failed", None),
}


def name_part(value: object) -> str:
    """Return ``value`` as one safe metric-name component (lower-case ``[a-z0-9_]``, bounded)."""
    text = _NAME_PART.sub("_", str(value).lower()).strip("_")[:NAME_PART_MAX]
    return text or "unknown"


def stats() -> Any:
    """Return Airflow's Stats: the API server's on Airflow 3.2+, ``airflow.stats.Stats`` before."""
    try:
        from airflow.observability import stats as core_stats  # the one Airflow's API server initializes
    except ImportError:  # Airflow 2.x
        from airflow.stats import Stats

        return Stats
    return core_stats


def initialize_outside_the_api_server() -> None:
    """Set up Airflow 3's Stats from ``[metrics]`` in a process Airflow did not set it up in (the CLI)."""
    backend = stats()
    if getattr(backend, "_factory", True) is not None:  # Airflow 2 (lazy), or already initialized
        return
    from airflow.configuration import conf
    from airflow.observability.metrics import stats_utils

    backend.initialize(
        factory=stats_utils.get_stats_factory(),
        export_legacy_names=conf.getboolean("metrics", "legacy_names_on", fallback=True),
    )


def incr(name: str, count: int = 1, *, tags: Mapping[str, str] | None = None) -> None:
    """Count ``okta.<name>``; never raise."""
    _emit("incr", name, count, tags)


def timing(name: str, seconds: float, *, tags: Mapping[str, str] | None = None) -> None:
    """Record a duration for ``okta.<name>``; never raise."""
    _emit("timing", name, timedelta(seconds=seconds), tags)


def _emit(kind: str, name: str, value: Any, tags: Mapping[str, str] | None) -> None:
    try:
        getattr(stats(), kind)(f"{PREFIX}.{name}", value, tags=dict(tags or {}))
    except Exception:  # noqa: BLE001 - metrics must never break a login
        log.debug("could not emit metric %s.%s", PREFIX, name, exc_info=True)


def record_audit(record: AuditRecord) -> None:
    """Turn one audit record into its metric (an audit sink)."""
    known = AUDIT_METRICS.get(record.event)
    if known is None:
        return
    name, dimension = known
    if record.fields.get("sign_in") == "api":  # a person's Okta token exchanged at POST /auth/token
        name = name.replace("signin.success", "person_token.exchanged").replace("signin.", "person_token.")
    tags: dict[str, str] = {}
    if dimension is not None:
        value = name_part(record.fields.get(dimension) or "unknown")
        name, tags[dimension] = f"{name}.{value}", value
    count = 1
    if record.event == "event_hook.received":
        count = int(record.fields.get("events") or 0)
    incr(name, count, tags=tags)
    if record.event == "login.succeeded" and record.fields.get("groups_source") == "api":
        incr("groups_api.fallback")  # the ID token and userinfo carried no groups, Okta's Groups API did


def record_okta_call(call: observe.OktaCall) -> None:
    """Turn one call to Okta into its metrics (an :mod:`~okta_security.okta_api.observe` observer)."""
    tags = {"endpoint": call.endpoint, "status": str(call.status)}
    incr(f"http.{call.endpoint}.calls", tags=tags)
    timing(f"http.{call.endpoint}.duration", call.seconds, tags=tags)
    if call.status == 429:
        incr(f"http.{call.endpoint}.rate_limited", tags=tags)
    elif call.status >= 500:
        incr(f"http.{call.endpoint}.server_errors", tags=tags)


def watch_session(session: requests.Session) -> None:
    """Observe the calls of an authlib session (its ``compliance_fix`` hook): token and userinfo."""
    observe.watch(session)


def timed_callback(view: Callable[..., Any]) -> Callable[..., Any]:
    """Time a sign-in callback view as ``okta.signin.callback_duration``, tagged with its outcome."""

    @functools.wraps(view)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "error"
        try:
            response = view(*args, **kwargs)
            status = response[1] if isinstance(response, tuple) else getattr(response, "status_code", 200)
            outcome = "success" if int(status) < 400 else "refused"
            return response
        finally:
            timing("signin.callback_duration", time.perf_counter() - started, tags={"outcome": outcome})

    return timed


def event_hook_processed(effect: str, outcome: str) -> None:
    """Count one Okta event applied by the event-hook worker, by its effect (or as a duplicate)."""
    kind = "duplicate" if outcome == "duplicate" else name_part(effect)
    incr(f"event_hook.events.{kind}", tags={"effect": kind})


def install() -> None:
    """Send audit records and Okta calls to Airflow's Stats (idempotent)."""
    register_sink(SINK_NAME, record_audit)
    observe.add_observer(SINK_NAME, record_okta_call)
