"""Decide where a login's groups come from, and which of them count (pure: no I/O).

Order (issue #4): the ID token's groups claim; userinfo, only when the ID token has no such
claim; Okta's Management API (``GET /api/v1/users/{id}/groups``) when ``OKTA_GROUPS_SOURCE`` says
so. The sources:

``auto`` (default)
    The claims (ID token, else userinfo); when they carry no group at all and the Management API
    is configured, the API. Without API credentials this is exactly ``claims``.
``claims``
    The claims only; the API is never called.
``api``
    The API only, for every login (orgs past Okta's 100-groups-in-a-token limit); userinfo is not
    asked for groups. Needs API credentials (checked at start).

``OKTA_GROUPS_FILTER`` then keeps only the groups worth considering, whatever their source:
empty keeps all, ``re:<regex>`` keeps names the regex matches in full, anything else is a name
prefix (``airflow-`` keeps ``airflow-admins``, drops ``Everyone``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

GroupsSource = Literal["auto", "claims", "api"]
GROUPS_SOURCES: tuple[GroupsSource, ...] = ("auto", "claims", "api")
REGEX_PREFIX = "re:"  # same convention as the mapping file's keys


def wants_userinfo(source: str, *, id_token_has_claim: bool) -> bool:
    """Return whether to ask userinfo for groups: the ID token lacks the claim and claims count."""
    return source != "api" and not id_token_has_claim


def wants_api(source: str, *, api_configured: bool, claim_groups: Sequence[str]) -> bool:
    """Return whether to read the user's groups from the Management API."""
    if source == "api":
        return True
    if source == "auto":
        return api_configured and not claim_groups
    return False


@dataclass(frozen=True)
class GroupFilter:
    """Which group names count: all, those with a prefix, or those a regex matches in full."""

    spec: str = ""
    _regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, spec: str) -> GroupFilter:
        """Build the filter from an ``OKTA_GROUPS_FILTER`` value; raise ValueError if the regex is bad."""
        spec = spec.strip()
        if not spec.startswith(REGEX_PREFIX):
            return cls(spec)
        pattern = spec[len(REGEX_PREFIX) :]
        if not pattern:
            raise ValueError("the regular expression after 're:' is empty")
        try:
            return cls(spec, re.compile(pattern))
        except re.error as e:
            raise ValueError(f"invalid regular expression {pattern!r}: {e}") from e

    def allows(self, name: str) -> bool:
        """Return whether group ``name`` counts."""
        if self._regex is not None:
            return self._regex.fullmatch(name) is not None
        return name.startswith(self.spec)

    def apply(self, groups: Iterable[str]) -> tuple[str, ...]:
        """Return the groups that count, in their original order, without duplicates."""
        return tuple(dict.fromkeys(g for g in groups if self.allows(g)))

    def describe(self) -> str:
        """Return a short human description, for logs."""
        if self._regex is not None:
            return f"regex {self._regex.pattern!r}"
        return f"prefix {self.spec!r}" if self.spec else "all groups"
