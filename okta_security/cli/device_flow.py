"""The OAuth 2.0 Device Authorization Grant (RFC 8628) against one Okta authorization server.

:class:`DeviceFlow` asks Okta for a user code and polls its token endpoint as §3.4-3.5 say:
every ``interval`` seconds, whatever its size, 5 s more at each ``slow_down``, doubling the wait
when Okta does not answer; ``authorization_pending`` keeps waiting, ``access_denied`` and
``expired_token`` end it. Every answer is untrusted: a malformed one (missing fields, numbers no
clock can wait, JSON nested past the parser's limit) ends in one :class:`DeviceSignInFailed`,
and an endpoint that is not https:// (loopback excepted) is refused before anything is sent.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from okta_security.errors import OktaSecurityError
from okta_security.settings.kinds import is_loopback
from okta_security.untrusted import OAUTH_ERROR_CHARS, bounded, loggable

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)


class DeviceSignInFailed(OktaSecurityError, code="device_sign_in_failed"):
    """``okta-airflow login`` got no token; ``error`` is the OAuth code Okta or Airflow answered.

    ``access_denied`` and ``expired_token`` (RFC 8628 §3.5) are the person's to fix; ``unreachable``
    means Okta or Airflow did not answer.
    """

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = bounded(error, OAUTH_ERROR_CHARS)


DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 §3.4
DEFAULT_INTERVAL = 5  # RFC 8628 §3.2: when Okta names no interval
SLOW_DOWN_SECONDS = 5  # RFC 8628 §3.5: added to the interval at every slow_down
MAX_SECONDS = 2**31 - 1  # Okta's OpenAPI description types expires_in and interval as int32
URL_CHARS = 2048  # a longer verification URL is cut when printed (and never opened)
MAX_NETWORK_FAILURES = 3  # polls in a row that get no answer before giving up (each doubles the wait)
DEFAULT_TIMEOUT = 10.0
_OKTA_HINTS = {
    "invalid_client": "Okta does not know this client id: check --client-id (or OKTA_CLI_CLIENT_ID).",
    "unauthorized_client": "The Okta app may not use the device grant: in Okta, allow the app the Device "
    "Authorization grant type (a native app), and the access policy rule of the authorization server too.",
    "invalid_scope": "Okta's authorization server does not define a requested scope: check --scope, or define "
    "it on the server (and allow it in the access policy rule).",
    "access_denied": "Okta refused: you may not be assigned to the Okta app, or the access policy does not allow it.",
}


@dataclass(frozen=True)
class DeviceAuthorization:
    """What Okta answered to ``/v1/device/authorize`` (RFC 8628 §3.2)."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int


@dataclass
class DeviceFlow:
    """RFC 8628 against one Okta authorization server, with the clock and the sleep injectable."""

    http: requests.Session
    issuer: str
    client_id: str
    scope: str
    timeout: float = DEFAULT_TIMEOUT
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    endpoints: dict[str, str] = field(default_factory=dict)

    def start(self) -> DeviceAuthorization:
        """Ask Okta for a device code and a user code."""
        response = self._post(self._endpoint("device_authorization_endpoint"), {"scope": self.scope}, "Okta")
        body = json_object(response, "Okta's device authorization endpoint")
        if response.status_code != 200:
            raise okta_refusal(body, response.status_code, "start the sign-in")
        return _device_authorization(body, self.issuer)

    def wait(self, device: DeviceAuthorization) -> dict[str, Any]:
        """Poll until the person approves; return Okta's token response, or raise DeviceSignInFailed."""
        interval = max(device.interval, 1)
        if interval > device.expires_in:
            raise DeviceSignInFailed(
                "invalid_response",
                f"Okta asks to wait {interval} s between checks but the code expires in {device.expires_in} s, so "
                "the sign-in could never finish: check the device grant settings of the authorization server in Okta.",
            )
        deadline = self.clock() + device.expires_in
        failures = 0
        data = {"grant_type": DEVICE_CODE_GRANT, "device_code": device.device_code}
        while True:
            self.sleep(interval)
            if self.clock() >= deadline:
                raise _expired()
            try:
                response = self.http.post(
                    self._endpoint("token_endpoint"), data={**data, "client_id": self.client_id}, timeout=self.timeout
                )
            except requests.RequestException as e:
                failures += 1
                if failures >= MAX_NETWORK_FAILURES:
                    raise DeviceSignInFailed(
                        "unreachable", f"Okta stopped answering while waiting for your approval ({type(e).__name__})."
                    ) from e
                interval *= 2  # RFC 8628 §3.5: back off on timeouts
                continue
            failures = 0
            body = json_object(response, "Okta's token endpoint")
            if response.status_code == 200:
                return _access_token_response(body)
            error = body.get("error")
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += SLOW_DOWN_SECONDS
                log.debug("Okta asked to slow down: polling every %s s", interval)
                continue
            if error == "access_denied":
                raise DeviceSignInFailed(
                    "access_denied", "The sign-in was denied at Okta (Deny was chosen on the activation page)."
                )
            if error == "expired_token":
                raise _expired()
            raise okta_refusal(body, response.status_code, "finish the sign-in")

    def _endpoint(self, name: str) -> str:
        if not self.endpoints:
            self.endpoints = self._discover()
        return self.endpoints[name]

    def _discover(self) -> dict[str, str]:
        """Return the device authorization and token endpoints (discovery, else Okta's fixed paths)."""
        found: dict[str, Any] = {}
        try:
            response = self.http.get(f"{self.issuer}/.well-known/openid-configuration", timeout=self.timeout)
            if response.ok:
                found = json_object(response, "Okta's discovery document")
        except requests.RequestException as e:
            raise DeviceSignInFailed(
                "unreachable", f"Okta at {self.issuer} is not answering ({type(e).__name__}). Check --issuer."
            ) from e
        if found and found.get("issuer") not in (None, self.issuer):
            raise DeviceSignInFailed(
                "issuer_mismatch",
                f"{self.issuer} describes itself as issuer {bounded(found.get('issuer'), 200)!r}: pass that as --issuer.",
            )
        defaults = {
            "device_authorization_endpoint": f"{self.issuer}/v1/device/authorize",
            "token_endpoint": f"{self.issuer}/v1/token",
        }
        endpoints = {k: v if isinstance(v := found.get(k), str) and v else default for k, default in defaults.items()}
        for name, url in endpoints.items():
            if insecure(url):
                raise DeviceSignInFailed(
                    "insecure_endpoint",
                    f"Okta's discovery document names {name} {loggable(url, URL_CHARS)!r}, not an https:// URL: "
                    "the sign-in would travel in clear text. Check --issuer.",
                )
        return endpoints

    def _post(self, url: str, data: dict[str, str], whom: str) -> requests.Response:
        try:
            return self.http.post(url, data={**data, "client_id": self.client_id}, timeout=self.timeout)
        except requests.RequestException as e:
            raise DeviceSignInFailed("unreachable", f"{whom} at {url} is not answering ({type(e).__name__}).") from e


