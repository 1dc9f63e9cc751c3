"""The IdP's directory at run time: YAML users overlaid with lifecycle and membership changes.

The YAML file is the starting point; Management API writes (``/lifecycle/deactivate``, group
membership ``PUT``/``DELETE``, user ``DELETE``) are kept here, in memory, and overlaid on every
configuration snapshot, so logins, tokens and the API all see the same directory. Also: group
indexes for the list endpoints and Okta's ``search``/``filter`` expression language (the subset
okta_security uses: ``eq``, ``sw``, ``pr``, ``gt``/``lt`` joined by ``and``/``or``).
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .models import Group

if TYPE_CHECKING:
    from .config import IdpConfig
    from .models import User


class DirectoryOverlay:
    """Runtime changes to users: status, group memberships, deletion. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: dict[str, str] = {}
        self._groups: dict[str, tuple[str, ...]] = {}
        self._deleted: set[str] = set()
        self._updated_at: dict[str, int] = {}
        self._membership_at: dict[str, int] = {}  # group name -> when a member last joined or left
        self._version = 0
        # Keyed by the snapshot itself, not id(): a freed snapshot's id is reused by the next one.
        self._cache: tuple[IdpConfig, int, IdpConfig] | None = None

    def apply(self, config: IdpConfig) -> IdpConfig:
        """Return ``config`` with the runtime changes applied (cached per snapshot and version)."""
        with self._lock:
            if not self._version:
                return config
            cached = self._cache
            if cached is not None and cached[0] is config and cached[1] == self._version:
                return cached[2]
            users = []
            for user in config.users:
                if user.id in self._deleted:
                    continue
                changes: dict[str, Any] = {}
                if user.id in self._status:
                    changes["status"] = self._status[user.id]
                if user.id in self._groups:
                    changes["groups"] = self._groups[user.id]
                if user.id in self._updated_at:
                    changes["updated_at"] = self._updated_at[user.id]
                users.append(dataclasses.replace(user, **changes) if changes else user)
            # A group outlives its last member, as in Okta: the YAML's groups stay listed.
            groups = {name: Group(name=name) for user in config.users for name in user.groups} | dict(config.groups)
            for name, at in self._membership_at.items():
                if name in groups:
                    groups[name] = dataclasses.replace(groups[name], membership_updated_at=at)
            result = dataclasses.replace(config, users=tuple(users), groups=groups)
            self._cache = (config, self._version, result)
            return result

    def set_status(self, user: User, status: str) -> None:
        """Give ``user`` a new lifecycle status."""
        with self._lock:
            self._status[user.id] = status
            self._touch(user.id)

    def set_groups(self, user: User, groups: tuple[str, ...]) -> None:
        """Replace ``user``'s group memberships."""
        with self._lock:
            self._groups[user.id] = groups
            self._touch(user.id)
            # Okta moves a group's lastMembershipUpdated whenever someone joins or leaves it
            for name in set(user.groups) ^ set(groups):
                self._membership_at[name] = self._updated_at[user.id]

    def delete(self, user: User) -> None:
        """Remove ``user`` from the directory."""
        with self._lock:
            self._deleted.add(user.id)
            self._touch(user.id)

    def reset(self) -> None:
        """Forget every runtime change (back to the YAML file)."""
        with self._lock:
            self._status.clear()
            self._groups.clear()
            self._deleted.clear()
            self._updated_at.clear()
            self._membership_at.clear()
            self._version += 1
            self._cache = None

    def _touch(self, user_id: str) -> None:
        self._updated_at[user_id] = int(time.time())
        self._version += 1


# --------------------------------------------------------------------------- groups


class GroupIndex:
    """Groups (declared and implied by membership) and their members, for one config snapshot."""

    def __init__(self, config: IdpConfig) -> None:
        names: dict[str, Group] = dict(config.groups)
        members: dict[str, list[User]] = {}
        for user in config.users:
            for name in user.groups:
                names.setdefault(name, Group(name=name))
                members.setdefault(name, []).append(user)
        self.by_id: dict[str, Group] = {group.id: group for group in names.values()}
        self.sorted: list[Group] = sorted(self.by_id.values(), key=lambda group: group.id)
        self._members = {name: sorted(users, key=lambda u: u.id) for name, users in members.items()}

    def members(self, group: Group) -> list[User]:
        """Return the group's members ordered by user id."""
        return self._members.get(group.name, [])


