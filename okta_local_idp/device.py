"""Okta's Device Authorization Grant (RFC 8628): ``/v1/device/authorize``, ``/activate``, token polling.

A native app without a browser (a CLI) asks for a device code and a user code, shows the person
``{base}/activate`` and the user code, and polls ``/v1/token`` until the person, signed in at the
IdP, approves or denies it there. Okta serves the activation page at the org, not under the
authorization server; tokens come from the custom authorization server (user access tokens with
``uid``, ``cid``, ``scp`` and ``sub`` = login, an ID token with ``openid``, a refresh token only
with ``offline_access``).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import InvalidRequestError, UnauthorizedClientError, scope_to_list
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant
from flask import Blueprint, Response, redirect, render_template, request, session, url_for

from .context import AUTH_SERVER_PATH, current_idp
from .device_store import MAX_CODE_INPUT, normalize_user_code
from .models import DEVICE_CODE_GRANT_TYPE
from .oauth import OktaAuthorizationServer, OktaOpenIDToken, OktaWordedError
from .views import SIGN_IN_FAILED, check_credentials, error_page, sign_in, signed_in_user

if TYPE_CHECKING:
    from authlib.oauth2.rfc6749 import OAuth2Request
    from flask import Flask
    from werkzeug.wrappers import Response as BaseResponse

    from .context import IdpContext
    from .device_store import DeviceAuthorization, PollOutcome
    from .models import Client, SignedInUser

log = logging.getLogger(__name__)

ACTIVATE_PATH = "/activate"
DEVICE_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"]  # native apps: usually none
MAX_DEVICE_CODE = 256  # longer is not a device code this IdP issued
ACTIVATE_LOOKUPS_PER_MINUTE = 20  # user-code guesses a signed-in person may make (codes are 8 of 20 letters)
_CSRF_KEY = "activate_csrf"

# The token endpoint's answers to a poll that yields no token. Okta documents the pending wording.
AUTHORIZATION_PENDING = "The device authorization is pending. Please try again later."
SLOW_DOWN = "The client is polling too frequently. Wait at least 'interval' seconds between requests."
ACCESS_DENIED = "The resource owner or authorization server denied the request."
EXPIRED_TOKEN = "The device code has expired."
INVALID_DEVICE_CODE = "The device code is invalid or has expired."
MISSING_DEVICE_CODE = "The 'device_code' parameter is required."
_POLL_ERRORS: dict[PollOutcome, tuple[str, str]] = {
    "pending": ("authorization_pending", AUTHORIZATION_PENDING),
    "slow_down": ("slow_down", SLOW_DOWN),
    "denied": ("access_denied", ACCESS_DENIED),
    "expired": ("expired_token", EXPIRED_TOKEN),
    "invalid": ("invalid_grant", INVALID_DEVICE_CODE),
}

# What the activation page says.
INVALID_USER_CODE = "Invalid code. Try again."  # unknown, expired, already used, or not 8 letters
TOO_MANY_ATTEMPTS = "Too many attempts. Wait a minute, then try again."

blueprint = Blueprint("device", __name__)


def _poll_error(outcome: PollOutcome) -> OktaWordedError:
    error, description = _POLL_ERRORS[outcome]
    return OktaWordedError(error=error, description=description)


# -- the authorization server's parts ---------------------------------------------------------


class OktaDeviceAuthorizationEndpoint(DeviceAuthorizationEndpoint):
    """``POST {issuer}/v1/device/authorize``: device code, user code, where to enter it."""

    CLIENT_AUTH_METHODS = DEVICE_AUTH_METHODS

    def create_endpoint_response(self, request: OAuth2Request) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Authenticate the client, check it may use the grant and the scope, then issue the codes."""
        client: Client = self.authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
            raise UnauthorizedClientError()
        self.server.validate_requested_scope(request.payload.scope)
        idp: IdpContext = self.server._idp
        settings = idp.config.server
        item = idp.store.devices.issue(
            client.client_id,
            client.get_allowed_scope(request.payload.scope),
            settings.device_code_lifetime,
            settings.device_poll_interval,
        )
        verification_uri = idp.base_url + ACTIVATE_PATH
        log.info("device authorization issued to %s for %s", client.client_id, item.scope)
        body = {
            "device_code": item.device_code,
            "user_code": item.user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": f"{verification_uri}?{urlencode({'user_code': item.user_code})}",
            "expires_in": settings.device_code_lifetime,
            "interval": settings.device_poll_interval,
        }
        return 200, body, default_json_headers


class OktaDeviceCodeGrant(DeviceCodeGrant):
    """``grant_type=urn:ietf:params:oauth:grant-type:device_code`` at ``/v1/token``."""

    TOKEN_ENDPOINT_AUTH_METHODS = DEVICE_AUTH_METHODS

    def validate_token_request(self) -> None:
        """Answer a poll: a token for an approved code (once), else Okta's error for where it stands."""
        idp: IdpContext = self.server._idp
        client: Client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError()
        device_code = self.request.payload.data.get("device_code")
        if not device_code:
            raise InvalidRequestError(MISSING_DEVICE_CODE)
        if len(device_code) > MAX_DEVICE_CODE:
            raise _poll_error("invalid")
        outcome, item = idp.store.devices.poll(device_code, client.client_id)
        if outcome != "approved" or item is None:
            raise _poll_error(outcome)
        user = idp.config.find_user(item.user_id)
        if user is None or not user.is_active:  # deactivated between approval and this poll
            raise _poll_error("invalid")
        log.info("device code of %s redeemed for user %s", client.client_id, user.id)
        self.request.user = user
        self.request.client = client
        self.request.credential = item


