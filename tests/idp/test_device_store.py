"""The local IdP's device authorizations as plain state, on an injected clock: no server, no sleeping."""

from __future__ import annotations

import uuid

import pytest

from okta_local_idp.device_store import (
    MAX_CODE_INPUT,
    USER_CODE_ALPHABET,
    DeviceStore,
    new_user_code,
    normalize_user_code,
)

pytestmark = pytest.mark.local_idp


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> DeviceStore:
    return DeviceStore(clock=clock)


def issue(store: DeviceStore, lifetime: int = 600, interval: int = 5, client_id: str = "cli"):
    return store.issue(client_id, "openid profile", lifetime, interval)


def test_codes_look_like_oktas(store: DeviceStore) -> None:
    item = issue(store)
    assert len(item.user_code) == 8
    assert set(item.user_code) <= set(USER_CODE_ALPHABET)
    assert str(uuid.UUID(item.device_code)) == item.device_code
    assert len({new_user_code() for _ in range(200)}) > 190  # random, not a counter


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("MHXTFRPK", "MHXTFRPK"),
        ("mhxtfrpk", "MHXTFRPK"),
        ("MHXT-FRPK", "MHXTFRPK"),
        (" mhxt frpk ", "MHXTFRPK"),
        ("MHXTFRP", None),  # too short
        ("MHXTFRPKB", None),  # too long
        ("MHXTFRPA", None),  # a vowel is never in a code
        ("MHXTFRP1", None),
        ("", None),
        ("-" * (MAX_CODE_INPUT - 8) + "MHXTFRPK", "MHXTFRPK"),
        ("-" * (MAX_CODE_INPUT - 7) + "MHXTFRPK", None),  # longer than anyone types: refused unread
    ],
)
def test_typed_user_codes_are_normalised(typed: str, expected: str | None) -> None:
    assert normalize_user_code(typed) == expected


def test_pending_then_slow_down_within_the_interval_then_pending_again(store: DeviceStore, clock: Clock) -> None:
    item = issue(store, interval=5)
    assert store.poll(item.device_code, "cli")[0] == "pending"
    clock.now += 4.9
    assert store.poll(item.device_code, "cli")[0] == "slow_down"
    clock.now += 4.9  # measured from the previous poll, the slow_down one included
    assert store.poll(item.device_code, "cli")[0] == "slow_down"
    clock.now += 5
    assert store.poll(item.device_code, "cli")[0] == "pending"


def test_interval_zero_never_slows_down(store: DeviceStore) -> None:
    item = issue(store, interval=0)
    assert [store.poll(item.device_code, "cli")[0] for _ in range(3)] == ["pending"] * 3


def test_approved_code_is_redeemed_once_even_right_after_a_poll(store: DeviceStore) -> None:
    item = issue(store)
    assert store.poll(item.device_code, "cli")[0] == "pending"
    decided = store.decide(item.user_code, "approved", "00uadmin000000000001", 1_799_999_000)
    assert decided is not None
    outcome, redeemed = store.poll(item.device_code, "cli")
    assert outcome == "approved"
    assert redeemed is not None
    assert (redeemed.user_id, redeemed.auth_time) == ("00uadmin000000000001", 1_799_999_000)
    assert store.poll(item.device_code, "cli") == ("invalid", None)


def test_denied_code_stays_denied(store: DeviceStore) -> None:
    item = issue(store)
    assert store.decide(item.user_code, "denied", "00uadmin000000000001", 1) is not None
    assert store.poll(item.device_code, "cli")[0] == "denied"
    assert store.poll(item.device_code, "cli")[0] == "denied"


def test_a_code_is_decided_once(store: DeviceStore) -> None:
    item = issue(store)
    assert store.decide(item.user_code, "denied", "00uadmin000000000001", 1) is not None
    assert store.decide(item.user_code, "approved", "00uadmin000000000001", 1) is None
    assert store.find_pending(item.user_code) is None


def test_expiry_beats_an_approval(store: DeviceStore, clock: Clock) -> None:
    approved, waiting = issue(store, lifetime=600), issue(store, lifetime=600)
    store.decide(approved.user_code, "approved", "00uadmin000000000001", 1)
    clock.now += 600
    assert store.poll(approved.device_code, "cli")[0] == "expired"
    assert store.poll(waiting.device_code, "cli")[0] == "expired"
    assert store.find_pending(waiting.user_code) is None
    assert store.decide(waiting.user_code, "approved", "00uadmin000000000001", 1) is None


def test_another_clients_poll_neither_redeems_nor_reveals_the_code(store: DeviceStore) -> None:
    item = issue(store)
    store.decide(item.user_code, "approved", "00uadmin000000000001", 1)
    assert store.poll(item.device_code, "other-cli") == ("invalid", None)
    assert store.poll(item.device_code, "cli")[0] == "approved"


def test_unknown_codes(store: DeviceStore) -> None:
    assert store.poll("nope", "cli") == ("invalid", None)
    assert store.find_pending("MHXTFRPK") is None
    assert store.decide("MHXTFRPK", "approved", "00uadmin000000000001", 1) is None


def test_long_expired_codes_are_forgotten(store: DeviceStore, clock: Clock) -> None:
    old = issue(store, lifetime=10)
    clock.now += 11
    assert store.poll(old.device_code, "cli")[0] == "expired"
    clock.now += 3600
    issue(store)  # issuing purges what expired over an hour ago
    assert store.poll(old.device_code, "cli") == ("invalid", None)
