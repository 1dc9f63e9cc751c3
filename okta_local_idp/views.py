"""HTTP endpoints of the ``/oauth2/default`` custom authorization server."""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError
from authlib.oauth2.rfc6750 import InsufficientScopeError
from flask import Blueprint, Response, jsonify, render_template, request, session, url_for

from .claims import userinfo_claims
from .context import AUTH_SERVER_PATH, IdpContext, current_idp
from .discovery import authorization_server_metadata, openid_configuration
from .misbehaviour import published_jwks
from .models import Client, SignedInUser, User
from .oauth import INVALID_ACCESS_TOKEN, OktaAuthorizationServer, oktaize

log = logging.getLogger(__name__)

SIGN_IN_FAILED = "Unable to sign in"
CODE_FAILED = "Your code doesn't match our records. Please try again."
_FORM_FIELDS = frozenset({"username", "password", "otp"})
# acr_values that ask for a second factor (Okta's authorize endpoint): any two factors, phishing-resistant.
TWO_FACTOR_ACRS = frozenset({"urn:okta:loa:2fa:any", "urn:okta:loa:2fa:any:ifpossible", "phr", "phrh"})
MULTI_FACTOR_AMR = ("pwd", "mfa", "otp")  # what Okta's ID token lists for a password and a one-time code
PENDING_CODE_KEY = "pending_otp"

blueprint = Blueprint("oidc", __name__, url_prefix=AUTH_SERVER_PATH)


def error_page(message: str, status: int = 400, error_code: str | None = None) -> tuple[str, int]:
    """Render Okta's HTML error page (used where a redirect would be unsafe)."""
    status_text = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}.get(status, "Error")
    body = render_template("error.html", status=status, status_text=status_text, message=message, error_code=error_code)
    return body, status


def _server(idp: IdpContext) -> OktaAuthorizationServer:
    assert isinstance(idp.authorization_server, OktaAuthorizationServer)
    return idp.authorization_server


def _admin_link(idp: IdpContext, client_id: str) -> str:
    return f"{idp.base_url}/admin/app/oidc_client/instance/{client_id}#tab-general"


# -- discovery and keys -----------------------------------------------------------


@blueprint.get("/.well-known/openid-configuration")
def openid_configuration_view() -> Response:
    """Serve the OpenID Provider metadata."""
    return jsonify(openid_configuration(current_idp()))


@blueprint.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata_view() -> Response:
    """Serve the RFC 8414 authorization server metadata."""
    return jsonify(authorization_server_metadata(current_idp()))


@blueprint.get("/v1/keys")
def keys_view() -> Response:
    """Serve the JWKS with the public signing key (key faults may change it)."""
    failing = current_idp().fault("jwks_status")
    if failing:
        response = jsonify({"errorCode": "E0000009", "errorSummary": "Internal Server Error", "errorCauses": []})
        response.status_code = int(failing)
        return response
    response = jsonify(published_jwks(current_idp()))
    response.headers["Cache-Control"] = "max-age=3600, must-revalidate"
    return response


# -- sign-in session ----------------------------------------------------------------


def signed_in_user(idp: IdpContext) -> SignedInUser | None:
    """Return the user of the live IdP session, if any."""
    live = idp.store.get_session(session.get("sid"))
    if live is None:
        return None
    user = idp.config.find_user(live.user_id)
    if user is None or not user.is_active:
        return None
    return SignedInUser(user=user, auth_time=live.auth_time, amr=live.amr)


def sign_in(idp: IdpContext, user: User, amr: tuple[str, ...] = ("pwd",)) -> SignedInUser:
    """Replace any IdP session with a new one for ``user``."""
    idp.store.close_session(session.get("sid"))
    session.clear()
    live = idp.store.open_session(user.id, int(time.time()) - idp.fault("sign_in_age_seconds", 0), amr)
    session["sid"] = live.sid
    return SignedInUser(user=user, auth_time=live.auth_time, amr=live.amr)


