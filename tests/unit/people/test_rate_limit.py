"""Tests for okta_security.people.rate_limit: a token bucket per person, with an honest Retry-After."""

from __future__ import annotations

import pytest

from okta_security.errors import RateLimited, classify
from okta_security.people.rate_limit import PersonRateLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_up_to_the_rate_then_429_with_the_wait_until_the_next_sign_in():
    clock = Clock()
    limit = PersonRateLimit(per_minute=6, clock=clock)
    for _ in range(6):
        limit.take("00uann")
    with pytest.raises(RateLimited) as refused:
        limit.take("00uann")
    assert refused.value.retry_after == 10  # one sign-in refills every 60 / 6 s
    assert (classify(refused.value).api_status, classify(refused.value).grant_status) == (429, 429)
    limit.take("00ubob")  # another person has their own bucket
    clock.now += 10
    limit.take("00uann")
    with pytest.raises(RateLimited):
        limit.take("00uann")


def test_a_refused_attempt_does_not_spend_anything():
    clock = Clock()
    limit = PersonRateLimit(per_minute=1, clock=clock)
    limit.take("00uann")
    for _ in range(5):
        with pytest.raises(RateLimited):
            limit.take("00uann")
    clock.now += 60
    limit.take("00uann")
