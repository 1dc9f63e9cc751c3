"""Per-endpoint request counts and injected latency on the endpoints a relying party calls directly.

Benchmarks of the relying party (``bench/bench_login.py``) need two things an Okta org gives
for free: a realistic round trip on each server-to-server ("back-channel") call, and a way to
count those calls per login. The ``latency_ms`` fault (:mod:`okta_local_idp.faults`) delays
every back-channel request; :class:`RequestStats` counts every request by endpoint label and is
read at ``GET /__idp/stats`` (loopback only) or :meth:`IdpHandle.stats`.

Front-channel endpoints (``/v1/authorize``, the sign-in form, ``/v1/logout``) are counted but
never delayed: the browser's round trips are not the relying party's cost.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from flask import request

from .context import current_idp

if TYPE_CHECKING:
    from flask import Flask

STATS_KEY = "okta_local_idp.request_stats"

# Flask endpoint -> label of the calls a relying party makes server-to-server.
BACK_CHANNEL: dict[str, str] = {
    "oidc.token": "token",
    "org_oauth.token": "org_token",
    "oidc.keys_view": "keys",
    "oidc.userinfo": "userinfo",
    "oidc.openid_configuration_view": "discovery",
    "oidc.authorization_server_metadata_view": "discovery",
    "oidc.introspect": "introspect",
    "oidc.revoke": "revoke",
}
MANAGEMENT_API_BLUEPRINT = "management_api"
ADMIN_BLUEPRINT = "idp_faults"  # /__idp/...: the test harness itself, never counted


def endpoint_label(endpoint: str | None) -> tuple[str, bool]:
    """Return ``(label, is_back_channel)`` for a Flask endpoint name."""
    if endpoint is None:
        return "not_found", False
    if endpoint in BACK_CHANNEL:
        return BACK_CHANNEL[endpoint], True
    if endpoint.partition(".")[0] == MANAGEMENT_API_BLUEPRINT:
        return "management_api", True
    return endpoint.rpartition(".")[2], False


class RequestStats:
    """Thread-safe request counts by endpoint label."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._back_channel: Counter[str] = Counter()

    def count(self, label: str, *, back_channel: bool) -> None:
        """Count one request to ``label``."""
        with self._lock:
            self._counts[label] += 1
            if back_channel:
                self._back_channel[label] += 1

    def snapshot(self) -> dict[str, Any]:
        """Return ``{"counts": {...}, "back_channel": {...}, "back_channel_total": n}``."""
        with self._lock:
            return {
                "counts": dict(self._counts),
                "back_channel": dict(self._back_channel),
                "back_channel_total": sum(self._back_channel.values()),
            }

    def reset(self) -> None:
        """Set every count back to zero."""
        with self._lock:
            self._counts.clear()
            self._back_channel.clear()


def stats_of(app: Flask) -> RequestStats:
    """Return the request counters of the IdP ``app``."""
    return app.extensions[STATS_KEY]


def init_backchannel(app: Flask) -> None:
    """Count every request and delay the back-channel ones by the ``latency_ms`` fault."""
    stats = RequestStats()
    app.extensions[STATS_KEY] = stats

    @app.before_request
    def _count_and_delay() -> None:
        if request.blueprint == ADMIN_BLUEPRINT:
            return
        label, back_channel = endpoint_label(request.endpoint)
        stats.count(label, back_channel=back_channel)
        if back_channel:
            latency_ms = current_idp().fault("latency_ms")
            if latency_ms:
                time.sleep(latency_ms / 1000)
