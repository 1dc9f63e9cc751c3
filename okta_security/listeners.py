"""Callables registered by name and told about each event; none of them can break the code that tells them."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")


class Listeners(Generic[T]):
    """A thread-safe registry: adding a name again replaces its listener; removing an unknown name is no error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, Callable[[T], None]] = {}

    def add(self, name: str, listener: Callable[[T], None]) -> None:
        """Tell ``listener`` about every later event."""
        with self._lock:
            self._by_name[name] = listener

    def remove(self, name: str) -> None:
        """Stop telling the listener added as ``name``."""
        with self._lock:
            self._by_name.pop(name, None)

    def tell(self, event: T, failed: Callable[[str, Exception], None]) -> None:
        """Pass ``event`` to each listener in turn; one that raises is reported to ``failed`` and skipped."""
        with self._lock:
            listeners = list(self._by_name.items())
        for name, listener in listeners:
            try:
                listener(event)
            except Exception as e:  # noqa: BLE001 - a listener never breaks the code that tells it
                failed(name, e)

    def __bool__(self) -> bool:
        """Return whether anyone listens."""
        return bool(self._by_name)
