"""Metrics through Airflow's own Stats (StatsD, Datadog or OpenTelemetry), every name ``okta.*`` (docs/metrics.md).

Dimensions plain StatsD cannot tag are also part of the name, from bounded sets only. Fed by the
audit trail (an audit sink), the Okta call observer, and two calls: the callback's duration and
event-hook effects, so the code that decides never imports this module.
"""

from __future__ import annotations

import functools
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from okta_security.audit import register_sink
from okta_security.metric_names import Metric, audit_metrics, event_hook_metric, okta_call_metrics
from okta_security.okta_api import observe

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from okta_security.audit import AuditRecord

log = logging.getLogger(__name__)

PREFIX = "okta"
SINK_NAME = "airflow_metrics"


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
    _send([("incr", name, count, dict(tags or {}))])


def _send(found: Iterable[Metric]) -> None:
    for kind, name, value, tags in found:
        try:
            getattr(stats(), kind)(
                f"{PREFIX}.{name}", timedelta(seconds=value) if kind == "timing" else value, tags=tags
            )
        except Exception:  # noqa: BLE001 - metrics must never break a login
            log.debug("could not emit metric %s.%s", PREFIX, name, exc_info=True)


def record_audit(record: AuditRecord) -> None:
    """Send one audit record's metrics (an audit sink)."""
    _send(audit_metrics(record))


def record_okta_call(call: observe.OktaCall) -> None:
    """Send one call to Okta's metrics (an :mod:`~okta_security.okta_api.observe` observer)."""
    _send(okta_call_metrics(call))


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
            _send([("timing", "signin.callback_duration", time.perf_counter() - started, {"outcome": outcome})])

    return timed


def event_hook_processed(effect: str, outcome: str) -> None:
    """Count one Okta event applied by the event-hook worker, by its effect (or as a duplicate)."""
    _send([event_hook_metric(effect, outcome)])


def install() -> None:
    """Send audit records and Okta calls to Airflow's Stats (idempotent)."""
    register_sink(SINK_NAME, record_audit)
    observe.add_observer(SINK_NAME, record_okta_call)
