"""Okta Event Hooks, the pure part: check the caller, read deliveries, decide what each event means.

Okta delivers System Log events as ``{"data": {"events": [...]}}`` POSTs, authenticated by a
static ``Authorization`` header, at least once and possibly out of order; a one-time GET with
``x-okta-verification-challenge`` proves the endpoint is ours. This module turns a delivery into
:class:`HookEvent` items, each with the effect it calls for; the Flask adapter
(:mod:`okta_security.adapter.event_hook_view`) answers at once and applies effects on a worker thread.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

VERIFICATION_HEADER = "x-okta-verification-challenge"
MAX_CHALLENGE_LENGTH = 512

Effect = Literal["deactivate", "recompute", "ignore"]

# Event type -> what it means for the Airflow account of the user it targets.
EFFECTS: Mapping[str, Effect] = {
    "user.lifecycle.deactivate": "deactivate",
    "user.lifecycle.suspend": "deactivate",
    "user.lifecycle.delete.initiated": "deactivate",
    "group.user_membership.remove": "recompute",
    "group.user_membership.add": "recompute",
    "application.user_membership.remove": "deactivate",  # only when the app is ours, see classify()
}
USER_TARGET_TYPES = frozenset({"User", "AppUser"})


class DeliveryError(ValueError):
    """The request body is not an Okta event hook delivery."""


@dataclass(frozen=True)
class HookEvent:
    """One System Log event from a delivery, reduced to what okta_security acts on."""

    uuid: str
    event_type: str
    published: str
    user_ids: tuple[str, ...]
    user_logins: tuple[str, ...]
    group_names: tuple[str, ...]
    effect: Effect
    ignored_because: str = ""


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


def parse_delivery(body: Any, *, client_id: str) -> list[HookEvent]:
    """Return the events of a delivery body, classified; raise DeliveryError if it is not one."""
    if not isinstance(body, Mapping):
        raise DeliveryError("the body is not a JSON object")
    data = body.get("data")
    events = data.get("events") if isinstance(data, Mapping) else None
    if not isinstance(events, list):
        raise DeliveryError("the body has no data.events list")
    return [classify(event, client_id=client_id) for event in events if isinstance(event, Mapping)]


def classify(event: Mapping[str, Any], *, client_id: str) -> HookEvent:
    """Reduce one System Log event to a :class:`HookEvent` with its effect."""
    targets = [t for t in event.get("target") or [] if isinstance(t, Mapping)]
    users = [t for t in targets if t.get("type") in USER_TARGET_TYPES and isinstance(t.get("id"), str)]
    groups = [str(t.get("displayName")) for t in targets if t.get("type") == "UserGroup" and t.get("displayName")]
    apps = [str(t.get("id")) for t in targets if t.get("type") == "AppInstance" and t.get("id")]
    event_type = str(event.get("eventType") or "")
    effect: Effect = EFFECTS.get(event_type, "ignore")
    why = "" if effect != "ignore" else "unhandled event type"
    if effect != "ignore" and not users:
        effect, why = "ignore", "no user target"
    if event_type == "application.user_membership.remove" and client_id not in apps:
        effect, why = "ignore", "another application"
    if event_type.startswith("group.user_membership.") and not groups:
        effect, why = "ignore", "no group target"
    uuid = event.get("uuid")
    return HookEvent(
        uuid=uuid if isinstance(uuid, str) and uuid else "",
        event_type=event_type,
        published=str(event.get("published") or ""),
        user_ids=tuple(str(u["id"]) for u in users),
        user_logins=tuple(str(u.get("alternateId") or "") for u in users),
        group_names=tuple(groups),
        effect=effect,
        ignored_because=why,
    )


def apply_membership(groups: frozenset[str], event: HookEvent) -> frozenset[str]:
    """Return ``groups`` after the membership change ``event`` describes."""
    if event.event_type == "group.user_membership.add":
        return groups | set(event.group_names)
    if event.event_type == "group.user_membership.remove":
        return groups - set(event.group_names)
    return groups
