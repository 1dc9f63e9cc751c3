"""How often one person may sign in with Okta access tokens: a token bucket per Okta user (pure).

Every exchange of a person's token runs the whole sign-in (the account read and written, maybe a
Groups API call, an audit row). A script that exchanges in a loop, or someone replaying a token,
must not turn that into load on Airflow's database and Okta's rate limit: past
``OKTA_PERSON_SIGN_INS_PER_MINUTE`` the answer is ``rate_limited`` (HTTP 429, ``Retry-After``).
The bucket is per worker process; with N workers a person gets at most N times the rate.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cachetools import TTLCache

from okta_security.errors import RateLimited

if TYPE_CHECKING:
    from collections.abc import Callable

MAX_PEOPLE = 50_000  # buckets kept per worker; an idle bucket is full again within a minute and dropped
WINDOW_SECONDS = 60.0


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class PersonRateLimit:
    """``per_minute`` sign-ins per person, in bursts of up to ``per_minute``."""

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    _buckets: TTLCache[str, _Bucket] = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        """Make the buckets: one per person seen in the last minute."""
        self._buckets = TTLCache(MAX_PEOPLE, WINDOW_SECONDS, timer=self.clock)

    def take(self, person: str) -> None:
        """Count one sign-in of ``person`` (an Okta user id); raise RateLimited when their bucket is empty."""
        rate = self.per_minute / WINDOW_SECONDS
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(person) or _Bucket(float(self.per_minute), now)
            bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            if bucket.tokens < 1.0:
                self._buckets[person] = bucket
                retry_after = max(1, math.ceil((1.0 - bucket.tokens) / rate))
                raise RateLimited(
                    f"Too many sign-ins with your Okta token in the last minute (at most {self.per_minute}). "
                    f"Try again in {retry_after} s; a script should exchange its Okta token once and reuse the "
                    "Airflow token until it expires.",
                    retry_after=retry_after,
                )
            bucket.tokens -= 1.0
            self._buckets[person] = bucket