_index_lock = threading.Lock()
_index_cache: tuple[IdpConfig, GroupIndex] | None = None


def group_index(config: IdpConfig) -> GroupIndex:
    """Return the (cached) group index of ``config``."""
    global _index_cache
    with _index_lock:
        # Keyed by the snapshot itself: with id(), a snapshot freed after a directory reset lent its
        # id to the next one, which then got the old index (a group missing from /api/v1/groups).
        if _index_cache is not None and _index_cache[0] is config:
            return _index_cache[1]
        index = GroupIndex(config)
        _index_cache = (config, index)
        return index


# --------------------------------------------------------------------------- search expressions


class SearchError(ValueError):
    """The search or filter expression is not understood (Okta: E0000031)."""


_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<word>[A-Za-z0-9_.]+)|(?P<paren>[()]))')
_OPERATORS = frozenset({"eq", "sw", "pr", "gt", "lt", "ge", "le"})  # Okta has no "ne"

Predicate = Callable[["User"], bool]


def _attribute(user: User, name: str) -> str | None:
    values = {
        "id": user.id,
        "status": user.status,
        "profile.login": user.login,
        "profile.email": user.email,
        "profile.firstName": user.given_name,
        "profile.lastName": user.family_name,
        "lastUpdated": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(user.updated_at)),
    }
    if name not in values:
        raise SearchError(f"unsupported attribute {name!r}")
    return values[name]


def _tokens(expression: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(expression):
        if expression[pos:].strip() == "":
            break
        match = _TOKEN.match(expression, pos)
        if match is None:
            raise SearchError(f"cannot parse the expression at {expression[pos : pos + 20]!r}")
        tokens.append(match.group(match.lastgroup or "word"))
        pos = match.end()
    return tokens


def parse_search(expression: str) -> Predicate:
    """Compile an Okta search/filter expression into a predicate over users."""
    tokens = _tokens(expression)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise SearchError("the expression ends too early")
        pos += 1
        return tokens[pos - 1]

    def comparison() -> Predicate:
        if peek() == "(":
            take()
            inner = disjunction()
            if take() != ")":
                raise SearchError("missing ')'")
            return inner
        attr, op = take(), take().lower()
        if op not in _OPERATORS:
            raise SearchError(f"unsupported operator {op!r}")
        if op == "pr":
            return lambda user: bool(_attribute(user, attr))
        raw = take()
        if not raw.startswith('"'):
            raise SearchError(f"expected a quoted value after {attr} {op}")
        value = re.sub(r"\\(.)", r"\1", raw[1:-1])
        _attribute_check(attr)
        ops: dict[str, Callable[[str, str], bool]] = {
            "eq": lambda a, b: a.casefold() == b.casefold() if attr.startswith("profile.") else a == b,
            "sw": lambda a, b: a.casefold().startswith(b.casefold()),
            "gt": lambda a, b: a > b,
            "lt": lambda a, b: a < b,
            "ge": lambda a, b: a >= b,
            "le": lambda a, b: a <= b,
        }
        compare = ops[op]
        return lambda user: compare(_attribute(user, attr) or "", value)

    def conjunction() -> Predicate:
        parts = [comparison()]
        while (peek() or "").lower() == "and":
            take()
            parts.append(comparison())
        return parts[0] if len(parts) == 1 else (lambda user: all(p(user) for p in parts))

    def disjunction() -> Predicate:
        parts = [conjunction()]
        while (peek() or "").lower() == "or":
            take()
            parts.append(conjunction())
        return parts[0] if len(parts) == 1 else (lambda user: any(p(user) for p in parts))

    if not tokens:
        raise SearchError("the expression is empty")
    predicate = disjunction()
    if pos != len(tokens):
        raise SearchError(f"unexpected {tokens[pos]!r}")
    return predicate


def _attribute_check(name: str) -> None:
    known = {"id", "status", "profile.login", "profile.email", "profile.firstName", "profile.lastName", "lastUpdated"}
    if name not in known:
        raise SearchError(f"unsupported attribute {name!r}")


def search_ids(expression: str) -> set[str] | None:
    """Return the ids of an ``id eq "…" or id eq "…"`` expression (a fast path), else None."""
    found = re.findall(r'id eq "([^"\\]+)"', expression)
    rebuilt = " or ".join(f'id eq "{value}"' for value in found)
    return set(found) if found and rebuilt == expression.strip() else None
