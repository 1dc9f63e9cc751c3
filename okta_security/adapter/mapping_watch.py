"""Check the mapping file in the background, so an idle worker sees every good version too.

The mapping store checks its file when a login asks for it. A worker that served no login while
a good version was on disk never saw it, and after a broken edit it kept an older version than
its neighbours: one replica answered with yesterday's roles. Each process that builds the app
checks the file every ``check_interval`` seconds on a daemon thread, from the start: a worker may
serve no request at all for a long time. The store serialises checks, so a request and the thread
never reload twice. A CLI command that builds the app exits long before a check matters.
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


def watch_mapping(app: Any, store: MappingStore, *, release: Callable[[], None] | None = None) -> threading.Thread:
    """Check ``store``'s file every ``store.check_interval`` seconds, in ``app``'s context; return the thread.

    ``release`` runs after each check (e.g. to return the thread's database session).
    """
    interval = max(store.check_interval, MIN_INTERVAL_SECONDS)

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
            except Exception:  # the next check tries again; logins still check on their own
                log.exception("Background check of role mapping %s failed", store.path)

    thread = threading.Thread(target=loop, name="okta-mapping-watch", daemon=True)
    thread.start()
    return thread
