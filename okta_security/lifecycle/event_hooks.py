"""Okta Event Hooks, the pure part: check the caller, read deliveries, decide what each event means.

Okta delivers System Log events as ``{"data": {"events": [...]}}`` POSTs, authenticated by a
static ``Authorization`` header, at least once and possibly out of order; a one-time GET with
``x-okta-verification-challenge`` proves the endpoint is ours. This module turns a delivery into
:class:`HookEvent` items, each with the effect it calls for; the Flask adapter
(:mod:`okta_security.adapter.event_hook_view`) answers at once and applies effects on a worker thread.

The secret is a static header value, so whoever holds it can forge any event. An event therefore
only ever takes access away on its own (:func:`known_groups_after`, :func:`only_taking_away`):
an addition to a group, or a reactivation, needs Okta's own word, from a fresh Management API
read, the next login or ``sync-users``. A forged ``published`` time is clamped to the time of
receipt (:func:`effective_time`), and an event without a ``uuid`` is claimed by a digest of its
content (:attr:`HookEvent.event_id`), so a replay is recognised either way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from okta_security.untrusted import GROUP_NAME_CHARS, loggable

if TYPE_CHECKING:
    from okta_security.lifecycle.user_sync import PlannedChange

VERIFICATION_HEADER = "x-okta-verification-challenge"
MAX_CHALLENGE_LENGTH = 512
MAX_EVENT_ID_LENGTH = 128  # Okta's uuids are 36 characters; the receipt table's key holds 128
MAX_EVENT_TYPE_LENGTH = 128  # System Log event types are dotted names of a few dozen characters
DIGEST_PREFIX = "sha256:"  # the event id of an event without a usable uuid: a digest of its content

# "end_delegation": the person was unassigned from an AI agent's app (one listed under ``agents:``):
# the agent's delegated tokens for them end, and their own access is untouched.
Effect = Literal["deactivate", "recompute", "end_delegation", "ignore"]

# Event type -> what it means for the Airflow account of the user it targets.
EFFECTS: Mapping[str, Effect] = {
    "user.lifecycle.deactivate": "deactivate",
    "user.lifecycle.suspend": "deactivate",
    "user.lifecycle.delete.initiated": "deactivate",
    "group.user_membership.remove": "recompute",
    "group.user_membership.add": "recompute",
    "application.user_membership.remove": "deactivate",  # when the app is ours; an agent's: end_delegation
}
USER_TARGET_TYPES = frozenset({"User", "AppUser"})


class DeliveryError(ValueError):
    """The request body is not an Okta event hook delivery."""


@dataclass(frozen=True)
class HookEvent:
    """One System Log event from a delivery, reduced to what okta_security acts on.

    ``uuid`` is Okta's (empty when the event had no usable one); ``event_id`` is what a replay is
    recognised by: the uuid, or a digest of the event's content.
    """

    uuid: str
    event_type: str
    published: str
    user_ids: tuple[str, ...]
    user_logins: tuple[str, ...]
    group_names: tuple[str, ...]
    effect: Effect
    ignored_because: str = ""
    event_id: str = ""
    received_at: datetime | None = None
    agents: tuple[str, ...] = ()  # end_delegation: the agents' client ids the person was unassigned from


def authorized(presented: str | None, expected: str | None) -> bool:
    """Return whether the ``Authorization`` header matches the secret (constant time)."""
    if not expected or presented is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def verification_response(challenge: str | None) -> dict[str, str] | None:
    """Return the body answering Okta's one-time verification, or None if the header is unusable."""
    if not challenge or len(challenge) > MAX_CHALLENGE_LENGTH:
        return None
    return {"verification": challenge}


def parse_delivery(
    body: Any, *, client_id: str, received_at: datetime | None = None, agents: frozenset[str] = frozenset()
) -> list[HookEvent]:
    """Return the events of a delivery body, classified; raise DeliveryError if it is not one.

    ``agents``: the client ids under the mapping's ``agents:`` (an unassignment from one ends its delegation).
    """
    if not isinstance(body, Mapping):
        raise DeliveryError("the body is not a JSON object")
    data = body.get("data")
    events = data.get("events") if isinstance(data, Mapping) else None
    if not isinstance(events, list):
        raise DeliveryError("the body has no data.events list")
    return [
        classify(event, client_id=client_id, received_at=received_at, agents=agents)
        for event in events
        if isinstance(event, Mapping)
    ]


