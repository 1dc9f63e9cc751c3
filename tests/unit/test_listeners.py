"""Tests for okta_security.listeners: every listener is told, a failing one is reported and skipped."""

from __future__ import annotations

from okta_security.listeners import Listeners


def test_each_listener_is_told_once_and_a_failing_one_breaks_nothing():
    listeners: Listeners[int] = Listeners()
    seen: list[tuple[str, int]] = []
    failures: list[tuple[str, str]] = []

    def broken(event: int) -> None:
        raise RuntimeError(f"cannot take {event}")

    listeners.add("a", lambda event: seen.append(("a", event)))
    listeners.add("broken", broken)
    listeners.add("b", lambda event: seen.append(("b", event)))
    listeners.tell(7, lambda name, e: failures.append((name, str(e))))
    assert seen == [("a", 7), ("b", 7)]
    assert failures == [("broken", "cannot take 7")]


def test_a_name_added_again_replaces_its_listener_and_removing_is_idempotent():
    listeners: Listeners[str] = Listeners()
    seen: list[str] = []
    listeners.add("x", lambda event: seen.append("old " + event))
    listeners.add("x", lambda event: seen.append("new " + event))
    listeners.tell("e", lambda name, e: None)
    assert seen == ["new e"]
    listeners.remove("x")
    listeners.remove("x")
    assert not listeners
    listeners.tell("e", lambda name, e: None)
    assert seen == ["new e"]