def _expired() -> DeviceSignInFailed:
    return DeviceSignInFailed(
        "expired_token", "The code expired before the sign-in was approved. Run okta-airflow login again."
    )


def json_object(response: requests.Response, whom: str) -> dict[str, Any]:
    """Return the JSON object answered ({} for any other body: error pages are often HTML)."""
    try:
        body = response.json()
    except RecursionError as e:  # arrays nested past the parser's recursion limit: hostile, or broken
        raise DeviceSignInFailed(
            "invalid_response", f"{whom} answered HTTP {response.status_code} with JSON nested too deeply to read."
        ) from e
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _device_authorization(body: dict[str, Any], issuer: str) -> DeviceAuthorization:
    """Return Okta's device authorization answer (RFC 8628 §3.2), or raise naming what is malformed."""
    fields: dict[str, str] = {}
    for name in ("device_code", "user_code", "verification_uri"):
        if not isinstance(value := body.get(name), str) or not value:
            raise DeviceSignInFailed(
                "invalid_response", f"Okta's device authorization answer lacks {name!r}; is {issuer} an Okta issuer?"
            )
        fields[name] = value
    complete = body.get("verification_uri_complete")
    return DeviceAuthorization(
        device_code=fields["device_code"],
        user_code=fields["user_code"],
        verification_uri=fields["verification_uri"],
        verification_uri_complete=complete if isinstance(complete, str) and complete else None,
        expires_in=_seconds(body, "expires_in", 600),
        interval=_seconds(body, "interval", DEFAULT_INTERVAL),
    )


def _seconds(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    # bool is an int to Python, not to JSON; NaN and 1e400 parse to floats no sleep can take
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= MAX_SECONDS:
        return math.ceil(value)
    raise DeviceSignInFailed(
        "invalid_response",
        f"Okta's device authorization answer has {name} {loggable(repr(value), 40)}, not a number of seconds "
        f"(0 to {MAX_SECONDS}).",
    )


def _access_token_response(body: dict[str, Any]) -> dict[str, Any]:
    token = body.get("access_token")
    if isinstance(token, str) and token:
        return body
    raise DeviceSignInFailed(
        "invalid_response", "Okta's token endpoint answered HTTP 200 without an access_token (RFC 6749 §5.1)."
    )


def okta_refusal(body: dict[str, Any], status: int, doing: str) -> DeviceSignInFailed:
    error = bounded(body.get("error") or f"http_{status}", OAUTH_ERROR_CHARS)
    description = loggable(body.get("error_description") or "")
    hint = _OKTA_HINTS.get(error, "")
    text = f"Okta refused to {doing}: {loggable(error)}" + (f": {description}" if description else "")
    return DeviceSignInFailed(error, text + (f" — {hint}" if hint else ""))


def insecure(url: str) -> bool:
    """Return whether a token sent to ``url`` could be read on the way: anything but https, or http to loopback."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return True
    if not host:
        return True
    return not (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host)))
