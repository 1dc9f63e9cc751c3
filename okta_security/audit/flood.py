"""The flood gate: refusals anyone can provoke cannot flood the audit log's JSON lines.

Per source, reason and minute the first ``FLOOD_LINES_PER_KEY`` lines of a ``FLOODABLE_EVENTS``
event are written; the rest are counted and reported in one ``audit.suppressed`` line when the
minute is over. Sinks still see every record (Airflow's Audit Log aggregates them itself, see
``okta_security.adapter.audit_log``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from okta_security.audit.record import AuditRecord

if TYPE_CHECKING:
    from collections.abc import Callable

# Refusals anyone can provoke without credentials: a bare callback, a wrong event-hook secret, a
# junk bearer token. Their JSON lines are rate-limited per (event, source, reason, owner).
FLOODABLE_EVENTS = frozenset({"login.refused", "event_hook.rejected", "bot.token_refused", "agent.token_refused"})
FLOOD_WINDOW_SECONDS = 60  # one allowance, and one summary, per key and minute
FLOOD_LINES_PER_KEY = 5  # JSON lines per key and minute; the rest are counted
FLOOD_KEYS_PER_WINDOW = 100  # distinct keys per minute; later sources share one "other" key
SUPPRESSED_EVENT = "audit.suppressed"
API_SIGN_IN = "api"  # the ``sign_in`` field of a person's token sign-in (okta_security.adapter.people)
OTHER_SOURCE = "(other sources)"

FloodKey = tuple[str, str, str, str]  # event, source (client address), reason, owner


def flood_key(record: AuditRecord) -> FloodKey | None:
    """Return the key repeated refusals are counted under, or None for an event never throttled."""
    fields = record.fields
    if record.event not in FLOODABLE_EVENTS:
        return None
    if record.owner and fields.get("sign_in") != API_SIGN_IN:
        # A browser refusal naming an account took a verified Okta sign-in, which Okta itself
        # rate-limits; each one is evidence an administrator may need. A person's token, though,
        # can be presented again and again: those refusals are counted per person.
        return None
    owner = record.owner or "-"
    return (record.event, str(fields.get("client_ip") or "-"), str(fields.get("reason") or "-"), owner)


@dataclass(frozen=True)
class Suppressed:
    """How many records of one key a closed window held back."""

    key: FloodKey
    count: int
    window_start: float

    def record(self) -> AuditRecord:
        """Return the ``audit.suppressed`` summary line for this count."""
        event, source, reason, owner = self.key
        return AuditRecord(
            event=SUPPRESSED_EVENT,
            owner=None if owner == "-" else owner,
            fields={
                "suppressed_event": event,
                "client_ip": source,
                "reason": reason,
                "count": self.count,
                "window_start": datetime.fromtimestamp(self.window_start, timezone.utc).isoformat(),
                "window_seconds": FLOOD_WINDOW_SECONDS,
            },
        )


@dataclass(frozen=True)
class Admission:
    """A flood gate's answer for one record."""

    write: bool  # within the allowance of its key: write it as it is
    key: FloodKey  # the key it was counted under (sources past the key limit share one)
    window_start: float  # epoch seconds the current window began
    closed: list[Suppressed]  # counts of windows that closed before this record


class FloodGate:
    """Admit the first ``per_key`` records of each key per window; count the rest.

    Memory is bounded: past ``max_keys`` distinct keys in a window, new sources share one key
    (``OTHER_SOURCE``) per event and reason.
    """

    def __init__(
        self,
        *,
        per_key: int = FLOOD_LINES_PER_KEY,
        max_keys: int = FLOOD_KEYS_PER_WINDOW,
        window: float = FLOOD_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.per_key, self.max_keys, self.window, self.clock = per_key, max_keys, window, clock
        self._lock = threading.Lock()
        self._window_start = self._start_of(clock())
        self._seen: dict[FloodKey, int] = {}

    def _start_of(self, now: float) -> float:
        return now - now % self.window

    def admit(self, key: FloodKey) -> Admission:
        """Count a record of ``key``; say whether it is within its allowance."""
        with self._lock:
            closed = self._roll()
            if key not in self._seen and len(self._seen) >= self.max_keys:
                key = (key[0], OTHER_SOURCE, key[2], "-")
            seen = self._seen[key] = self._seen.get(key, 0) + 1
            return Admission(seen <= self.per_key, key, self._window_start, closed)

    def close_due(self) -> list[Suppressed]:
        """Return the counts of windows that have closed since the last call."""
        with self._lock:
            return self._roll()

    @property
    def window_start(self) -> float:
        """Return the epoch seconds the current window began."""
        return self._window_start

    def seconds_left(self) -> float:
        """Return the seconds until the current window closes."""
        return max(self._window_start + self.window - self.clock(), 0.0)

    def _roll(self) -> list[Suppressed]:
        start = self._start_of(self.clock())
        if start == self._window_start:
            return []
        closed = [
            Suppressed(key, seen - self.per_key, self._window_start)
            for key, seen in self._seen.items()
            if seen > self.per_key
        ]
        self._window_start, self._seen = start, {}
        return closed
