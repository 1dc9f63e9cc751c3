"""``OktaFabAuthManager``: Airflow 3's FAB auth manager that also takes Okta tokens from bots and people.

``[core] auth_manager = okta_security.auth_manager.OktaFabAuthManager``. ``POST /auth/token`` (and
``/auth/token/cli``) also accepts an Okta access token, as the jwt-bearer grant or as
``Authorization: Bearer``, and answers with an Airflow JWT that expires with it: a client-credentials
token acts as the client's service user (docs/bots.md), a person's token from an app in
``OKTA_CLI_CLIENT_ID`` as that person (docs/people-api.md). Anything else goes to FAB's password check.
"""

from __future__ import annotations

import contextvars
import logging
import time
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urljoin

from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.routing import Mount

from okta_security import health
from okta_security.adapter import agents, event_hook_view, step_up, token_endpoint
from okta_security.adapter.request_body import FlaskMountLimit
from okta_security.adapter.security_manager import TokenDoors, token_doors
from okta_security.adapter.universal_logout import ISSUED_AT_CLAIM, SIGN_OUTS, SIGNED_OUT_MESSAGE
from okta_security.errors import BotRefused, ConfigError, LoginRefused, SignedOut
from okta_security.login.bearer import bearer_token, request_facts
from okta_security.login.doors import ApiLoginAuditFields, audit_exchange
from okta_security.people.person_tokens import looks_like_person_token
from okta_security.people.token_request import (
    ACCESS_TOKEN_TYPE,
    TokenRequest,
    TokenRequestInvalid,
    read_token_request,
)
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from airflow.providers.fab.auth_manager.models import User

    from okta_security.mapping.step_up import StepUp


log = logging.getLogger(__name__)

VIA = "POST /auth/token"
# okta_security's Flask logout view (okta_security.adapter.views), mounted with FAB's views under
# <base url path>/auth; relative to the base URL, which may carry a path (https://host/airflow/).
OKTA_LOGOUT_PATH = "auth/okta/logout/"
# (user id, Okta token exp) of the bot or person whose token FAB's login service is about to mint:
# the next generate_jwt() call in the same request caps the Airflow token's lifetime at the Okta token's.
_TOKEN_EXPIRY = contextvars.ContextVar[tuple[int, int] | None]("okta_token_expiry", default=None)
# (user id, epoch) until which the person's token exchanged in this request carries step-up evidence.
_STEP_UP_UNTIL = contextvars.ContextVar[tuple[int, int] | None]("okta_step_up_until", default=None)
# (user id, agent, grant) of the person an AI agent acts for in this request: the token carries ``act``.
_DELEGATION = contextvars.ContextVar[tuple[int, str, str] | None]("okta_delegation", default=None)