def check_credentials(idp: IdpContext) -> User | None:
    """Return the user if the posted username and password are right."""
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    user = idp.config.find_user(username)
    if user is None or not user.check_password(password) or not user.is_active:
        log.info("sign-in failed for username %r", username)
        return None
    log.info("user %s signed in", user.id)
    return user


def _this_request() -> str:
    """Return this authorize request's URL without the form's fields: where each sign-in step posts."""
    params = [(k, v) for k, v in request.values.items(multi=True) if k not in _FORM_FIELDS]
    return url_for(".authorize") + "?" + urlencode(params)


def _code_page(error: str | None = None) -> str:
    """Render the second step: a one-time code, shown here (a stand-in for Okta Verify or SMS) and typed back."""
    code = session.get(PENDING_CODE_KEY) or f"{secrets.randbelow(10**6):06d}"
    session[PENDING_CODE_KEY] = code
    return render_template("second_factor.html", action=_this_request(), error=error, code=code, org_name="Okta")


def second_factor(idp: IdpContext) -> SignedInUser | None:
    """Return the session upgraded to multi-factor if the posted code is the one shown; else None."""
    signed_in = signed_in_user(idp)
    expected = session.get(PENDING_CODE_KEY)
    if signed_in is None or not expected or not hmac.compare_digest(str(expected), request.form.get("otp", "")):
        return None
    log.info("user %s passed the second factor", signed_in.user.id)
    return sign_in(idp, signed_in.user, MULTI_FACTOR_AMR)  # auth_time: now, when the multi-factor sign-in ended


def _wants_two_factors() -> bool:
    return bool(TWO_FACTOR_ACRS.intersection(request.values.get("acr_values", "").split()))


def _too_old(signed_in: SignedInUser) -> bool:
    """Return whether ``max_age`` (seconds, OIDC Core 3.1.2.1) says the session's sign-in is too old."""
    raw = request.values.get("max_age", "")
    return raw.isdigit() and time.time() - signed_in.auth_time > int(raw)


def _login_page(error: str | None = None) -> str:
    """Render the sign-in form posting back to this authorize request."""
    action = _this_request()
    return render_template(
        "login.html",
        action=action,
        error=error,
        # OIDC Core 3.1.2.1: login_hint pre-fills the identifier, as Okta's sign-in widget does.
        username=request.form.get("username") or request.values.get("login_hint", "")[:256],
        org_name="Okta",
    )


# -- authorization endpoint -----------------------------------------------------------


def _known_client(idp: IdpContext) -> Client | tuple[str, int]:
    """Return the client of the request, or the error page Okta shows instead."""
    client = idp.config.client(request.values.get("client_id"))
    if client is None:
        return error_page("Invalid value for 'client_id' parameter.", error_code="invalid_client")
    redirect_uri = request.values.get("redirect_uri")
    if not redirect_uri or not client.check_redirect_uri(redirect_uri):
        return error_page(
            "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings: "
            + _admin_link(idp, client.client_id),
            error_code="invalid_request",
        )
    return client


def _authorize_error(server: OktaAuthorizationServer, error: OAuth2Error) -> Response | tuple[str, int]:
    """Redirect ``error`` to the client, or show it when there is no safe redirect."""
    if error.redirect_uri:
        return server.handle_error_response(None, error)
    oktaize(error)
    return error_page(error.description or error.error, error_code=error.error)


@blueprint.route("/v1/authorize", methods=["GET", "POST"])
def authorize() -> Response | tuple[str, int] | str:
    """Handle an authorization request: sign the user in, then redirect with a code."""
    idp = current_idp()
    return authorize_at(idp, _server(idp))