class OktaOpenIDDevice(OktaOpenIDToken):
    """ID tokens for the device grant; ``auth_time`` is when the approving person signed in."""

    def get_compatible_claims(self, request: OAuth2Request) -> dict[str, Any]:
        """Return the base ID token claims with the approver's ``auth_time``."""
        claims: dict[str, Any] = super().get_compatible_claims(request)
        credential: DeviceAuthorization | None = request.credential
        if credential is not None and credential.auth_time is not None:
            claims["auth_time"] = credential.auth_time
        return claims


def init_device(app: Flask, idp: IdpContext) -> None:
    """Add the device authorization endpoint and grant to ``idp``'s server; serve ``/activate``."""
    server = idp.authorization_server
    assert isinstance(server, OktaAuthorizationServer), "init_oauth must run first"
    server.register_endpoint(OktaDeviceAuthorizationEndpoint)
    server.register_grant(OktaDeviceCodeGrant, [OktaOpenIDDevice(idp)])
    app.register_blueprint(blueprint)


# -- HTTP ----------------------------------------------------------------------------------------


@blueprint.post(f"{AUTH_SERVER_PATH}/v1/device/authorize")
def device_authorize() -> Response:
    """Start a device authorization (RFC 8628 §3.1)."""
    server = current_idp().authorization_server
    assert server is not None
    return server.create_endpoint_response(OktaDeviceAuthorizationEndpoint.ENDPOINT_NAME)


def _typed_code() -> str:
    """Return the user code as sent (query or form), cut just past the longest a code may be typed."""
    return request.values.get("user_code", "").strip()[: MAX_CODE_INPUT + 1]


def _activate_url(typed: str) -> str:
    return url_for(".activate", user_code=typed) if typed else url_for(".activate")


def _sign_in_page(typed: str, error: str | None = None) -> tuple[str, int]:
    """Render the IdP's sign-in form, posting back here with the code kept."""
    page = render_template(
        "login.html",
        action=_activate_url(typed),
        error=error,
        username=request.form.get("username", ""),
        org_name="Okta",
    )
    return page, 200


def _code_page(
    signed_in: SignedInUser, typed: str = "", error: str | None = None, status: int = 200
) -> tuple[str, int]:
    """Render the "enter your code" form."""
    page = render_template("activate.html", stage="code", user=signed_in.user, typed=typed, error=error)
    return page, status


def _csrf_token() -> str:
    token = session.get(_CSRF_KEY)
    if not isinstance(token, str):
        token = session[_CSRF_KEY] = secrets.token_urlsafe(24)
    return token


def _csrf_ok() -> bool:
    expected, given = session.get(_CSRF_KEY), request.form.get("csrf_token", "")
    return isinstance(expected, str) and hmac.compare_digest(expected.encode(), given.encode())


@blueprint.route(ACTIVATE_PATH, methods=["GET", "POST"])
def activate() -> BaseResponse | tuple[str, int]:
    """Let a signed-in person enter a user code, see which app asks, and approve or deny it."""
    idp = current_idp()
    typed = _typed_code()
    if request.method == "POST" and "username" in request.form:
        user = check_credentials(idp)
        if user is None:
            return _sign_in_page(typed, error=SIGN_IN_FAILED)
        sign_in(idp, user)
        return redirect(_activate_url(typed), code=303)

    signed_in = signed_in_user(idp)
    if signed_in is None:
        return _sign_in_page(typed)
    if not typed:
        return _code_page(signed_in)
    allowed, _, _ = idp.store.rate_limiter.hit(f"activate:{signed_in.user.id}", ACTIVATE_LOOKUPS_PER_MINUTE)
    if not allowed:
        return _code_page(signed_in, typed, TOO_MANY_ATTEMPTS, 429)
    code = normalize_user_code(typed)
    item = idp.store.devices.find_pending(code) if code else None
    client = idp.config.client(item.client_id) if item else None
    if code is None or item is None or client is None:
        return _code_page(signed_in, typed, INVALID_USER_CODE, 400)

    if request.method == "POST" and "decision" in request.form:
        return _decide(idp, signed_in, client, code)
    return render_template(
        "activate.html",
        stage="consent",
        user=signed_in.user,
        app_name=client.name or client.client_id,
        user_code=code,
        scopes=scope_to_list(item.scope) or [],
        csrf_token=_csrf_token(),
    ), 200


def _decide(idp: IdpContext, signed_in: SignedInUser, client: Client, code: str) -> tuple[str, int]:
    """Record the person's Allow or Deny and say what happens next."""
    choice = request.form.get("decision")
    if choice not in ("allow", "deny"):
        return error_page("The 'decision' must be 'allow' or 'deny'.", error_code="invalid_request")
    if not _csrf_ok():
        return error_page("The form has expired. Enter the code again.", status=403, error_code="invalid_request")
    decided = idp.store.devices.decide(
        code, "approved" if choice == "allow" else "denied", signed_in.user.id, signed_in.auth_time
    )
    if decided is None:  # expired or decided elsewhere while the page was open
        return _code_page(signed_in, code, INVALID_USER_CODE, 400)
    log.info("device authorization of %s %s by user %s", client.client_id, decided.decision, signed_in.user.id)
    page = render_template(
        "activate.html",
        stage="done",
        user=signed_in.user,
        app_name=client.name or client.client_id,
        approved=decided.decision == "approved",
    )
    return page, 200
