"""Flask-AppBuilder views: start the Okta sign-in and finish it, refusing with a clear page."""

from __future__ import annotations

import logging
from typing import Any

import jwt
from flask import g, redirect, request, session, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.utils import generate_random_string
from flask_login import login_user, logout_user

from okta_security.adapter import login_audit, metrics
from okta_security.adapter.compat import login_redirect, oauth_view_base
from okta_security.adapter.pages import refusal_page
from okta_security.adapter.sessions import ID_TOKEN_KEY, remember_id_token, start_fresh_session
from okta_security.errors import LoginRefused
from okta_security.login.outcome import LoginFacts
from okta_security.oidc.provider import PROVIDER_NAME
from okta_security.oidc.redirects import safe_next
from okta_security.untrusted import bounded_params, loggable

log = logging.getLogger(__name__)

def clear_auth_cookies(response: Any) -> None:
    """Delete Flask's session cookie and Airflow 3's ``_token`` API cookie."""
    from flask import current_app

    path = current_app.config.get("SESSION_COOKIE_PATH") or "/"
    response.delete_cookie(current_app.config.get("SESSION_COOKIE_NAME", "session"), path=path)
    response.delete_cookie("_token", path=path)
    if path != "/":
        response.delete_cookie("_token", path="/")


class OktaAuthOAuthView(oauth_view_base()):  # type: ignore[misc]  # Airflow 3 and 2.11 (see compat)
    """OAuth view whose Okta path verifies state first and syncs roles from the mapping file."""

    @expose("/login/")
    @expose("/login/<provider>")
    def login(self, provider: str | None = None) -> Any:
        """Send the browser to Okta (there is one provider, so no chooser page)."""
        sm = self.appbuilder.sm
        if g.user is not None and g.user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_index)
        if provider is None:
            query: dict[str, Any] = request.args.to_dict()
            return redirect(url_for(".login", provider=PROVIDER_NAME, **query))
        if provider != PROVIDER_NAME:
            return super().login(provider)
        random_state = generate_random_string()
        state = jwt.encode(request.args.to_dict(flat=False), random_state, algorithm="HS256")
        session["oauth_state"] = random_state
        try:
            scope = sm.okta_authorize_scope()
        except LoginRefused as e:
            return self._refuse(e)
        # prompt=login only: the refusal page's "Sign in with another account" when Okta can't log out.
        prompt = {"prompt": "login"} if request.args.get("prompt") == "login" else {}
        return sm.oauth_remotes[provider].authorize_redirect(
            redirect_uri=url_for(".oauth_authorized", provider=provider, _external=True),
            state=state,
            scope=scope,
            **prompt,
        )

    @expose("/oauth-authorized/<provider>")
    @metrics.timed_callback
    def oauth_authorized(self, provider: str) -> Any:
        """Finish the sign-in: nothing touches the database before state is verified."""
        if provider != PROVIDER_NAME:
            return super().oauth_authorized(provider)
        sm = self.appbuilder.sm
        fab_state = self._decode_fab_state()
        # Every parameter cut to what it can legitimately be before anything reads, logs or audits it.
        outcome = sm.okta_complete_login(bounded_params(request.args), fab_state is not None)
        user, identity = outcome.user, outcome.identity
        if outcome.refusal is not None or user is None or identity is None:
            return self._refuse(outcome.refusal or LoginRefused("The sign-in failed."), outcome.facts, outcome.id_token)
        start_fresh_session(session)  # no pre-login session data survives the login (fixation)
        remember_id_token(session, outcome.id_token)
        login_user(user)  # okta_complete_login counted the login (update_user_auth_stat) with the role sync
        g.user = user
        session.modified = True
        log.info("Okta login of %s (sub %s) succeeded", identity.username, identity.sub)
        login_audit.login_succeeded(outcome.facts, user.username, identity, [r.name for r in user.roles])
        default = self.appbuilder.get_url_for_index
        nxt = (fab_state or {}).get("next") or [None]
        return login_redirect(safe_next(nxt[0], default))

    @expose("/okta/logout/")
    def okta_logout(self) -> Any:
        """Log out of Airflow, then end the Okta session (Airflow 3: the auth manager's logout URL)."""
        sm = self.appbuilder.sm
        id_token = session.get(ID_TOKEN_KEY)
        logout_user()
        session.clear()
        after = sm.okta_settings.post_logout_redirect_uri or url_for(".login", _external=True)
        target = sm.okta_logout_url(id_token, after) or after
        response = redirect(target)
        clear_auth_cookies(response)
        return response

    @expose("/logout/")
    def logout(self) -> Any:
        """Airflow 2's logout URL (Airflow 3 serves /auth/logout itself; see auth_manager)."""
        return self.okta_logout()

    def _decode_fab_state(self) -> dict[str, Any] | None:
        key = session.get("oauth_state")
        if not key:  # no sign-in started in this browser's session (cookie lost, other secret_key)
            return None
        try:
            return jwt.decode(request.args.get("state", ""), key, algorithms=["HS256"])
        except jwt.PyJWTError:
            return None

    def _refuse(self, error: LoginRefused, facts: LoginFacts | None = None, id_token: str | None = None) -> Any:
        session.pop("oauth_state", None)
        request_id = login_audit.request_id()
        log.warning("Okta login refused (%s, request id %s): %s", error.code, request_id, loggable(error.message, 2000))
        login_audit.login_refused(error, facts or LoginFacts())
        # "Sign in with another account": with an ID token, Okta's logout (id_token_hint) ends the Okta
        # session and returns to sign-in; without one Okta refuses a logout redirect, so ask it to
        # show its sign-in form again instead (prompt=login, OIDC Core 3.1.2.1).
        session.pop(ID_TOKEN_KEY, None)  # only this sign-in's token names the session Okta is to end
        remember_id_token(session, id_token)
        switch_url = (
            url_for(".okta_logout")
            if session.get(ID_TOKEN_KEY)
            else url_for(".login", provider=PROVIDER_NAME, prompt="login")
        )
        html, status = refusal_page(
            error,
            retry_url=url_for(".login", provider=PROVIDER_NAME),
            switch_url=switch_url,
            request_id=request_id,
        )
        return html, status
