"""The event-hook worker: Okta's events applied off the request thread, one at a time, in arrival order.

Each event's id is claimed first (:class:`Receipts`: an atomic ``INSERT`` in the adapter), so a
redelivery or a replay, to this replica or another, does nothing; ids past their retention are
forgotten at most hourly.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from okta_security.audit import audit_event
from okta_security.lifecycle.event_hooks import effective_time
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from okta_security.lifecycle.changes import OktaChanges
    from okta_security.lifecycle.event_hooks import HookEvent
    from okta_security.mapping.rules import RoleMapping

log = logging.getLogger(__name__)

PRUNE_INTERVAL_SECONDS = 3600.0  # how often the worker drops old event ids


class Receipts(Protocol):
    """The ids of the events already taken, shared by every replica."""

    def claim(self, event_id: str, event_type: str) -> bool:
        """Record ``event_id`` as taken, atomically; return False if it already was (a redelivery)."""
        ...

    def prune(self) -> int:
        """Forget the ids past their retention; return how many."""
        ...


class Delegations(Protocol):
    """AI agents' delegated tokens, as Okta's unassignment of a person from an agent's app ends them."""

    def end(self, sub: str, agents: tuple[str, ...], *, at: datetime, event_id: str) -> str:
        """End ``agents``' delegated tokens for Okta user ``sub`` that Okta vouched for before ``at``; say what happened."""
        ...


@dataclass
class EventHookWorker:
    """Applies event effects off the request thread, one at a time, in arrival order."""

    receipts: Receipts
    changes: OktaChanges
    mapping: Callable[[], RoleMapping]
    on_processed: Callable[[str, str], None] = lambda effect, outcome: None  # (effect, outcome): metrics
    delegations: Delegations | None = None  # None: agents' unassignments are not acted on
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="okta-hooks"))
    _pruned_at: float = 0.0

    def submit(self, events: list[HookEvent]) -> None:
        for event in events:
            self._pool.submit(self._process_safely, event)

    def _process_safely(self, event: HookEvent) -> None:
        try:
            self.on_processed(event.effect, self.process(event))
        except Exception:  # noqa: BLE001 - the worker must survive any one bad event
            log.exception("Okta event %s (%s) could not be processed", loggable(event.uuid), loggable(event.event_type))
            audit_event("event_hook.failed", owner=None, event_uuid=event.uuid, event_type=event.event_type)

    def process(self, event: HookEvent) -> str:
        """Apply one event (idempotent on its id); return what happened."""
        if event.effect == "ignore":
            log.info("Okta event %s ignored: %s", loggable(event.event_type), loggable(event.ignored_because))
            return "ignored"
        now = time.monotonic()
        if not self._pruned_at or now - self._pruned_at >= PRUNE_INTERVAL_SECONDS:  # any replica may do it
            self._pruned_at = now
            if dropped := self.receipts.prune():
                log.info("Forgot %d Okta event id(s) past their retention", dropped)
        if not self.receipts.claim(event.event_id, event.event_type):
            log.info(
                "Okta event %s (%s) already processed; redelivery ignored",
                loggable(event.event_id),
                loggable(event.event_type),
            )
            return "duplicate"
        if event.effect == "end_delegation":
            if self.delegations is None:
                return "ignored"
            at, ends = effective_time(event), self.delegations.end
            return ",".join(ends(sub, event.agents, at=at, event_id=event.event_id) for sub in event.user_ids)
        mapping = self.mapping()
        return ",".join(self.changes.on_event(event, sub, mapping) for sub in event.user_ids) or "no_account"

    def wait(self, timeout: float = 10.0) -> None:
        """Wait until the queue is empty (tests)."""
        self._pool.submit(lambda: None).result(timeout)
