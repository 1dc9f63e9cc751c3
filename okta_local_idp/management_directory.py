"""Management API list, lifecycle and membership endpoints, and event hook administration.

Routes are added to :data:`management_api.blueprint` (SSWS auth, rate limits, Okta headers) and
:data:`admin_api.blueprint` (loopback-only ``/__idp``); import this module before the app
registers them (server.py does). Shapes follow Okta's Users, Groups, Apps and Event Hooks APIs:

- ``GET /api/v1/users`` (``search``, ``filter``, ``q``, ``limit``, ``after``; DEPROVISIONED users
  only when the expression asks for them), ``GET /api/v1/groups``, ``GET /api/v1/groups/{id}/users``
  — cursor paging with ``Link: <…>; rel="next"``;
- ``POST /api/v1/users/{id}/lifecycle/{deactivate|suspend|unsuspend|activate}``,
  ``DELETE /api/v1/users/{id}`` (deactivates first, deletes a deactivated user),
  ``PUT|DELETE /api/v1/groups/{gid}/users/{uid}``, ``POST|DELETE /api/v1/apps/{app}/users[/{uid}]``
  — each publishes the System Log event Okta would, to the verified event hooks;
- ``GET /api/v1/eventHooks``, ``POST /api/v1/eventHooks/{id}/lifecycle/verify``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from flask import Response, jsonify, request

from . import admin_api, event_hooks
from .context import current_idp
from .directory import SearchError, group_index, parse_search, search_ids
from .event_hooks import system_log_event, user_target
from .management_api import _error, _page_limit, _user_not_found, blueprint, group_object, user_object

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .context import IdpContext
    from .models import EventHook, Group, User

log = logging.getLogger(__name__)

T = TypeVar("T")


def _paged(items: Sequence[T], path: str, key: Callable[[T], str], render: Callable[[T], Any]) -> Response:
    """Return one page of ``items`` (sorted by ``key``) with Okta's ``Link`` headers."""
    limit = _page_limit()
    after = request.args.get("after")
    if after:
        items = [item for item in items if key(item) > after]
    page = items[:limit]
    response = jsonify([render(item) for item in page])
    base = {k: v for k, v in request.args.items() if k not in ("after", "limit")}
    self_params = {**base, "limit": limit, **({"after": after} if after else {})}
    response.headers.add("Link", f'<{path}?{urlencode(self_params)}>; rel="self"')
    if len(items) > limit:
        response.headers.add(
            "Link", f'<{path}?{urlencode({**base, "after": key(page[-1]), "limit": limit})}>; rel="next"'
        )
    return response


def _bad_search(exc: Exception) -> tuple[Response, int]:
    return _error(400, "E0000031", f"Invalid search criteria. {exc}")


# --------------------------------------------------------------------------- listings


@blueprint.get("/users")
def list_users() -> Response | tuple[Response, int]:
    """List users ordered by id; ``search``/``filter`` match any status, else DEPROVISIONED ones are left out."""
    idp = current_idp()
    users: list[User] = sorted(idp.config.users, key=lambda u: u.id)
    expression = request.args.get("search") or request.args.get("filter")
    if expression:
        ids = search_ids(expression)
        if ids is not None:  # `id eq … or id eq …`: a set lookup, not a scan per clause
            users = [u for u in users if u.id in ids]
        else:
            try:
                predicate = parse_search(expression)
                users = [u for u in users if predicate(u)]
            except SearchError as exc:
                return _bad_search(exc)
    else:
        users = [u for u in users if u.status != "DEPROVISIONED"]  # Okta: "all users that aren't DEPROVISIONED"
        query = (request.args.get("q") or "").casefold()
        if query:
            users = [
                u
                for u in users
                if any(v.casefold().startswith(query) for v in (u.login, u.email, u.given_name, u.family_name))
            ]
    return _paged(users, f"{idp.base_url}/api/v1/users", lambda u: u.id, lambda u: user_object(idp, u))


@blueprint.get("/groups")
def list_groups() -> Response:
    """List groups ordered by id (``q``: name prefix)."""
    idp = current_idp()
    groups = group_index(idp.config).sorted
    query = (request.args.get("q") or "").casefold()
    if query:
        groups = [g for g in groups if g.name.casefold().startswith(query)]
    return _paged(groups, f"{idp.base_url}/api/v1/groups", lambda g: g.id, lambda g: group_object(idp, g))


def _group_not_found(group_id: str) -> tuple[Response, int]:
    return _error(404, "E0000007", f"Not found: Resource not found: {group_id} (UserGroup)")


