"""Flask-AppBuilder views: start the Okta sign-in and finish it, refusing with a clear page."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
from flask import current_app, g, make_response, redirect, request, session, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.utils import generate_random_string
from flask_login import login_user, logout_user
from flask_wtf.csrf import ValidationError, generate_csrf, validate_csrf  # wtforms' error, as flask_wtf raises it

from okta_security.adapter import login_audit, metrics, step_up
from okta_security.adapter.compat import login_redirect, oauth_view_base
from okta_security.adapter.pages import NO_FRAMING, logout_confirm_page, no_refusal_page, render_refusal, step_up_page
from okta_security.adapter.request_body import BodyTooLarge, read_wsgi
from okta_security.adapter.sessions import ID_TOKEN_KEY, remember_id_token, start_fresh_session
from okta_security.errors import ForeignIssuer, LoginRefused, StepUpRequired
from okta_security.login.logout import is_cross_site
from okta_security.login.outcome import LoginAuditFields
from okta_security.login.refusal import refusal_facts
from okta_security.login.step_up import ACR_TWO_FACTORS, reason_text
from okta_security.oidc.initiated_login import InitiatedLogin, read_initiated_login
from okta_security.oidc.provider import PROVIDER_NAME
from okta_security.oidc.redirects import safe_next
from okta_security.untrusted import bounded_params, loggable

log = logging.getLogger(__name__)

MAX_NEXT_CHARS = 2048  # where to go after sign-in: a path in Airflow; a longer one is dropped, not cut
MAX_FORM_BYTES = 4096  # the logout confirmation posts one CSRF token (about 90 characters)
MAX_INITIATE_FORM_BYTES = 8192  # an initiated login posts iss, login_hint and target_link_uri (OIDC Core §4)
# Endpoints exempt from Flask-WTF's CSRFProtect ("module.function"): the logout checks the same token
# itself, reading the body no further than its limit; the login only starts a sign-in, which Okta
# (or another site) may post there (OIDC Core §4), and its state and PKCE bind the result to this browser.
CSRF_CHECKED_BY_THE_VIEW = (f"{__name__}.okta_logout", f"{__name__}.login")
# The last refused sign-in's page data, kept in the (signed or server-side) session: the refusal page
# is shown from here, never from its URL, so a link can't make Airflow show words it did not write.
REFUSAL_KEY = "okta_refusal"


def clear_cookies(response: Any, *, session_cookie: bool) -> Any:
    """Delete Airflow 3's ``_token`` API cookie, and Flask's session cookie if asked to."""
    path = current_app.config.get("SESSION_COOKIE_PATH") or "/"
    if session_cookie:
        response.delete_cookie(current_app.config.get("SESSION_COOKIE_NAME", "session"), path=path)
    for at in {path, "/"}:
        response.delete_cookie("_token", path=at)
    return response


def _page(html: str, status: int) -> Any:
    """Return one of our pages: never framed (its buttons must not be clickjacked), never cached."""
    response = make_response(html, status)
    response.headers.update(NO_FRAMING)
    response.headers["Cache-Control"] = "no-store"
    return response


class OktaAuthOAuthView(oauth_view_base()):  # type: ignore[misc]  # Airflow 3 and 2.11 (see compat)
    """OAuth view whose Okta path verifies state first and syncs roles from the mapping file."""

    @expose("/login/", methods=["GET", "POST"])
    @expose("/login/<provider>", methods=["GET", "POST"])
    def login(self, provider: str | None = None) -> Any:
        """Send the browser to Okta (there is one provider, so no chooser page).

        Okta may start the sign-in itself (its dashboard tile): ``iss``, ``login_hint`` and
        ``target_link_uri`` then come in the query or a posted form (OIDC Core 1.0 §4).
        """
        sm = self.appbuilder.sm
        try:
            params = self._login_params()
        except BodyTooLarge as e:
            return str(e), 413
        except ValueError:  # not UTF-8, too many fields
            return "The sign-in form could not be read (OIDC Core §4: iss, login_hint, target_link_uri).", 400
        first = dict(reversed(params))  # a repeated parameter counts once, as its first value
        try:
            # Each parameter's length is checked there, before anything else reads it.
            initiated = read_initiated_login(first, issuer=sm.okta_settings.issuer, own_origin=request.host_url)
        except ForeignIssuer as e:
            log.warning("Initiated login from a foreign issuer %s refused", loggable(first.get("iss"), 300))
            return self._refuse(e)
        initiated = initiated or InitiatedLogin()
        stepping_up = request.args.get("step_up") == "1" and sm.okta_mapping.current().step_up is not None
        if g.user is not None and g.user.is_authenticated and not stepping_up:
            return redirect(initiated.next_path or self.appbuilder.get_url_for_index)
        if provider != PROVIDER_NAME:  # FAB's chooser page, or a provider that does not exist here
            # The query goes along untouched: given to url_for, a parameter named like one of its own
            # (provider, _method, _external) would be taken as an argument and fail the request.
            query = urlencode(params)
            return redirect(url_for(".login", provider=PROVIDER_NAME) + (f"?{query}" if query else ""))
        random_state = generate_random_string()
        # FAB's state carries the query for the callback, which reads only ``next``; the whole query
        # would be read as JWT claims (``iss=`` or ``exp=`` in it fails the encoding).
        nxt = [initiated.next_path] if initiated.next_path else []
        nxt = nxt or [url for url in request.args.getlist("next")[:1] if len(url) <= MAX_NEXT_CHARS]
        state = jwt.encode({"next": nxt}, random_state, algorithm="HS256")
        session["oauth_state"] = random_state
        try:
            scope = sm.okta_authorize_scope()
        except LoginRefused as e:
            return self._refuse(e)
        extra: dict[str, str] = {}
        # prompt=login only: the refusal page's "Sign in with another account" when Okta can't log out.
        if request.args.get("prompt") == "login":
            extra["prompt"] = "login"
        if initiated.login_hint:  # OIDC Core §4: a login_hint received MUST go into the authorization request
            extra["login_hint"] = initiated.login_hint
        if stepping_up:  # "Get Admin": a second factor, and a sign-in recent enough for the step-up roles
            extra["acr_values"] = ACR_TWO_FACTORS
            extra["max_age"] = str(sm.okta_mapping.current().step_up.max_age_seconds)
        return sm.oauth_remotes[provider].authorize_redirect(
            redirect_uri=url_for(".oauth_authorized", provider=provider, _external=True),
            state=state,
            scope=scope,
            **extra,
        )

    @staticmethod
    def _login_params() -> list[tuple[str, str]]:
        """Return the query's parameters, then a posted form's (read to its limit; raise BodyTooLarge, ValueError)."""
        params = list(request.args.items(multi=True))
        if request.method == "POST":
            form = parse_qs(read_wsgi(MAX_INITIATE_FORM_BYTES).decode("utf-8"), max_num_fields=20)
            params += [(name, value) for name, values in form.items() for value in values]
        return params

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
            return self._refuse(
                outcome.refusal or LoginRefused("The sign-in failed."),
                outcome.facts,
                outcome.id_token,
                okta_response_verified=fab_state is not None,  # an error then came from Okta, not a forged link
            )
        start_fresh_session(session)  # no pre-login session data survives the login (fixation)
        remember_id_token(session, outcome.id_token)
        if outcome.step_up.until is not None:  # the step-up roles hold for this browser until then
            session[step_up.SESSION_KEY] = outcome.step_up.until
        login_user(user)  # okta_complete_login counted the login with the role sync, in one commit
        g.user = user
        session.modified = True
        log.info("Okta login of %s (sub %s) succeeded", loggable(identity.username), loggable(identity.sub))
        login_audit.login_succeeded(
            outcome.facts, user.username, identity, [r.name for r in user.roles], outcome.step_up
        )
        default = self.appbuilder.get_url_for_index
        nxt = (fab_state or {}).get("next") or [None]
        target = safe_next(nxt[0], default)
        if outcome.step_up.withheld:  # signed in with the other roles; the page offers the step-up
            reason = reason_text(outcome.step_up.reason, sm.okta_mapping.current().step_up)
            session[step_up.OFFER_KEY] = {"reason": reason, "next": target}
            target = url_for(".okta_step_up")
        return login_redirect(target)

    @expose("/okta/logout/", methods=["GET", "POST"])
    def okta_logout(self) -> Any:
        """Log out of Airflow, then of Okta; a request another site started asks first (POST: that page's confirmation)."""
        sm = self.appbuilder.sm
        if request.method == "POST" and not self._csrf_token_valid():
            return "The sign-out confirmation has expired or did not come from Airflow; nothing was signed out.", 400
        id_token = session.get(ID_TOKEN_KEY)
        logout_user()
        session.clear()
        if request.method == "GET" and self._started_elsewhere():
            return self._confirm_okta_logout(id_token)
        after = sm.okta_settings.post_logout_redirect_uri or url_for(".login", _external=True)
        target = sm.okta_logout_url(id_token, after) or after
        return clear_cookies(redirect(target), session_cookie=True)

    @expose("/logout/")
    def logout(self) -> Any:
        """Airflow 2's logout URL (Airflow 3 serves /auth/logout itself; see auth_manager)."""
        return self.okta_logout()

    @staticmethod
    def _started_elsewhere() -> bool:
        return is_cross_site(
            sec_fetch_site=request.headers.get("Sec-Fetch-Site"),
            origin=request.headers.get("Origin"),
            referer=request.headers.get("Referer"),
            own_origin=request.host_url,
        )

    @staticmethod
    def _csrf_token_valid() -> bool:
        # Checked here, with the same token check as the app's CSRFProtect (which skips this view, see
        # CSRF_CHECKED_BY_THE_VIEW): Werkzeug's form parser reads a whole body, ours stops at the limit.
        try:
            form = parse_qs(read_wsgi(MAX_FORM_BYTES).decode("utf-8"), max_num_fields=10)
            validate_csrf(form.get("csrf_token", [None])[0])
        except (BodyTooLarge, ValueError, ValidationError):  # ValueError: not UTF-8, too many fields
            return False
        return True

    def _confirm_okta_logout(self, id_token: str | None) -> Any:
        """Show the confirmation; the now anonymous session keeps the ID token for the confirmed logout."""
        log.info(
            "Logout from another site (request id %s): Airflow session ended, Okta's kept", login_audit.request_id()
        )
        remember_id_token(session, id_token)
        page = logout_confirm_page(
            action=url_for(".okta_logout"), csrf_token=generate_csrf(), cancel_url=self.appbuilder.get_url_for_index
        )
        return clear_cookies(_page(page, 200), session_cookie=False)

    def _decode_fab_state(self) -> dict[str, Any] | None:
        key = session.get("oauth_state")
        if not key:  # no sign-in started in this browser's session (cookie lost, other secret_key)
            return None
        try:
            return jwt.decode(request.args.get("state", ""), key, algorithms=["HS256"])
        except jwt.PyJWTError:
            return None

    def _refuse(
        self,
        error: LoginRefused,
        facts: LoginAuditFields | None = None,
        id_token: str | None = None,
        *,
        okta_response_verified: bool = False,
    ) -> Any:
        session.pop("oauth_state", None)
        request_id = login_audit.request_id()
        log.warning("Okta login refused (%s, request id %s): %s", error.code, request_id, loggable(error.message, 2000))
        login_audit.login_refused(error, facts or LoginAuditFields())
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
        session[REFUSAL_KEY] = refusal_facts(
            error,
            retry_url=url_for(".login", provider=PROVIDER_NAME),
            switch_url=switch_url,
            request_id=request_id,
            okta_response_verified=okta_response_verified,
            step_up_url=url_for(".login", provider=PROVIDER_NAME, step_up="1")
            if isinstance(error, StepUpRequired)
            else None,
        )
        # Post/redirect/get: the address bar then holds a stable URL, so a reload shows this refusal
        # again instead of replaying a used callback (which could only fail as invalid_state).
        return redirect(url_for(".okta_refused"), code=303)

    @expose("/okta/refused/")
    def okta_refused(self) -> Any:
        """Show this browser's last refused sign-in (the same page on every reload)."""
        facts = session.get(REFUSAL_KEY)
        if not isinstance(facts, dict):
            return _page(no_refusal_page(retry_url=url_for(".login", provider=PROVIDER_NAME)), 404)
        return _page(*render_refusal(facts))

    @expose("/okta/step-up/")
    def okta_step_up(self) -> Any:
        """Offer the step-up roles this browser's session may not use (now): "Get Admin" asks Okta again."""
        sm = self.appbuilder.sm
        if g.user is None or not g.user.is_authenticated:
            return redirect(url_for(".login", provider=PROVIDER_NAME, step_up="1"))
        rules = sm.okta_mapping.current().step_up
        withheld = step_up.withheld_for([r.name for r in g.user.roles], rules, session.get(step_up.SESSION_KEY))
        stored = session.get(step_up.OFFER_KEY)
        offer: dict[str, Any] = stored if isinstance(stored, dict) else {}
        after = safe_next(offer.get("next"), self.appbuilder.get_url_for_index)
        reason = offer.get("reason") or "this session has no multi-factor sign-in, or it is too old"
        page = step_up_page(
            roles=sorted(withheld),
            reason=str(reason),
            step_up_url=url_for(".login", provider=PROVIDER_NAME, step_up="1", next=after),
            continue_url=after,
        )
        return _page(page, 200)
