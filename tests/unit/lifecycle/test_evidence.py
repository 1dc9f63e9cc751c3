"""Tests for okta_security.lifecycle.evidence: older evidence may take access away, never give it back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from okta_security.lifecycle.evidence import (
    AccountTimes,
    SignInEvidence,
    at_epoch,
    capped_roles,
    groups_current,
    is_older,
    may_reactivate,
)

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
BEFORE, AFTER = T0 - timedelta(minutes=5), T0 + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("issued_at", "status_at", "allowed"),
    [
        (BEFORE, T0, False),  # a token from before the deactivation
        (T0, T0, True),  # the very token a refusal recorded: equal is not older
        (AFTER, T0, True),  # Okta issued a token after the deactivation: Okta let the person in again
        (BEFORE, None, True),  # nothing recorded: nothing to be older than
        (BEFORE.replace(tzinfo=None), T0, False),  # SQLite hands back naive times: UTC
    ],
)
def test_reactivation_needs_evidence_at_least_as_new_as_the_deactivation(issued_at, status_at, allowed):
    evidence = SignInEvidence(issued_at=issued_at, groups_at=issued_at)
    assert may_reactivate(evidence, AccountTimes(status_at=status_at)) is allowed


@pytest.mark.parametrize(
    ("groups_at", "times", "current"),
    [
        (AFTER, AccountTimes(groups_at=T0), True),
        (BEFORE, AccountTimes(groups_at=T0), False),  # the account saw newer groups
        (BEFORE, AccountTimes(roles_at=T0), False),  # an event or sync took a role away after the token
        (AFTER, AccountTimes(groups_at=BEFORE, roles_at=T0), True),
        (T0, AccountTimes(groups_at=BEFORE, roles_at=AFTER), False),  # the newest of the two counts
        (BEFORE, AccountTimes(), True),
    ],
)
def test_groups_are_current_only_when_not_older_than_groups_or_roles_evidence(groups_at, times, current):
    assert groups_current(SignInEvidence(issued_at=groups_at, groups_at=groups_at), times) is current


@pytest.mark.parametrize(
    ("mapped", "current_roles", "fresh", "expected"),
    [
        (("Admin", "Viewer"), ("Viewer",), True, ("Admin", "Viewer")),  # newer groups: the mapping decides
        (("Admin", "Viewer"), ("Viewer",), False, ("Viewer",)),  # older groups: no role the account lacks
        (("Admin",), ("Viewer",), False, ()),  # nothing left: the caller refuses stale_token
        (("Viewer",), ("Admin", "Viewer"), False, ("Viewer",)),  # taking away is always allowed
    ],
)
def test_older_groups_never_raise_roles(mapped, current_roles, fresh, expected):
    assert capped_roles(mapped, current_roles, current_groups=fresh) == expected


def test_a_groups_api_reading_dates_the_groups_not_the_token():
    evidence = SignInEvidence.from_iat(BEFORE.timestamp(), groups_read_at=AFTER)
    assert (evidence.issued_at, evidence.groups_at) == (BEFORE, AFTER)
    times = AccountTimes(status_at=T0, roles_at=T0)
    assert groups_current(evidence, times)
    assert not may_reactivate(evidence, times)


@pytest.mark.parametrize("iat", [None, "1700000000", True, -1, 1e12, float("nan")])
def test_an_unusable_iat_is_the_oldest_evidence(iat):
    assert at_epoch(iat) == datetime.fromtimestamp(0, timezone.utc)
    assert is_older(at_epoch(iat), BEFORE)


def test_a_token_issued_in_the_same_second_as_the_change_is_not_older():
    change = T0.replace(microsecond=300_000)
    assert not is_older(T0, change)  # iat 12:00:00 after a deactivation at 12:00:00.3
    assert is_older(T0 - timedelta(seconds=1), change)
