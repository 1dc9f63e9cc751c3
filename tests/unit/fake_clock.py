"""A clock the test moves by hand: injected wherever the code takes ``clock`` (and ``sleep``)."""

from __future__ import annotations


class FakeClock:
    """Return ``t`` when called; ``sleep`` and ``advance`` move it forward (sleeps are recorded)."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float = 1.0) -> None:
        """Move time forward."""
        self.t += seconds

    def sleep(self, seconds: float) -> None:
        """Record a sleep and let that much time pass at once."""
        self.sleeps.append(seconds)
        self.t += seconds
