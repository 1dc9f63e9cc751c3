"""Check the mapping file in the background, so an idle worker sees every good version too.

Otherwise a worker that served no login while a good version was on disk keeps an older one than
its neighbours after the next broken edit. The store serialises checks: requests and the thread never reload twice.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from okta_security.mapping.store import MappingStore

log = logging.getLogger(__name__)

# Never spin: a check stats one file, but a reload reads the database.
MIN_INTERVAL_SECONDS = 0.5
# A failure that lasts (the database is down while the file has changed) fails at every check;
# its traceback is logged once, then one line this often, so the log stays readable.
REPEAT_LOG_SECONDS = 60.0


class FailureLog:
    """Log a failing background check once with its traceback, then a counted line now and then."""

    def __init__(
        self, path: object, *, repeat_every: float = REPEAT_LOG_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._path = path
        self._repeat_every = repeat_every
        self._clock = clock
        self._signature: str | None = None
        self._failures = 0
        self._unlogged = 0
        self._logged_at = 0.0

    def failed(self, error: BaseException) -> None:
        signature = f"{type(error).__name__}: {error}"[:300]
        self._failures += 1
        now = self._clock()
        if signature != self._signature:
            self._signature, self._unlogged, self._logged_at = signature, 0, now
            log.error(
                "Background check of role mapping %s failed; the last good mapping stays in force",
                self._path,
                exc_info=error,
            )
        elif now - self._logged_at >= self._repeat_every:
            log.warning(
                "Background check of role mapping %s still failing (%d more times since the last message): %s",
                self._path,
                self._unlogged + 1,
                signature,
            )
            self._unlogged, self._logged_at = 0, now
        else:
            self._unlogged += 1

    def succeeded(self) -> None:
        if self._failures:
            log.info(
                "Background check of role mapping %s works again after %d failed checks", self._path, self._failures
            )
        self._signature, self._failures, self._unlogged = None, 0, 0


def watch_mapping(app: Any, store: MappingStore, *, release: Callable[[], None] | None = None) -> threading.Thread:
    """Check ``store``'s file every check_interval seconds in ``app``'s context; ``release`` runs after each."""
    interval = max(store.check_interval, MIN_INTERVAL_SECONDS)
    failures = FailureLog(store.path)

    def loop() -> None:
        while True:
            time.sleep(interval)
            try:
                with app.app_context():
                    try:
                        store.current()
                    finally:
                        if release is not None:
                            release()
            except Exception as error:  # the next check tries again; logins still check on their own
                failures.failed(error)
            else:
                failures.succeeded()

    thread = threading.Thread(target=loop, name="okta-mapping-watch", daemon=True)
    thread.start()
    return thread
