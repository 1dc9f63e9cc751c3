"""The security manager's start-up permission sync survives a replica syncing at the same moment."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from okta_security.adapter import security_manager
from okta_security.adapter.security_manager import once_more_after_a_race


def conflict() -> IntegrityError:
    return IntegrityError("INSERT INTO ab_permission_view_role ...", {}, Exception("duplicate key"))


def test_a_conflict_with_a_concurrent_sync_is_rolled_back_and_synced_once_more(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(security_manager.time, "sleep", lambda _: None)
    calls: list[str] = []

    def sync() -> None:
        calls.append("sync")
        if len(calls) == 1:
            raise conflict()  # the other replica committed the same rows first

    once_more_after_a_race(sync, lambda: calls.append("rollback"))
    assert calls == ["sync", "rollback", "sync"]


def test_a_second_conflict_is_not_hidden(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(security_manager.time, "sleep", lambda _: None)

    def sync() -> None:
        raise conflict()

    with pytest.raises(IntegrityError):
        once_more_after_a_race(sync, lambda: None)
