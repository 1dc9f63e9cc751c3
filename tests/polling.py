"""Wait for something another thread or process does at its own pace."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


def until(check: Callable[[], bool], timeout: float = 15.0, every: float = 0.1) -> bool:
    """Call ``check`` until it holds or ``timeout`` seconds pass; return its last answer (one more after the deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return bool(check())