def classify(
    event: Mapping[str, Any],
    *,
    client_id: str,
    received_at: datetime | None = None,
    agents: frozenset[str] = frozenset(),
) -> HookEvent:
    """Reduce one System Log event to a :class:`HookEvent` with its effect."""
    targets = [t for t in event.get("target") or [] if isinstance(t, Mapping)]
    users = [t for t in targets if t.get("type") in USER_TARGET_TYPES and isinstance(t.get("id"), str)]
    groups = [str(t.get("displayName")) for t in targets if t.get("type") == "UserGroup" and t.get("displayName")]
    groups = [g for g in groups if len(g) <= GROUP_NAME_CHARS]  # longer names no Okta group can have
    apps = [str(t.get("id")) for t in targets if t.get("type") == "AppInstance" and t.get("id")]
    # Logged and audited as it came: bounded, and escaped so it cannot break a log line.
    event_type = loggable(event.get("eventType") or "", MAX_EVENT_TYPE_LENGTH)
    effect: Effect = EFFECTS.get(event_type, "ignore")
    why = "" if effect != "ignore" else "unhandled event type"
    if effect != "ignore" and not users:
        effect, why = "ignore", "no user target"
    unassigned_agents = tuple(sorted(agents.intersection(apps)))
    if event_type == "application.user_membership.remove" and client_id not in apps and effect != "ignore":
        effect, why = ("end_delegation", "") if unassigned_agents else ("ignore", "another application")
    if event_type.startswith("group.user_membership.") and not groups:
        effect, why = "ignore", "no group target"
    raw_uuid = event.get("uuid")
    uuid = raw_uuid if isinstance(raw_uuid, str) and 0 < len(raw_uuid) <= MAX_EVENT_ID_LENGTH else ""
    return HookEvent(
        uuid=uuid,
        event_type=event_type,
        published=str(event.get("published") or "")[:64],
        user_ids=tuple(str(u["id"]) for u in users),
        user_logins=tuple(str(u.get("alternateId") or "") for u in users),
        group_names=tuple(groups),
        effect=effect,
        ignored_because=why,
        event_id=uuid or content_digest(event),
        received_at=received_at,
        agents=unassigned_agents if effect == "end_delegation" else (),
    )


def content_digest(event: Mapping[str, Any]) -> str:
    """Return ``sha256:<hex>`` of the event's canonical JSON: the same content always gives the same id."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return DIGEST_PREFIX + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def effective_time(event: HookEvent) -> datetime:
    """Return when the event happened for ordering purposes: ``published``, never later than its receipt.

    A ``published`` in the future would make every genuine event after it look stale; an
    unreadable one counts as the time of receipt.
    """
    received = event.received_at or datetime.now(timezone.utc)
    published = _published(event.published)
    return received if published is None or published > received else published


def _published(value: str) -> datetime | None:
    """Parse a System Log ``published`` timestamp (``2024-05-01T12:00:00.000Z``); naive means UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def known_groups_after(groups: frozenset[str], event: HookEvent) -> frozenset[str] | None:
    """Return the groups to act on after a membership event, from what Okta was last seen to say.

    Only a removal is applied: it can only take access away. For an addition return None: taken
    from the event alone, it would let whoever holds the hook secret grant any role to anyone, so
    it waits for the next login or ``sync-users`` (or a fresh read of Okta, when configured).
    """
    if event.event_type == "group.user_membership.remove":
        return groups - set(event.group_names)
    return None


def only_taking_away(change: PlannedChange) -> PlannedChange:
    """Return ``change`` limited to what an event may do on its own: take roles away or deactivate.

    A reactivation is left to the next login or ``sync-users``; a new role set keeps only the roles
    the account already had, and one with none of them (e.g. the default role instead of a mapped
    one) deactivates the account until Okta's own word comes back at the next login.
    """
    if change.action == "reactivate":
        return replace(change, action="unchanged", roles_after=change.roles_before)
    if change.action != "set_roles":
        return change
    kept = tuple(role for role in change.roles_after if role in change.roles_before)
    if kept == change.roles_before:
        return replace(change, action="unchanged", roles_after=change.roles_before)
    if not kept:
        return replace(change, action="deactivate", reason="no_confirmed_role", roles_after=change.roles_before)
    return replace(change, roles_after=kept)