def authorize_at(idp: IdpContext, server: OktaAuthorizationServer) -> Response | tuple[str, int] | str:
    """Handle an authorization request at ``server`` (this custom server, or the org's): one IdP session for both."""
    client = _known_client(idp)
    if not isinstance(client, Client):
        return client

    signing_in = request.method == "POST" and "username" in request.form
    typing_code = request.method == "POST" and "otp" in request.form
    if signing_in:
        user = check_credentials(idp)
        if user is None:
            return _login_page(error=SIGN_IN_FAILED)
        signed_in: SignedInUser | None = sign_in(idp, user)
    elif typing_code:
        signed_in = second_factor(idp)
        if signed_in is None:
            return _code_page(error=CODE_FAILED) if signed_in_user(idp) else _login_page()
        session.pop(PENDING_CODE_KEY, None)
    else:
        signed_in = signed_in_user(idp)

    try:
        grant = server.get_consent_grant(end_user=signed_in)
    except OAuth2Error as error:
        return _authorize_error(server, error)

    fresh = signing_in or typing_code
    if signed_in is None or (grant.prompt == "login" and not fresh) or (_too_old(signed_in) and not fresh):
        return _login_page()
    if _wants_two_factors() and "mfa" not in signed_in.amr:
        return _code_page()  # step-up: the password alone does not satisfy acr_values
    if not client.is_assigned(signed_in.user):
        log.info("user %s is not assigned to %s", signed_in.user.id, client.client_id)
        unassigned = AccessDeniedError(redirect_uri=grant.redirect_uri, state=grant.request.payload.state)
        return _authorize_error(server, unassigned)
    return server.create_authorization_response(grant=grant, grant_user=signed_in)


# -- token, userinfo, revocation, introspection ---------------------------------------


@blueprint.post("/v1/token")
def token() -> Response:
    """Issue tokens (authorization_code, refresh_token, client_credentials)."""
    return _server(current_idp()).create_token_response()


@blueprint.post("/v1/revoke")
def revoke() -> Response:
    """Revoke an access or refresh token (RFC 7009)."""
    response = _server(current_idp()).create_endpoint_response("revocation")
    if response.status_code == 200:  # Okta answers a revocation with no content; authlib with "{}"
        response = Response(status=200, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
    return response


@blueprint.post("/v1/introspect")
def introspect() -> Response:
    """Describe a token (RFC 7662)."""
    return _server(current_idp()).create_endpoint_response("introspection")


def _bearer_error(status: int, error: str, description: str) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers["WWW-Authenticate"] = f'Bearer error="{error}", error_description="{description}"'
    return response


@blueprint.route("/v1/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    """Return the claims of the access token's user."""
    idp = current_idp()
    assert idp.resource_protector is not None
    try:
        token = idp.resource_protector.acquire_token(["openid"])
    except InsufficientScopeError:
        return _bearer_error(
            403, "insufficient_scope", "The access token must provide access to at least one of these scopes - openid"
        )
    except OAuth2Error:
        return _bearer_error(401, "invalid_token", INVALID_ACCESS_TOKEN)
    user = idp.config.find_user(token.user_id)
    if user is None:
        return _bearer_error(401, "invalid_token", INVALID_ACCESS_TOKEN)
    return jsonify(userinfo_claims(idp, user, token.scope))


# -- logout ----------------------------------------------------------------------------


@blueprint.route("/v1/logout", methods=["GET", "POST"])
def logout() -> Response | tuple[str, int] | str:
    """End the IdP session; redirect to a registered post-logout URI."""
    idp = current_idp()
    server = _server(idp)
    try:
        end_session = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        log.info("logout refused: %s", error.description)
        return error_page("The 'id_token_hint' parameter is invalid.", error_code="invalid_request")

    wanted = request.values.get("post_logout_redirect_uri")
    if wanted and end_session.redirect_uri is None:
        if end_session.client is None or end_session.id_token_claims is None:
            message = "The 'id_token_hint' parameter is required with 'post_logout_redirect_uri'."
        else:
            message = (
                "The 'post_logout_redirect_uri' parameter must be a Logout redirect URI in the client app settings: "
                + _admin_link(idp, end_session.client.client_id)
            )
        return error_page(message, error_code="invalid_request")

    response = server.create_endpoint_response("end_session", end_session)
    return response if response is not None else render_template("signed_out.html")
