"""Watch each HTTP exchange with Okta — which endpoint, the status, how long — for metrics and health.

Code that calls Okta installs :func:`response_hook` on its ``requests`` session (the Management
API client does; the adapter does for authlib's token and userinfo calls and the signing-key
fetch). Observers registered with :func:`add_observer` (the adapter's metrics and health) get one
:class:`OktaCall` per response. With no observer nothing happens; an observer that raises is
logged and ignored, so watching never breaks a call. Only the endpoint's kind is passed on, never
the URL (it may carry a user id) or any header.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from okta_security.listeners import Listeners

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OktaCall:
    """One answered request to Okta."""

    endpoint: str  # one of ENDPOINTS' names, or "other"
    status: int
    seconds: float  # from sending the request to parsing the answer's headers
    at: float  # when it was answered (time.time())


Observer = Callable[[OktaCall], None]

# (path test, endpoint name), first match wins. Org and custom authorization servers share the tails.
ENDPOINTS: tuple[tuple[Callable[[str], bool], str], ...] = (
    (lambda p: "/.well-known/" in p, "discovery"),
    (lambda p: p.endswith("/v1/keys"), "jwks"),
    (lambda p: p.endswith("/v1/token"), "token"),
    (lambda p: p.endswith("/v1/userinfo"), "userinfo"),
    (lambda p: p.endswith("/v1/introspect"), "introspect"),
    (lambda p: p.endswith("/v1/device/authorize"), "device_authorize"),
    (lambda p: p.startswith("/api/v1/users/") and p.endswith("/groups"), "groups_api"),
    (lambda p: p.startswith("/api/v1/users"), "users_api"),
    (lambda p: p.startswith("/api/v1/"), "management_api"),
)

_observers: Listeners[OktaCall] = Listeners()
add_observer = _observers.add  # pass every later Okta call to an observer, by name (again: replaces it)
remove_observer = _observers.remove  # stop passing calls to the observer added as ``name``


def endpoint_of(url: str) -> str:
    """Return the kind of Okta endpoint ``url`` is (bounded set of names, never the URL itself)."""
    path = urlsplit(url).path.rstrip("/")
    return next((name for matches, name in ENDPOINTS if matches(path)), "other")


def response_hook(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Report one response to every observer (a ``requests`` response hook)."""
    if _observers:  # watching must never break (nor, unwatched, slow) a call to Okta
        call = OktaCall(endpoint_of(resp.url), resp.status_code, resp.elapsed.total_seconds(), time.time())
        _observers.tell(call, lambda name, e: log.exception("The observer %s of Okta calls failed", name))


# For one-off calls: ``requests.get(url, hooks=HOOKS)``.
HOOKS: dict[str, Any] = {"response": [response_hook]}


def watch(session: requests.Session) -> requests.Session:
    """Install :func:`response_hook` on ``session`` (once); return it."""
    hooks = session.hooks.setdefault("response", [])
    if response_hook not in hooks:
        hooks.append(response_hook)
    return session
