"""Which ``okta.*`` metrics an audit record, a call to Okta or an event-hook effect makes (pure; docs/metrics.md).

Dimensions a plain StatsD server cannot take as tags (outcome, reason code, endpoint) are also part
of the name, from bounded sets only (stable error codes, endpoint kinds).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from okta_security.audit import AuditRecord
    from okta_security.okta_api.observe import OktaCall

Metric = tuple[str, str, float, dict[str, str]]  # (incr | timing, name after "okta.", count or seconds, tags)

_NAME_PART = re.compile(r"[^a-z0-9_]+")
NAME_PART_MAX = 48  # a reason code or effect is short; anything longer is not one of ours

# Audit event -> (metric name, the record field whose value becomes the last name part, or None).
AUDIT_METRICS: Mapping[str, tuple[str, str | None]] = {
    "login.succeeded": ("signin.success", None),
    "login.refused": ("signin.refused", "reason"),
    "bot.token_exchanged": ("bot_token.exchanged", None),
    "bot.token_refused": ("bot_token.refused", "reason"),
    "agent.token_issued": ("agent_token.issued", None),
    "agent.token_refused": ("agent_token.refused", "reason"),
    "agent.request": ("agent.requests", None),
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
    return _NAME_PART.sub("_", str(value).lower()).strip("_")[:NAME_PART_MAX] or "unknown"


def audit_metrics(record: AuditRecord) -> list[Metric]:
    """Return the metrics of one audit record (none for events that have no metric)."""
    known = AUDIT_METRICS.get(record.event)
    if known is None:
        return []
    name, dimension = known
    if record.fields.get("sign_in") == "api":  # a person's Okta token exchanged at POST /auth/token
        name = name.replace("signin.success", "person_token.exchanged").replace("signin.", "person_token.")
    tags: dict[str, str] = {}
    if dimension is not None:
        value = name_part(record.fields.get(dimension) or "unknown")
        name, tags[dimension] = f"{name}.{value}", value
    count = int(record.fields.get("events") or 0) if record.event == "event_hook.received" else 1
    found: list[Metric] = [("incr", name, count, tags)]
    if record.event == "login.succeeded" and record.fields.get("groups_source") == "api":
        found.append(("incr", "groups_api.fallback", 1, {}))  # no groups in the ID token or userinfo: the API's
    return found


def okta_call_metrics(call: OktaCall) -> list[Metric]:
    """Return the metrics of one call to Okta: a count, its latency, and 429s and 5xx apart."""
    tags = {"endpoint": call.endpoint, "status": str(call.status)}
    found: list[Metric] = [("incr", f"http.{call.endpoint}.calls", 1, tags)]
    found.append(("timing", f"http.{call.endpoint}.duration", call.seconds, tags))
    if call.status == 429 or call.status >= 500:
        found.append(
            ("incr", f"http.{call.endpoint}.{'rate_limited' if call.status == 429 else 'server_errors'}", 1, tags)
        )
    return found


def event_hook_metric(effect: str, outcome: str) -> Metric:
    """Return the count of one Okta event applied by the event-hook worker, by its effect (or as a duplicate)."""
    kind = "duplicate" if outcome == "duplicate" else name_part(effect)
    return ("incr", f"event_hook.events.{kind}", 1, {"effect": kind})
