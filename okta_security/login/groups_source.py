"""Decide where a login's groups come from (pure: no I/O).

Order: the ID token's groups claim; userinfo, only when the ID token has no such
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

The sources are declared with ``OKTA_GROUPS_SOURCE`` in :mod:`okta_security.settings.specs`;
``OKTA_GROUPS_FILTER`` (:class:`okta_security.mapping.patterns.GroupFilter`) then keeps the groups
worth considering, whatever their source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


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
