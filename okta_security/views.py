"""Flask-AppBuilder views: start the Okta sign-in and finish it, refusing with a clear page."""

from __future__ import annotations

import logging
from typing import Any

import jwt
from flask import g, redirect, request, session, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.utils import generate_random_string
from flask_login import login_user

from airflow.providers.fab.auth_manager.views.auth_oauth import CustomAuthOAuthView
from okta_security.errors import LoginRefused
from okta_security.pages import refusal_page
from okta_security.provider import PROVIDER_NAME
from okta_security.redirects import safe_next

log = logging.getLogger(__name__)


def _airflow_redirect(url: str) -> Any:
    """Redirect, minting Airflow's API token cookie for the now logged-in user (Airflow 3)."""
    try:
        from airflow.providers.fab.www.views import redirect as airflow_redirect
    except ImportError:  # Airflow 2: the session cookie alone authenticates the UI
        return redirect(url)
    return airflow_redirect(url)


class OktaAuthOAuthView(CustomAuthOAuthView):
    """OAuth view whose Okta path verifies state first and syncs roles from the mapping file."""

    @expose("/login/")
    @expose("/login/<provider>")
    def login(self, provider: str | None = None) -> Any:
        """Send the browser to Okta (there is one provider, so no chooser page)."""
        sm = self.appbuilder.sm
        if g.user is not None and g.user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_index)
        if provider is None:
            return redirect(url_for(".login", provider=PROVIDER_NAME, **request.args.to_dict()))
        if provider != PROVIDER_NAME:
            return super().login(provider)
        random_state = generate_random_string()
        state = jwt.encode(request.args.to_dict(flat=False), random_state, algorithm="HS256")
        session["oauth_state"] = random_state
        try:
            scope = sm.okta_authorize_scope()
        except LoginRefused as e:
            return self._refuse(e)
        return sm.oauth_remotes[provider].authorize_redirect(
            redirect_uri=url_for(".oauth_authorized", provider=provider, _external=True),
            state=state,
            scope=scope,
        )

    @expose("/oauth-authorized/<provider>")
    def oauth_authorized(self, provider: str) -> Any:
        """Finish the sign-in: nothing touches the database before state is verified."""
        if provider != PROVIDER_NAME:
            return super().oauth_authorized(provider)
        sm = self.appbuilder.sm
        fab_state = self._decode_fab_state()
        try:
            user, identity = sm.okta_complete_login(request.args, fab_state is not None)
        except LoginRefused as e:
            return self._refuse(e)
        session.pop("oauth_state", None)
        sm._rotate_session_id()
        login_user(user)
        sm.update_user_auth_stat(user)
        g.user = user
        session.modified = True
        log.info("Okta login of %s (sub %s) succeeded", identity.username, identity.sub)
        default = self.appbuilder.get_url_for_index
        nxt = (fab_state or {}).get("next") or [None]
        return _airflow_redirect(safe_next(nxt[0], default))

    def _decode_fab_state(self) -> dict[str, Any] | None:
        try:
            return jwt.decode(request.args.get("state", ""), session.get("oauth_state", ""), algorithms=["HS256"])
        except jwt.InvalidTokenError:
            return None

    def _refuse(self, error: LoginRefused) -> Any:
        session.pop("oauth_state", None)
        log.warning("Okta login refused (%s): %s", error.code, error.message)
        html, status = refusal_page(error, retry_url=url_for(".login", provider=PROVIDER_NAME))
        return html, status
