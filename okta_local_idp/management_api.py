"""The slice of Okta's Management API the relying party uses (``/api/v1/users``)."""

from __future__ import annotations

import hmac
import logging
import secrets
import string
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import scope_to_list
from flask import Blueprint, Response, g, jsonify, request

from .context import IdpContext, current_idp
from .models import Group, User, okta_id
from .org_server import org_access_token

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 200
USERS_READ_SCOPE = "okta.users.read"  # what an OAuth access token needs for the /users endpoints
MAX_LIMIT = 200
_CREATED = "2024-01-01T00:00:00.000Z"
EVERYONE_DESCRIPTION = "All users in your organization"  # the profile of Okta's built-in Everyone group

blueprint = Blueprint("management_api", __name__, url_prefix="/api/v1")


def _okta_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _error(status: int, code: str, summary: str) -> tuple[Response, int]:
    """Return an Okta Management API error body."""
    body = {
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": "oae" + secrets.token_urlsafe(16)[:19],
        "errorCauses": [],
    }
    return jsonify(body), status


def _insufficient_scope(idp: IdpContext, scope: str) -> tuple[Response, int]:
    """Return Okta's 403 for an OAuth access token without the endpoint's scope."""
    response, status = _error(403, "E0000006", "You do not have permission to perform the requested action")
    response.headers["WWW-Authenticate"] = (
        f'Bearer authorization_uri="{idp.base_url}/oauth2/v1/authorize", realm="IdpError", scope="{scope}", '
        'error="insufficient_scope", error_description="The access token provided does not contain the required '
        f'scopes.", resource="{request.path}"'
    )
    return response, status


@blueprint.before_request
def _authenticate_and_count() -> tuple[Response, int] | None:
    """Apply faults and the rate limit, then require ``SSWS <api token>`` or an org-server ``Bearer`` token."""
    idp = current_idp()
    delay_ms = idp.fault("api_delay_ms")
    if delay_ms:
        time.sleep(delay_ms / 1000)
    limit = idp.config.server.api_rate_limit
    bucket = request.url_rule.rule if request.url_rule else request.path
    allowed, remaining, reset = idp.store.rate_limiter.hit(bucket, limit)
    g.okta_rate = (limit, remaining, reset)
    forced = idp.api_fault_status()
    if forced == 429:
        g.okta_rate = (limit, 0, int(time.time()) + int(idp.fault("api_rate_limit_reset_in", 1)))
    if not allowed or forced == 429:
        return _error(429, "E0000047", "API call exceeded rate limit due to too many requests.")
    if forced is not None:
        return _error(forced, "E0000009", "Internal Server Error")
    expected = idp.config.server.api_token
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Bearer":
        token = org_access_token(idp, presented.strip())
        if token is None:
            return _error(401, "E0000011", "Invalid token provided")
        if USERS_READ_SCOPE not in (scope_to_list(token.scope) or []):
            return _insufficient_scope(idp, USERS_READ_SCOPE)
        return None
    if (
        expected is None
        or scheme != "SSWS"
        or not hmac.compare_digest(presented.strip().encode("utf-8"), expected.encode("utf-8"))
    ):
        return _error(401, "E0000011", "Invalid token provided")
    return None


def okta_request_id() -> str:
    """Return an id shaped like Okta's (27 letters and digits; never starts with '-' as token_urlsafe can)."""
    return "".join(secrets.choice(_REQUEST_ID_ALPHABET) for _ in range(27))


_REQUEST_ID_ALPHABET = string.ascii_letters + string.digits


@blueprint.after_request
def _okta_headers(response: Response) -> Response:
    """Add Okta's rate-limit and request-id headers to every answer."""
    limit, remaining, reset = g.get("okta_rate", (0, 0, int(time.time())))
    response.headers["X-Rate-Limit-Limit"] = str(limit)
    response.headers["X-Rate-Limit-Remaining"] = str(remaining)
    response.headers["X-Rate-Limit-Reset"] = str(reset)
    response.headers["X-Okta-Request-Id"] = okta_request_id()
    return response