@blueprint.get("/groups/<group_id>")
def get_group(group_id: str) -> Response | tuple[Response, int]:
    """Return one group."""
    idp = current_idp()
    group = group_index(idp.config).by_id.get(group_id)
    return jsonify(group_object(idp, group)) if group else _group_not_found(group_id)


@blueprint.get("/groups/<group_id>/users")
def list_group_users(group_id: str) -> Response | tuple[Response, int]:
    """List a group's members ordered by id."""
    idp = current_idp()
    index = group_index(idp.config)
    group = index.by_id.get(group_id)
    if group is None:
        return _group_not_found(group_id)
    path = f"{idp.base_url}/api/v1/groups/{group_id}/users"
    return _paged(index.members(group), path, lambda u: u.id, lambda u: user_object(idp, u))


# --------------------------------------------------------------------------- lifecycle


def _transition(idp: IdpContext, user: User, status: str, event_type: str) -> None:
    idp.store.directory.set_status(user, status)
    log.info("user %s is now %s", user.login, status)
    event_hooks.publish(idp, [system_log_event(idp, event_type, [user_target(user)])])


_LIFECYCLE: dict[str, tuple[frozenset[str], str, str]] = {
    # operation: (statuses it applies to, new status, System Log event)
    "deactivate": (
        frozenset({"STAGED", "PROVISIONED", "ACTIVE", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT", "SUSPENDED"}),
        "DEPROVISIONED",
        "user.lifecycle.deactivate",
    ),
    "suspend": (frozenset({"ACTIVE"}), "SUSPENDED", "user.lifecycle.suspend"),
    "unsuspend": (frozenset({"SUSPENDED"}), "ACTIVE", "user.lifecycle.unsuspend"),
    "activate": (frozenset({"STAGED", "PROVISIONED", "DEPROVISIONED"}), "ACTIVE", "user.lifecycle.activate"),
}


@blueprint.post("/users/<user_key>/lifecycle/<operation>")
def user_lifecycle(user_key: str, operation: str) -> Response | tuple[Response, int]:
    """Change a user's status like Okta's lifecycle operations, publishing the event."""
    idp = current_idp()
    user = idp.config.find_user(user_key)
    if user is None:
        return _user_not_found(user_key)
    if operation not in _LIFECYCLE:
        return _error(404, "E0000022", f"The endpoint does not support the provided HTTP method: {operation}")
    allowed, new_status, event_type = _LIFECYCLE[operation]
    if user.status not in allowed:
        return _error(400, "E0000001", f"Api validation failed: {operation}: the user's status is {user.status}")
    _transition(idp, user, new_status, event_type)
    return jsonify({})


@blueprint.delete("/users/<user_key>")
def delete_user(user_key: str) -> Response | tuple[Response, int]:
    """Deactivate an active user; delete a deactivated one (Okta's two-step delete)."""
    idp = current_idp()
    user = idp.config.find_user(user_key)
    if user is None:
        return _user_not_found(user_key)
    if user.status != "DEPROVISIONED":
        _transition(idp, user, "DEPROVISIONED", "user.lifecycle.deactivate")
    else:
        event = system_log_event(idp, "user.lifecycle.delete.initiated", [user_target(user)])
        idp.store.directory.delete(user)
        event_hooks.publish(idp, [event])
    return Response(status=204)


# --------------------------------------------------------------------------- memberships


def _membership(group_id: str, user_id: str) -> tuple[IdpContext, Group, User] | tuple[Response, int]:
    idp = current_idp()
    group = group_index(idp.config).by_id.get(group_id)
    if group is None:
        return _group_not_found(group_id)
    user = idp.config.find_user(user_id)
    if user is None:
        return _user_not_found(user_id)
    return idp, group, user


def _group_target(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "type": "UserGroup",
        "alternateId": "unknown",
        "displayName": group.name,
        "detailEntry": None,
    }


@blueprint.put("/groups/<group_id>/users/<user_id>")
def add_group_member(group_id: str, user_id: str) -> Response | tuple[Response, int]:
    """Add a user to a group."""
    found = _membership(group_id, user_id)
    if len(found) == 2:
        return found
    idp, group, user = found
    if group.name not in user.groups:
        idp.store.directory.set_groups(user, (*user.groups, group.name))
        event = system_log_event(idp, "group.user_membership.add", [user_target(user), _group_target(group)])
        event_hooks.publish(idp, [event])
    return Response(status=204)


@blueprint.delete("/groups/<group_id>/users/<user_id>")
def remove_group_member(group_id: str, user_id: str) -> Response | tuple[Response, int]:
    """Remove a user from a group."""
    found = _membership(group_id, user_id)
    if len(found) == 2:
        return found
    idp, group, user = found
    if group.name in user.groups:
        idp.store.directory.set_groups(user, tuple(g for g in user.groups if g != group.name))
        event = system_log_event(idp, "group.user_membership.remove", [user_target(user), _group_target(group)])
        event_hooks.publish(idp, [event])
    return Response(status=204)


def _app_target(idp: IdpContext, app_id: str) -> dict[str, Any] | None:
    client = idp.config.client(app_id)
    if client is None:
        return None
    return {
        "id": client.client_id,
        "type": "AppInstance",
        "alternateId": client.name or client.client_id,
        "displayName": "OpenID Connect Client",
        "detailEntry": None,
    }


@blueprint.delete("/apps/<app_id>/users/<user_id>")
def unassign_app_user(app_id: str, user_id: str) -> Response | tuple[Response, int]:
    """Unassign a user from an app: publishes ``application.user_membership.remove``.

    Assignments are otherwise modelled by group only: a client's ``assigned_groups`` (none: everyone).
    """
    idp = current_idp()
    target, user = _app_target(idp, app_id), idp.config.find_user(user_id)
    if target is None:
        return _error(404, "E0000007", f"Not found: Resource not found: {app_id} (AppInstance)")
    if user is None:
        return _user_not_found(user_id)
    event = system_log_event(idp, "application.user_membership.remove", [user_target(user, "AppUser"), target])
    event_hooks.publish(idp, [event])
    return Response(status=204)


# --------------------------------------------------------------------------- event hooks


def _hook_object(idp: IdpContext, hook: EventHook) -> dict[str, Any]:
    verified = event_hooks.state_of(idp).verified(hook)
    return {
        "id": hook.id,
        "status": "ACTIVE",
        "verificationStatus": "VERIFIED" if verified else "UNVERIFIED",
        "name": hook.name,
        "events": {"type": "EVENT_TYPE", "items": list(hook.events)},
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {"uri": hook.url, "headers": [], "authScheme": {"type": "HEADER", "key": "Authorization"}},
        },
    }


@blueprint.get("/eventHooks")
def list_event_hooks() -> Response:
    """List the configured event hooks."""
    idp = current_idp()
    return jsonify([_hook_object(idp, hook) for hook in idp.config.event_hooks])


@blueprint.post("/eventHooks/<hook_id>/lifecycle/verify")
def verify_event_hook(hook_id: str) -> Response | tuple[Response, int]:
    """Send the verification challenge to the hook; only verified hooks receive events."""
    idp = current_idp()
    hook = next((h for h in idp.config.event_hooks if h.id == hook_id), None)
    if hook is None:
        return _error(404, "E0000007", f"Not found: Resource not found: {hook_id} (EventHook)")
    ok, detail = event_hooks.verify(idp, hook)
    if not ok:
        return _error(400, "E0000001", f"Api validation failed: Verification of the event hook failed ({detail})")
    return jsonify(_hook_object(idp, hook))


@admin_api.blueprint.get("/event-hooks/deliveries")
def list_deliveries() -> Response:
    """Return every delivery and its attempts (``?wait=1`` waits for pending ones first)."""
    state = event_hooks.state_of(current_idp())
    if request.args.get("wait"):
        state.wait()
    return jsonify(state.snapshot())


@admin_api.blueprint.post("/event-hooks/redeliver")
def redeliver() -> Response | tuple[Response, int]:
    """Deliver a recorded body again (``{"event_id": …}``, default the last one): at-least-once."""
    idp = current_idp()
    state = event_hooks.state_of(idp)
    deliveries = state.snapshot()
    wanted = (request.get_json(silent=True) or {}).get("event_id")
    chosen = next((d for d in reversed(deliveries) if wanted in (None, d["event_id"])), None)
    hook = next((h for h in idp.config.event_hooks if chosen and h.name == chosen["hook"]), None)
    if chosen is None or hook is None:
        return jsonify({"error": "no such delivery"}), 404
    event_hooks.deliver_async(idp, hook, chosen["body"])
    return jsonify({"redelivered": chosen["event_id"]})


@admin_api.blueprint.post("/event-hooks/reset")
def reset_event_hooks() -> Response:
    """Mark every hook unverified again and drop the delivery records (after pending ones finish)."""
    state = event_hooks.state_of(current_idp())
    state.wait()
    state.reset()
    return jsonify({"reset": True})


@admin_api.blueprint.post("/directory/reset")
def reset_directory() -> Response:
    """Forget runtime lifecycle and membership changes (back to the YAML file)."""
    current_idp().store.directory.reset()
    return jsonify({"reset": True})