class OktaFabAuthManager(FabAuthManager):
    """FAB auth manager whose token endpoint also exchanges Okta client-credentials tokens (bots)."""

    def create_token(self, headers: dict[str, str], body: dict[str, Any]) -> User | None:
        """Return the user a token request authenticates: a person, a bot's service user, or FAB's password check."""
        _TOKEN_EXPIRY.set(None)
        _STEP_UP_UNTIL.set(None)
        _DELEGATION.set(None)
        try:
            request = read_token_request(body, bearer_token(headers))
        except TokenRequestInvalid as e:
            raise token_endpoint.refusal(e, standard=True) from e
        if request.kind == "password" or request.token is None:
            return super().create_token(headers=headers, body=body)
        token = request.token
        sm = _token_doors(self.security_manager)
        facts = request_facts(headers)
        if request.kind in ("id_jag", "token_exchange"):
            return self._act_for_person(sm, request, facts)
        if looks_like_person_token(token):  # chooses the checks only; each path verifies the token in full
            try:
                person = sm.okta_people.admit(token, ApiLoginAuditFields(via=VIA, context=tuple(sorted(facts.items()))))
            except (BotRefused, LoginRefused) as e:
                raise token_endpoint.refusal(e, standard=request.standard) from e
            if SIGN_OUTS.began_before(person.user, person.token.issued_at, whole_seconds=True):
                # Okta's Universal Logout came after this Okta token: it must not mint a fresh Airflow token.
                raise token_endpoint.refusal(SignedOut(SIGNED_OUT_MESSAGE), standard=request.standard)
            _TOKEN_EXPIRY.set((person.user.id, person.token.expires_at))
            if person.step_up.until is not None:
                _STEP_UP_UNTIL.set((person.user.id, person.step_up.until))
            token_endpoint.note_withheld(person.step_up, self._step_up())
            return person.user
        try:
            login = sm.okta_bots.admit(token, via=VIA, facts=facts)
        except BotRefused as e:
            raise token_endpoint.refusal(e, standard=request.standard) from e
        audit_exchange(login, via=VIA, **facts)
        _TOKEN_EXPIRY.set((login.user.id, login.token.expires_at))
        log.info(
            "Okta client %s exchanged a token (jti %s) as %s with roles %s%s",
            loggable(login.grant.client_id),
            loggable(login.token.jti),
            loggable(login.username),
            sorted(login.grant.roles),
            " (service user created)" if login.created else "",
        )
        return login.user

    def _act_for_person(self, sm: TokenDoors, request: TokenRequest, facts: dict[str, str]) -> User:
        """Return the person an AI agent acts for (an ID-JAG or a token exchange), with the token's limits noted."""
        fields = ApiLoginAuditFields(via=VIA, context=tuple(sorted(facts.items())))
        door = sm.okta_agents
        try:
            if request.kind == "id_jag":
                login = door.exchange_id_jag(request.token or "", fields)
            else:
                login = door.exchange_tokens(request.token or "", request.actor_token or "", fields)
        except (BotRefused, LoginRefused) as e:
            raise token_endpoint.refusal(e, standard=True) from e
        if SIGN_OUTS.began_before(login.user, login.issued_at, whole_seconds=True):
            raise token_endpoint.refusal(SignedOut(SIGNED_OUT_MESSAGE), standard=True)
        _TOKEN_EXPIRY.set((login.user.id, login.expires_at))
        _DELEGATION.set((login.user.id, login.agent, login.grant))
        token_endpoint.note_answer(
            roles=sorted(login.roles),
            **({"issued_token_type": ACCESS_TOKEN_TYPE} if request.kind == "token_exchange" else {}),
        )
        return login.user

    def generate_jwt(self, user: User, *, expiration_time_in_seconds: int | None = None) -> str:
        """Mint Airflow's JWT; one for an Okta token (a bot's or a person's) never outlives that token."""
        bound = _TOKEN_EXPIRY.get()
        _TOKEN_EXPIRY.set(None)
        delegation = agents.delegation_of(user)
        if delegation is not None:  # minted from a delegated token (POST /ui/auth/token): never outlives it
            bound = (user.id, delegation.expires_at or int(time.time()))
        if bound is not None and bound[0] == user.id:
            remaining = max(1, bound[1] - int(time.time()))
            if expiration_time_in_seconds is None or remaining < expiration_time_in_seconds:
                expiration_time_in_seconds = remaining
        if expiration_time_in_seconds is None:
            return super().generate_jwt(user)
        return super().generate_jwt(user, expiration_time_in_seconds=expiration_time_in_seconds)

    def serialize_user(self, user: User) -> dict[str, Any]:
        """Add to Airflow's JWT its issue time to the microsecond (Universal Logout compares it) and until
        when its sign-in's multi-factor evidence holds (step-up roles)."""
        claims = {**super().serialize_user(user), ISSUED_AT_CLAIM: time.time()}
        delegation = _DELEGATION.get()
        _DELEGATION.set(None)
        carried = agents.delegation_of(user)  # a token minted from a delegated one stays delegated
        if carried is not None:
            delegation = (user.id, carried.agent, carried.grant)
        if delegation is not None and delegation[0] == user.id:
            claims[agents.ACT_CLAIM] = {"sub": delegation[1]}  # RFC 8693 §4.1
            claims[agents.GRANT_CLAIM] = delegation[2]
        bound = _STEP_UP_UNTIL.get()
        _STEP_UP_UNTIL.set(None)
        until = bound[1] if bound is not None and bound[0] == user.id else step_up.browser_step_up_until()
        if until is not None:
            claims[step_up.JWT_CLAIM] = until
        return claims

    def deserialize_user(self, token: dict[str, Any]) -> User:  # type: ignore[override]  # FAB's is a cachedmethod
        """Return the token's user, without the step-up roles its evidence does not (or no longer) cover.

        A token issued before Okta's Universal Logout signed the person out is refused: Airflow answers
        a ValueError here as an invalid token (403); the account stays active.
        """
        agent = agents.note_delegation(token)  # noted before any check: a refused request is audited too
        user = super().deserialize_user(token)
        precise = token.get(ISSUED_AT_CLAIM)
        issued_at = precise if isinstance(precise, int | float) else token.get("iat")
        known = issued_at if isinstance(issued_at, int | float) else None
        if SIGN_OUTS.began_before(user, known, whole_seconds=precise is None):
            raise ValueError(
                f"Okta signed user {user.id} out everywhere (Universal Logout) after this token was issued"
            )
        if agent is not None:
            mapping = _token_doors(self.security_manager).okta_mapping.current()
            return cast("User", agents.delegated_user(user, agent, mapping, token, issued_at))
        limited = step_up.restricted(user, self._step_up(), token.get(step_up.JWT_CLAIM))
        if limited is None:
            return user
        return cast("User", step_up.StepUpView(user, limited[1], limited[0]))

    def _step_up(self) -> StepUp | None:
        mapping = getattr(self.security_manager, "okta_mapping", None)
        return mapping.current().step_up if mapping is not None else None

    def get_fastapi_middlewares(self) -> list[tuple[Any, dict[str, Any]]]:
        """Add the middleware that audits every request an AI agent makes for a person."""
        return [*super().get_fastapi_middlewares(), (agents.DelegatedRequestAudit, {})]

    def get_url_logout(self) -> str | None:
        """Send the UI's logout (``/api/v2/auth/logout``) to okta_security's view that also ends the Okta session."""
        return under_base_url(self.apiserver_endpoint, OKTA_LOGOUT_PATH)

    def get_fastapi_app(self) -> FastAPI | None:
        """Serve FAB's app, with ``/auth/logout`` (a FastAPI route that shadows Flask) ending the Okta session too."""
        app = super().get_fastapi_app()
        if app is None:
            return None

        logout_url = self.get_url_logout() or OKTA_LOGOUT_PATH

        async def logout() -> RedirectResponse:
            return RedirectResponse(logout_url, status_code=status.HTTP_307_TEMPORARY_REDIRECT)

        route = APIRoute("/logout", logout, methods=["GET"], include_in_schema=False)
        app.router.routes.insert(0, route)  # before FAB's own /logout, which only clears cookies
        for token_route in reversed(token_endpoint.token_routes()):  # before FAB's: JSON or form, RFC 6749 errors
            app.router.routes.insert(0, token_route)
        app.router.routes.insert(0, self._health_route())  # before FAB's Flask mount, which takes the rest
        _limit_flask_bodies(app)
        return app

    def _health_route(self) -> APIRoute:
        """Return ``GET /auth/okta/health``: okta_security's health, for callers who may read Airflow's config."""
        from airflow.api_fastapi.core_api.security import requires_access_configuration

        def okta_health() -> JSONResponse:
            flask_app: Any = self.flask_app  # FAB's Flask app, made by get_fastapi_app
            settings = store = jwks = None
            if flask_app is not None:
                with flask_app.app_context():
                    sm = flask_app.appbuilder.sm
                    settings, store, jwks = (
                        getattr(sm, n, None) for n in ("okta_settings", "okta_mapping", "okta_jwks")
                    )
            if settings is None or store is None or jwks is None:
                return JSONResponse(
                    {"status": "not_configured", "message": "okta_security's webserver_config.py is not installed"},
                    status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                )
            return JSONResponse(health.report(settings, store, jwks))

        return APIRoute(
            health.PATH,
            okta_health,
            methods=["GET"],
            dependencies=[Depends(requires_access_configuration("GET"))],
            include_in_schema=False,
        )


def under_base_url(base_url: str, path: str) -> str:
    """Return ``path`` under ``base_url``, keeping its path (``urljoin(base, "/auth/x")`` drops it)."""
    return urljoin(base_url.rstrip("/") + "/", path.lstrip("/"))


def _limit_flask_bodies(app: FastAPI) -> None:
    """Put FlaskMountLimit in front of FAB's Flask mount, which would read any body whole before Flask runs."""
    for route in app.router.routes:
        if isinstance(route, Mount) and route.path == "":  # FAB's app.mount("/", WSGIMiddleware(flask_app))
            route.app = FlaskMountLimit(route.app, event_hook_view.MAX_BODY_BYTES)  # the largest body we take


def _token_doors(sm: object) -> TokenDoors:
    try:
        return token_doors(sm)
    except ConfigError as e:
        log.error("OktaFabAuthManager needs okta_security's webserver_config.py ([fab] config_file): %s", e)
        raise HTTPException(
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
            detail={
                "error": "invalid_config",
                "message": "okta_security is not configured on this Airflow: install its webserver_config.py.",
            },
        ) from e