def _find_user(idp: IdpContext, user_key: str) -> User | None:
    return idp.config.find_user(user_key)


def _user_not_found(user_key: str) -> tuple[Response, int]:
    return _error(404, "E0000007", f"Not found: Resource not found: {user_key} (User)")


def user_object(idp: IdpContext, user: User) -> dict[str, Any]:
    """Return ``user`` as an Okta user object."""
    updated = _okta_time(user.updated_at) if user.updated_at else _CREATED
    return {
        "id": user.id,
        "status": user.status,
        "created": _CREATED,
        "activated": _CREATED if user.status != "STAGED" else None,
        "statusChanged": updated,
        "lastLogin": None,
        "lastUpdated": updated,
        "passwordChanged": _CREATED,
        "type": {"id": okta_id("oty", "user-type:default")},
        "profile": {
            "firstName": user.given_name or None,
            "lastName": user.family_name or None,
            "mobilePhone": None,
            "secondEmail": None,
            "login": user.login,
            "email": user.email,
        },
        "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": f"{idp.base_url}/api/v1/users/{user.id}"}},
    }


def group_object(idp: IdpContext, group: Group) -> dict[str, Any]:
    """Return ``group`` as an Okta group object."""
    href = f"{idp.base_url}/api/v1/groups/{group.id}"
    return {
        "id": group.id,
        "created": _CREATED,
        "lastUpdated": _CREATED,
        "lastMembershipUpdated": _okta_time(group.membership_updated_at) if group.membership_updated_at else _CREATED,
        "objectClass": ["okta:user_group"],
        "type": group.type,
        "profile": {"name": group.name, "description": _group_description(group)},
        "_links": {
            "logo": [
                {"name": "medium", "href": f"{idp.base_url}/img/logos/groups/okta-medium.png", "type": "image/png"},
                {"name": "large", "href": f"{idp.base_url}/img/logos/groups/okta-large.png", "type": "image/png"},
            ],
            "users": {"href": f"{href}/users"},
            "apps": {"href": f"{href}/apps"},
        },
    }


def _group_description(group: Group) -> str | None:
    if group.type == "BUILT_IN":
        return EVERYONE_DESCRIPTION
    return group.description or None


def _page_limit() -> int:
    raw = request.args.get("limit")
    try:
        value = int(raw) if raw is not None else DEFAULT_LIMIT
    except ValueError:
        return DEFAULT_LIMIT
    return min(value, MAX_LIMIT) if value > 0 else DEFAULT_LIMIT


@blueprint.get("/users/<user_key>")
def get_user(user_key: str) -> Response | tuple[Response, int]:
    """Return one user by id or login."""
    idp = current_idp()
    user = _find_user(idp, user_key)
    if user is None:
        return _user_not_found(user_key)
    return jsonify(user_object(idp, user))


@blueprint.get("/users/<user_key>/groups")
def list_user_groups(user_key: str) -> Response | tuple[Response, int]:
    """Return one page of the user's groups, ordered by id, with Link headers."""
    idp = current_idp()
    user = _find_user(idp, user_key)
    if user is None:
        return _user_not_found(user_key)
    limit = _page_limit()
    after = request.args.get("after")
    groups = sorted(idp.config.user_groups(user), key=lambda group: group.id)
    if after:
        groups = [group for group in groups if group.id > after]
    page = groups[:limit]
    response = jsonify([group_object(idp, group) for group in page])

    path = f"{idp.base_url}/api/v1/users/{user_key}/groups"
    self_params = {"limit": limit} if after is None else {"after": after, "limit": limit}
    response.headers.add("Link", f'<{path}?{urlencode(self_params)}>; rel="self"')
    if len(groups) > limit:
        next_params = {"after": page[-1].id, "limit": limit}
        response.headers.add("Link", f'<{path}?{urlencode(next_params)}>; rel="next"')
    return response
