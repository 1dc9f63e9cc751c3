"""HTTP client for the slice of Okta's Management API okta_security reads: a user's groups.

Every call has connect and read timeouts. HTTP 429 waits until ``X-Rate-Limit-Reset`` (measured
against Okta's own ``Date`` header, so a skewed local clock does not matter), connection errors
and 5xx get a short backoff; both are bounded by a retry count and by a wait budget per operation.
Paging follows ``Link: <…>; rel="next"`` as parsed by requests (cursors are never built by hand)
and only ever to Okta's own host. Failures raise :class:`OktaApiUnavailable` (try again later) or
:class:`OktaApiRejected` (fix the configuration), both carrying Okta's ``X-Okta-Request-Id``.
Credentials never appear in a log line or an error message.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

import requests

from okta_security import __version__
from okta_security.errors import OktaSecurityError
from okta_security.okta_api import observe
from okta_security.settings.specs import OktaSettings
from okta_security.untrusted import GROUP_NAME_CHARS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)


class OktaApiError(OktaSecurityError, code="okta_api_error"):
    """A Management API call failed; carries Okta's status, error code and request id (never a token)."""

    def __init__(
        self, message: str, *, status: int | None = None, okta_code: str | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message + (f" (Okta request id {request_id})" if request_id else ""))
        self.message, self.status, self.okta_code, self.request_id = message, status, okta_code, request_id


class OktaApiUnavailable(OktaApiError, code="okta_api_unavailable"):
    """Okta did not answer usefully: timeout, connection error, 5xx, or 429 past the wait budget."""


class OktaApiRejected(OktaApiError, code="okta_api_rejected"):
    """Okta refused the call (4xx) or answered something unusable: retrying will not help."""


_E = TypeVar("_E", OktaApiRejected, OktaApiUnavailable)

PAGE_LIMIT = 200  # Okta's maximum page size for /api/v1/users/{id}/groups
MAX_PAGES = 100  # 20,000 of a user's groups: past this the paging is going round in circles
BACKOFF_SECONDS = 0.5  # first pause after a connection error or 5xx; doubles with each retry
MIN_RATE_LIMIT_WAIT_SECONDS = 0.2  # when X-Rate-Limit-Reset is already due
DEFAULT_RATE_LIMIT_WAIT_SECONDS = 1.0  # a 429 without a usable X-Rate-Limit-Reset
LOW_REMAINING_FRACTION = 0.1  # warn when under 10 % of the rate-limit window is left
USER_AGENT = f"okta-security/{__version__} python-requests/{requests.__version__}"

# What to do about the errors an admin meets while setting the API up (keyed by Okta's error code).
HINTS = {
    "E0000011": "check OKTA_API_TOKEN (Okta Admin Console: Security → API → Tokens)",
    "E0000006": "grant the service app the okta.users.read scope and an admin role that may read users and groups",
    "E0000007": "the user is not in this Okta org — OKTA_ISSUER must name the org the API credentials belong to",
    "invalid_client": "check OKTA_API_CLIENT_ID, that the service app uses public key / private key client "
    "authentication, and that OKTA_API_PRIVATE_KEY is a key registered on it (as a JWK, with its kid)",
    "invalid_scope": "grant okta.users.read and okta.groups.read on the service app's Okta API Scopes tab",
    "invalid_dpop_proof": "turn off 'Require Demonstrating Proof of Possession (DPoP)' on the service app",
    "unauthorized_client": "allow the Client Credentials grant on the service app",
}


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts and retry bounds for every call to Okta's Management API (defaults: the settings')."""

    connect_timeout: float = OktaSettings.http_timeout_seconds
    read_timeout: float = OktaSettings.http_timeout_seconds
    max_retries: int = 2  # retries after a 429, a 5xx or a connection error, within max_wait
    max_wait: float = OktaSettings.api_max_wait_seconds  # seconds one operation (a user's groups) may sleep


class WaitBudget:
    """The seconds an operation may still spend sleeping before it gives up."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    def take(self, seconds: float) -> bool:
        """Spend ``seconds`` if that many are left; return whether they were."""
        if seconds > self.left:
            return False
        self.left -= seconds
        return True


class Authorizer(Protocol):
    """Produces the ``Authorization`` header value for Management API calls."""

    can_refresh: bool  # whether a 401 is worth one retry with a fresh credential

    def authorization(self, http: OktaHttp, budget: WaitBudget) -> str:
        """Return the header value (e.g. ``SSWS …`` or ``Bearer …``)."""
        ...

    def invalidate(self) -> None:
        """Forget a cached credential that Okta has just refused."""
        ...


