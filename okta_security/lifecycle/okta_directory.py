"""Read Okta's directory in bulk — users' statuses and mapped groups' members — page by page.

Built on :class:`okta_security.okta_api.client.OktaApiClient` (its authorizer, timeouts, 429 handling,
paging and typed errors); this module adds the list endpoints ``sync-users`` needs, so that the
number of calls grows with *pages* (200 objects each), not with users:

- statuses: ``GET /api/v1/users`` (every user not DEPROVISIONED) plus
  ``GET /api/v1/users?search=status eq "DEPROVISIONED"`` — or, when few Airflow users are
  involved, ``search=id eq "…" or id eq "…"`` in chunks;
- groups: ``GET /api/v1/groups``, then ``GET /api/v1/groups/{id}/users`` for each group some
  mapping rule matches (other groups cannot grant a role).

Paging follows ``Link: <…>; rel="next"`` only, never leaves Okta's origin and stops on a repeat.
Any failure raises (nothing partial is returned): a sync must never act on half a directory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from okta_security.lifecycle.user_sync import OktaSnapshot, relevant_groups

if TYPE_CHECKING:
    from okta_security.mapping.rules import RoleMapping
    from okta_security.okta_api.client import OktaApiClient

log = logging.getLogger(__name__)

MAX_PAGES = 10_000  # 2 million objects per listing: beyond that the cursor is going round in circles
SEARCH_CHUNK = 50  # ids per `search=id eq … or …` request (keeps the URL well under 4 KB)
SEARCH_MAX_USERS = 250  # above this many accounts, listing every Okta user takes fewer calls
Strategy = Literal["auto", "list", "search"]
ProgressFn = Callable[[str, int, int], None]  # (what, pages so far, objects so far)


class OktaDirectory:
    """Bulk reads of Okta users and groups; ``calls`` counts the HTTP pages requested."""

    def __init__(self, client: OktaApiClient, *, wait_seconds: float | None = None, progress: ProgressFn | None = None):
        self.client = client
        self.calls = 0
        self._wait_seconds = wait_seconds if wait_seconds is not None else client.http.policy.max_wait
        self._progress = progress

    # -- listings --------------------------------------------------------------------------

    def pages(self, path: str, params: dict[str, Any] | None, what: str) -> Iterator[list[dict[str, Any]]]:
        """Yield each page (a list of objects) of ``GET {org}{path}``, following ``rel="next"``."""
        url = f"{self.client.org_url}{path}"
        objects = 0
        pages = self.client.pages(url, params, what, max_pages=MAX_PAGES, wait_per_page=self._wait_seconds)
        for page_number, page in enumerate(pages, 1):
            self.calls += 1
            objects += len(page)
            if self._progress is not None:
                self._progress(what, page_number, objects)
            yield page

    def users(self, *, search: str | None = None) -> Iterator[dict[str, Any]]:
        """Yield Okta user objects (all but DEPROVISIONED ones unless ``search`` asks for them)."""
        params = {"search": search} if search else None
        what = "listing Okta users" + (f" ({search})" if search and len(search) < 80 else "")
        for page in self.pages("/api/v1/users", params, what):
            yield from page

    def groups(self) -> Iterator[dict[str, Any]]:
        """Yield every Okta group object."""
        for page in self.pages("/api/v1/groups", None, "listing Okta groups"):
            yield from page

    def group_members(self, group_id: str, name: str = "") -> Iterator[dict[str, Any]]:
        """Yield the user objects of the members of group ``group_id``."""
        path = f"/api/v1/groups/{quote(group_id, safe='')}/users"
        for page in self.pages(path, None, f"listing members of Okta group {name or group_id}"):
            yield from page

    # -- what sync-users needs -------------------------------------------------------------

    def statuses(self, subs: Iterable[str], *, strategy: Strategy = "auto") -> dict[str, str]:
        """Return ``{user id: status}`` for the users Okta knows among ``subs`` (absent = deleted)."""
        wanted = sorted(set(subs))
        if not wanted:
            return {}
        if strategy == "search" or (strategy == "auto" and len(wanted) <= SEARCH_MAX_USERS):
            found: dict[str, str] = {}
            for start in range(0, len(wanted), SEARCH_CHUNK):
                chunk = wanted[start : start + SEARCH_CHUNK]
                expression = " or ".join(f'id eq "{_quote(sub)}"' for sub in chunk)
                found.update(_status_map(self.users(search=expression)))
            return {sub: found[sub] for sub in wanted if sub in found}
        listed = _status_map(self.users())
        listed.update(_status_map(self.users(search='status eq "DEPROVISIONED"')))
        return {sub: listed[sub] for sub in wanted if sub in listed}

    def mapped_memberships(self, mapping: RoleMapping) -> tuple[dict[str, set[str]], list[str]]:
        """Return ({user id: names of mapped groups}, the mapped group names found in Okta)."""
        groups = [(g.get("id"), _group_name(g)) for g in self.groups()]
        named = {name: gid for gid, name in groups if isinstance(gid, str) and name}
        relevant = relevant_groups(sorted(named), mapping)
        members: dict[str, set[str]] = {}
        for name in relevant:
            for user in self.group_members(named[name], name):
                uid = user.get("id")
                if isinstance(uid, str):
                    members.setdefault(uid, set()).add(name)
        return members, relevant

    def snapshot(self, subs: Iterable[str], mapping: RoleMapping, *, strategy: Strategy = "auto") -> OktaSnapshot:
        """Return what Okta says about ``subs`` now: statuses and mapped-group memberships."""
        wanted = set(subs)
        read_at = datetime.now(timezone.utc)  # the reading's evidence time: before any answer came
        statuses = self.statuses(wanted, strategy=strategy)
        members, _ = self.mapped_memberships(mapping)
        return OktaSnapshot(
            statuses=statuses,
            groups={sub: frozenset(members.get(sub, ())) for sub in wanted},
            read_at=read_at,
        )

    def user_groups(self, user_id: str) -> tuple[str, ...]:
        """Return the names of one user's groups (event hooks: one user, fresh from Okta)."""
        self.calls += 1  # at least one page; OktaApiClient pages the rest itself
        return self.client.user_group_names(user_id)


def _status_map(users: Iterable[dict[str, Any]]) -> dict[str, str]:
    return {u["id"]: str(u.get("status") or "") for u in users if isinstance(u.get("id"), str)}


def _group_name(group: dict[str, Any]) -> str:
    name = (group.get("profile") or {}).get("name")
    return name if isinstance(name, str) else ""


def _quote(value: str) -> str:
    """Escape a value for an Okta search expression string literal."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
