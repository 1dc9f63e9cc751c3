"""Check the mapping file in the background, so an idle worker sees every good version too.

The mapping store checks its file when a login asks for it. A worker that served no login while
a good version was on disk never saw it, and after a broken edit it kept an older version than
its neighbours: one replica answered with yesterday's roles. From its first request on, each
server process checks the file every ``check_interval`` seconds on a daemon thread. The store
serialises checks, so a request and the thread never reload twice. Only server processes start
the thread (CLI commands that build the app serve no request).
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


def watch_mapping(app: Any, store: MappingStore, *, release: Callable[[], None] | None = None) -> None:
    """From ``app``'s first request on, check ``store``'s file every ``store.check_interval`` seconds.

    ``release`` runs after each check (e.g. to return the thread's database session).
    """
    lock = threading.Lock()
    started = False
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

    def start() -> None:
        nonlocal started
        if started:
            return
        with lock:
            if started:
                return
            threading.Thread(target=loop, name="okta-mapping-watch", daemon=True).start()
            started = True

    app.before_request(start)