class OktaHttp:
    """A requests session that applies :class:`HttpPolicy` and turns failures into typed errors."""

    def __init__(
        self,
        policy: HttpPolicy,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self._session = observe.watch(session or requests.Session())  # metrics and health see every call
        self._session.headers["User-Agent"] = USER_AGENT
        self._sleep = sleep
        self._clock = clock

    def send(self, method: str, url: str, *, what: str, budget: WaitBudget, **kwargs: Any) -> requests.Response:
        """Send one request, retrying within the policy; return a 2xx response or raise."""
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        attempt = 0
        while True:
            try:
                resp = self._session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
            except requests.ReadTimeout as e:
                # Not retried: a login would wait read_timeout again, and a slow Okta stays slow.
                raise OktaApiUnavailable(f"{what}: Okta did not answer within {timeout[1]:g} s") from e
            except requests.ConnectionError as e:  # includes ConnectTimeout
                if self._pause(attempt, self._backoff(attempt), budget):
                    attempt += 1
                    continue
                raise OktaApiUnavailable(
                    f"{what}: cannot reach {urlsplit(url).netloc} ({type(e).__name__}) after {attempt + 1} attempt(s)"
                ) from e
            except requests.RequestException as e:
                raise OktaApiUnavailable(f"{what}: request failed ({type(e).__name__})") from e
            status = resp.status_code
            if status != 429:  # a 429 says it louder below
                self._watch_rate_limit(resp, what)
            if status == 429:
                wait = self._rate_limit_wait(resp)
                if self._pause(attempt, wait, budget):
                    log.warning("%s: rate-limited by Okta (HTTP 429); retrying in %.1f s", what, wait)
                    attempt += 1
                    continue
                raise _error(OktaApiUnavailable, resp, what, f"rate-limited by Okta for {wait:.0f} more second(s)")
            if status >= 500:
                if self._pause(attempt, self._backoff(attempt), budget):
                    log.warning("%s: Okta answered HTTP %s; retrying", what, status)
                    attempt += 1
                    continue
                raise _error(OktaApiUnavailable, resp, what, f"Okta answered HTTP {status}")
            if status >= 300:
                raise _error(OktaApiRejected, resp, what, f"Okta answered HTTP {status}")
            return resp

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def _backoff(self, attempt: int) -> float:
        return BACKOFF_SECONDS * 2.0**attempt

    def _pause(self, attempt: int, seconds: float, budget: WaitBudget) -> bool:
        if attempt >= self.policy.max_retries or not budget.take(seconds):
            return False
        self._sleep(seconds)
        return True

    def _rate_limit_wait(self, resp: requests.Response) -> float:
        reset = _number(resp.headers.get("X-Rate-Limit-Reset"))
        if reset is None:
            return DEFAULT_RATE_LIMIT_WAIT_SECONDS
        now = _http_date(resp.headers.get("Date"))
        return max(reset - (now if now is not None else self._clock()), MIN_RATE_LIMIT_WAIT_SECONDS)

    @staticmethod
    def _watch_rate_limit(resp: requests.Response, what: str) -> None:
        limit = _number(resp.headers.get("X-Rate-Limit-Limit"))
        remaining = _number(resp.headers.get("X-Rate-Limit-Remaining"))
        if limit and remaining is not None and remaining <= limit * LOW_REMAINING_FRACTION:
            log.warning(
                "%s: Okta rate limit running low: X-Rate-Limit-Remaining=%d of %d (resets at %s)",
                what,
                remaining,
                limit,
                resp.headers.get("X-Rate-Limit-Reset", "?"),
            )


class OktaApiClient:
    """Read users' groups from ``{org}/api/v1`` with an :class:`Authorizer`."""

    def __init__(self, org_url: str, auth: Authorizer, http: OktaHttp) -> None:
        self.org_url = org_url.rstrip("/")
        self.auth = auth
        self.http = http
        self._origin = _origin(self.org_url)

    def user_groups(self, user_id: str) -> list[dict[str, Any]]:
        """Return every group object of the Okta user ``user_id`` (all pages)."""
        url = f"{self.org_url}/api/v1/users/{quote(user_id, safe='')}/groups"
        pages = self.pages(url, None, f"reading the groups of Okta user {user_id}")
        return [group for page in pages for group in page]

    def user_status(self, user_id: str) -> str:
        """Return Okta's status of user ``user_id`` now (``DELETED`` when Okta does not know it): one call."""
        url = f"{self.org_url}/api/v1/users/{quote(user_id, safe='')}"
        what = f"reading the status of Okta user {user_id}"
        try:
            resp = self._get(url, None, what, WaitBudget(self.http.policy.max_wait))
        except OktaApiRejected as e:
            if e.status == 404:
                return "DELETED"
            raise
        user = _json(resp, what)
        status = user.get("status") if isinstance(user, dict) else None
        if not isinstance(status, str) or not status.isalpha() or len(status) > 32:
            raise _error(OktaApiRejected, resp, what, "Okta's answer has no usable status")
        return status

    def pages(
        self,
        url: str,
        params: dict[str, Any] | None,
        what: str,
        *,
        max_pages: int = MAX_PAGES,
        wait_per_page: float | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page (its JSON objects) of ``GET url``, following ``Link: <...>; rel="next"``.

        The wait budget is ``policy.max_wait`` for the whole listing, or ``wait_per_page`` for each page.
        """
        budget = WaitBudget(self.http.policy.max_wait if wait_per_page is None else wait_per_page)
        query: dict[str, Any] | None = {"limit": PAGE_LIMIT, **(params or {})}
        seen = {url}
        for _ in range(max_pages):
            if wait_per_page is not None:
                budget = WaitBudget(wait_per_page)
            resp = self._get(url, query, what, budget)
            page = _json(resp, what)
            if not isinstance(page, list):
                raise _error(OktaApiRejected, resp, what, "Okta's answer is not a list")
            yield [item for item in page if isinstance(item, dict)]
            next_url = resp.links.get("next", {}).get("url")
            if not next_url:
                return
            if _origin(next_url) != self._origin:
                # Never send the API credential anywhere but Okta.
                raise _error(OktaApiRejected, resp, what, f"the next-page link leaves {self._origin}")
            if next_url in seen:
                raise _error(OktaApiRejected, resp, what, "the next-page link repeats an earlier page")
            seen.add(next_url)
            url, query = next_url, None
        raise OktaApiRejected(f"{what}: more than {max_pages} pages; stopped")

    def user_group_names(self, user_id: str) -> tuple[str, ...]:
        """Return the names (``profile.name``) of the user's groups, in Okta's order."""
        names = []
        for group in self.user_groups(user_id):
            name = (group.get("profile") or {}).get("name")
            if isinstance(name, str) and 0 < len(name) <= GROUP_NAME_CHARS:
                names.append(name)
            else:
                log.warning("Okta group %s of user %s has no usable profile.name; ignored", group.get("id"), user_id)
        return tuple(dict.fromkeys(names))

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()

    def _get(self, url: str, params: dict[str, Any] | None, what: str, budget: WaitBudget) -> requests.Response:
        retried = False
        while True:
            headers = {"Authorization": self.auth.authorization(self.http, budget), "Accept": "application/json"}
            try:
                return self.http.send("GET", url, what=what, budget=budget, params=params, headers=headers)
            except OktaApiRejected as e:
                # A cached access token may have been revoked or expired early: one fresh try.
                if e.status != 401 or not self.auth.can_refresh or retried:
                    raise
                log.info("%s: Okta refused the cached access token; fetching a new one", what)
                self.auth.invalidate()
                retried = True


def _error(cls: type[_E], resp: requests.Response, what: str, problem: str) -> _E:
    """Return ``cls`` describing ``resp``: status, Okta's error code and summary, a hint, the request id."""
    code, summary = _okta_error(resp)
    text = f"{what}: {problem}"
    if code or summary:
        text += f" ({': '.join(p for p in (code, summary) if p)})"
    if code in HINTS:
        text += f" — {HINTS[code]}"
    return cls(text, status=resp.status_code, okta_code=code, request_id=resp.headers.get("X-Okta-Request-Id"))


def _okta_error(resp: requests.Response) -> tuple[str | None, str]:
    """Return (error code, summary) from a Management API or OAuth error body."""
    try:
        body = resp.json()
    except ValueError:
        return None, ""
    if not isinstance(body, dict):
        return None, ""
    code = body.get("errorCode") or body.get("error")
    summary = body.get("errorSummary") or body.get("error_description") or ""
    return (str(code) if code else None), str(summary)[:300]


def _json(resp: requests.Response, what: str) -> Any:
    try:
        return resp.json()
    except ValueError as e:
        raise _error(OktaApiRejected, resp, what, "Okta's answer is not JSON") from e


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _number(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
