"""Device authorizations (RFC 8628) in flight: issued codes, the user's decision, each poll.

Pure state, no Flask: :mod:`okta_local_idp.device` serves the endpoints around it. Every change
happens under one lock, so a poll and an approval racing each other see one order, and a device
code is redeemed at most once however many polls arrive together.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

# RFC 8628 §6.1: 20 consonants, no vowels (no words), no look-alike digits. Okta's codes are
# 8 of these without a separator ("MHXTFRPK").
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
MAX_CODE_INPUT = 64  # longer input is not a code: refuse it before any lookup
_FORGET_AFTER = 3600  # seconds past expiry a code is still answered with expired_token, not invalid_grant

Decision = Literal["approved", "denied"]
PollOutcome = Literal["invalid", "expired", "denied", "slow_down", "pending", "approved"]


def new_user_code() -> str:
    """Return a fresh user code in Okta's format: 8 consonants, e.g. ``MHXTFRPK``."""
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def new_device_code() -> str:
    """Return a fresh device code; Okta's are random UUIDs."""
    return str(uuid.uuid4())


def normalize_user_code(typed: str) -> str | None:
    """Return the user code a person typed, uppercased without separators; None if it cannot be one.

    RFC 8628 §6.1: accept lowercase and ignore dashes and spaces people add while typing.
    """
    if len(typed) > MAX_CODE_INPUT:
        return None
    code = "".join(ch for ch in typed.upper() if ch not in "- \t")
    if len(code) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in code):
        return None
    return code


@dataclass(frozen=True)
class DeviceAuthorization:
    """One device authorization request and where it stands."""

    device_code: str
    user_code: str
    client_id: str
    scope: str
    issued_at: float
    expires_at: float
    interval: int
    last_poll: float | None = None
    decision: Decision | None = None
    user_id: str | None = None
    auth_time: int | None = None  # when the approving user signed in at the IdP
    redeemed: bool = False

    def is_expired(self, now: float | None = None) -> bool:
        """Return whether the codes are past their lifetime."""
        return (time.time() if now is None else now) >= self.expires_at

    @property
    def is_pending(self) -> bool:
        """Return whether nobody has approved or denied it yet."""
        return self.decision is None

    def get_scope(self) -> str:
        """Return the scope the device asked for (authlib's device grant reads it)."""
        return self.scope


class DeviceStore:
    """Thread-safe home of every device authorization this IdP issued."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._by_device: dict[str, DeviceAuthorization] = {}
        self._by_user: dict[str, str] = {}  # user code -> device code

    def issue(self, client_id: str, scope: str, lifetime: int, interval: int) -> DeviceAuthorization:
        """Create and remember a new device authorization for ``client_id``."""
        now = self._clock()
        with self._lock:
            self._purge_locked(now)
            user_code = new_user_code()
            while user_code in self._by_user:  # 20^8 codes: a clash is rare, but two live ones must differ
                user_code = new_user_code()
            item = DeviceAuthorization(
                device_code=new_device_code(),
                user_code=user_code,
                client_id=client_id,
                scope=scope,
                issued_at=now,
                expires_at=now + lifetime,
                interval=interval,
            )
            self._by_device[item.device_code] = item
            self._by_user[user_code] = item.device_code
            return item

    def find_pending(self, user_code: str) -> DeviceAuthorization | None:
        """Return the live, undecided authorization whose user code is ``user_code``."""
        with self._lock:
            item = self._by_device.get(self._by_user.get(user_code, ""))
            if item is None or item.is_expired(self._clock()) or not item.is_pending:
                return None
            return item

    def decide(self, user_code: str, decision: Decision, user_id: str, auth_time: int) -> DeviceAuthorization | None:
        """Record the signed-in user's decision; None if the code is unknown, expired or decided."""
        with self._lock:
            item = self._by_device.get(self._by_user.get(user_code, ""))
            if item is None or item.is_expired(self._clock()) or not item.is_pending:
                return None
            item = replace(item, decision=decision, user_id=user_id, auth_time=auth_time)
            self._by_device[item.device_code] = item
            return item

    def poll(self, device_code: str, client_id: str) -> tuple[PollOutcome, DeviceAuthorization | None]:
        """Answer one token-endpoint poll, redeeming an approved code (once).

        The order follows RFC 8628 §3.5: a decided code answers at once, whatever the interval;
        only an undecided one polled sooner than ``interval`` after the previous poll is told to
        slow down. Every poll of an undecided code counts as the previous poll of the next.
        """
        now = self._clock()
        with self._lock:
            item = self._by_device.get(device_code)
            if item is None or item.client_id != client_id or item.redeemed:
                return "invalid", None
            if item.is_expired(now):
                return "expired", item
            if item.decision == "denied":
                return "denied", item
            if item.decision == "approved":
                item = replace(item, redeemed=True)
                self._by_device[device_code] = item
                return "approved", item
            too_soon = item.last_poll is not None and now - item.last_poll < item.interval
            self._by_device[device_code] = replace(item, last_poll=now)
            return ("slow_down" if too_soon else "pending"), item

    def _purge_locked(self, now: float) -> None:
        for code in [c for c, item in self._by_device.items() if item.expires_at + _FORGET_AFTER < now]:
            item = self._by_device.pop(code)
            self._by_user.pop(item.user_code, None)
