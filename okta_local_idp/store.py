"""In-memory, lock-protected runtime state: codes, tokens, IdP sessions, faults."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .device_store import DeviceStore
from .directory import DirectoryOverlay

if TYPE_CHECKING:
    from .models import AuthorizationCode, EventHook, Token

log = logging.getLogger(__name__)

_CONSUMED_CODE_MEMORY = 3600


class RateLimiter:
    """Fixed-window request counter per bucket, like Okta's per-endpoint limits."""

    def __init__(self, window: int = 60) -> None:
        self._window = window
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, bucket: str, limit: int) -> tuple[bool, int, int]:
        """Count one request; return (allowed, remaining, reset epoch seconds)."""
        now = time.time()
        window_start = int(now // self._window) * self._window
        key = (bucket, window_start)
        with self._lock:
            for stale in [k for k in self._counts if k[1] < window_start]:
                del self._counts[stale]
            used = self._counts.get(key, 0) + 1
            self._counts[key] = used
        return used <= limit, max(limit - used, 0), window_start + self._window


@dataclass(frozen=True)
class IdpSession:
    """A server-side sign-in session, referenced by the session cookie."""

    sid: str
    user_id: str
    auth_time: int
    amr: tuple[str, ...] = ("pwd",)  # RFC 8176 methods of this session's sign-in, as Okta's ID tokens list them


class EventHookState:
    """Which hooks are verified, and every delivery attempt (for tests and the admin API)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verified: set[str] = set()
        self.deliveries: list[dict[str, Any]] = []
        self._threads: list[threading.Thread] = []

    def verified(self, hook: EventHook) -> bool:
        """Return whether ``hook`` passed verification."""
        with self._lock:
            return hook.id in self._verified

    def mark_verified(self, hook: EventHook) -> None:
        """Record that ``hook`` passed verification."""
        with self._lock:
            self._verified.add(hook.id)

    def reset(self) -> None:
        """Forget verifications and delivery records (hooks must be verified again)."""
        with self._lock:
            self._verified.clear()
            self.deliveries.clear()

    def record(self, entry: dict[str, Any]) -> None:
        """Record one delivery (attempts are appended to ``entry`` as they happen)."""
        with self._lock:
            self.deliveries.append(entry)

    def snapshot(self) -> list[dict[str, Any]]:
        """Return a copy of the delivery records."""
        with self._lock:
            return [dict(d, attempts=list(d["attempts"])) for d in self.deliveries]

    def start(self, thread: threading.Thread) -> None:
        """Run a delivery thread (kept so tests can wait for all deliveries)."""
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def wait(self, timeout: float = 10.0) -> None:
        """Wait for pending deliveries to finish."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class RuntimeStore:
    """Hold everything the IdP issues; safe to use from many request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, AuthorizationCode] = {}
        self._consumed_codes: dict[str, float] = {}
        self._tokens: dict[str, Token] = {}
        self._refresh_tokens: dict[str, Token] = {}
        self._sessions: dict[str, IdpSession] = {}
        self._faults: dict[str, Any] = {}
        self._assertion_jtis: dict[tuple[str, str], float] = {}
        self.rate_limiter = RateLimiter()
        self.directory = DirectoryOverlay()  # Management API lifecycle/membership changes
        self.event_hooks = EventHookState()  # verified hooks and delivery records
        self.universal_logouts: list[dict[str, Any]] = []  # Universal Logout requests sent (list.append is atomic)
        self.devices = DeviceStore()  # device authorizations (RFC 8628) in flight

    # -- authorization codes -------------------------------------------------

    def save_code(self, code: AuthorizationCode) -> None:
        """Remember an issued authorization code."""
        with self._lock:
            self._purge_locked()
            self._codes[code.code] = code

    def take_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        """Consume ``code`` for ``client_id``; return None if unknown, expired or used.

        Redeeming a code twice revokes the tokens issued for it (RFC 6749 4.1.2).
        """
        with self._lock:
            item = self._codes.pop(code, None)
            if item is None:
                if code in self._consumed_codes:
                    self._revoke_code_tokens_locked(code)
                return None
            self._consumed_codes[code] = time.time()
            if item.client_id != client_id or item.is_expired():
                return None
            return item

    def nonce_in_use(self, client_id: str, nonce: str) -> bool:
        """Return whether an outstanding code of ``client_id`` carries ``nonce``."""
        with self._lock:
            return any(c.client_id == client_id and c.nonce == nonce for c in self._codes.values())

    # -- tokens --------------------------------------------------------------

    def save_token(self, token: Token) -> None:
        """Remember an issued token."""
        with self._lock:
            self._tokens[token.access_token] = token
            if token.refresh_token:
                self._refresh_tokens[token.refresh_token] = token

    def find_access_token(self, access_token: str) -> Token | None:
        """Return the token record for ``access_token``."""
        with self._lock:
            return self._tokens.get(access_token)

    def find_refresh_token(self, refresh_token: str) -> Token | None:
        """Return the token record owning a still valid ``refresh_token``."""
        with self._lock:
            token = self._refresh_tokens.get(refresh_token)
            if token is None or token.refresh_token_revoked:
                return None
            return token

    def revoke(self, token: Token, *, refresh_too: bool) -> None:
        """Revoke the access token and, if asked, the refresh token of ``token``."""
        with self._lock:
            token.access_token_revoked = True
            if refresh_too:
                token.refresh_token_revoked = True

    def use_assertion_jti(self, client_id: str, jti: str, expires_at: float) -> bool:
        """Record a client assertion's ``jti``; return False if it was used already (a replay)."""
        now = time.time()
        with self._lock:
            for stale in [key for key, exp in self._assertion_jtis.items() if exp < now]:
                del self._assertion_jtis[stale]
            if (client_id, jti) in self._assertion_jtis:
                return False
            self._assertion_jtis[(client_id, jti)] = max(expires_at, now + 60)
            return True

    # -- IdP sign-in sessions ------------------------------------------------

    def open_session(self, user_id: str, auth_time: int, amr: tuple[str, ...] = ("pwd",)) -> IdpSession:
        """Create a sign-in session for ``user_id``."""
        session = IdpSession(sid=secrets.token_urlsafe(24), user_id=user_id, auth_time=auth_time, amr=amr)
        with self._lock:
            self._sessions[session.sid] = session
        return session

    def get_session(self, sid: str | None) -> IdpSession | None:
        """Return the live session ``sid``."""
        if not sid:
            return None
        with self._lock:
            return self._sessions.get(sid)

    def close_user_sessions(self, user_id: str) -> int:
        """End every sign-in session of ``user_id``; return how many there were."""
        with self._lock:
            ended = [sid for sid, s in self._sessions.items() if s.user_id == user_id]
            for sid in ended:
                del self._sessions[sid]
        return len(ended)

    def close_session(self, sid: str | None) -> None:
        """End the session ``sid`` (no-op if unknown)."""
        if sid:
            with self._lock:
                self._sessions.pop(sid, None)

    # -- runtime fault overrides ---------------------------------------------

    def faults(self) -> dict[str, Any]:
        """Return a copy of the runtime fault overrides."""
        with self._lock:
            return dict(self._faults)

    def update_faults(self, changes: dict[str, Any]) -> None:
        """Merge ``changes`` into the overrides; a None value removes one."""
        with self._lock:
            for name, value in changes.items():
                if value is None:
                    self._faults.pop(name, None)
                else:
                    self._faults[name] = value

    def count_down(self, name: str, initial: int | None) -> bool:
        """Use one of the ``name`` countdown's calls (starting at ``initial``); False once none is left.

        ``initial`` None means no countdown: always True. The remaining count is kept as a
        runtime override, so a YAML countdown also runs out.
        """
        with self._lock:
            remaining = self._faults.get(name, initial)
            if remaining is None:
                return True
            if remaining <= 0:
                return False
            self._faults[name] = remaining - 1
            return True

    def clear_faults(self) -> None:
        """Drop every runtime fault override."""
        with self._lock:
            self._faults.clear()

    # -- internals -----------------------------------------------------------

    def _revoke_code_tokens_locked(self, code: str) -> None:
        revoked = 0
        for token in self._tokens.values():
            if token.code == code and not token.access_token_revoked:
                token.access_token_revoked = True
                token.refresh_token_revoked = True
                revoked += 1
        if revoked:
            log.warning("authorization code redeemed twice; revoked the %d token(s) issued for it", revoked)

    def _purge_locked(self) -> None:
        now = time.time()
        for code in [c for c, item in self._codes.items() if item.is_expired()]:
            del self._codes[code]
        cutoff = now - _CONSUMED_CODE_MEMORY
        for code in [c for c, at in self._consumed_codes.items() if at < cutoff]:
            del self._consumed_codes[code]
        for access_token in [t for t, tok in self._tokens.items() if tok.expires_at + 86400 < now]:
            token = self._tokens.pop(access_token)
            if token.refresh_token:
                self._refresh_tokens.pop(token.refresh_token, None)
