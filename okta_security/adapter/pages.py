"""HTML pages okta_security shows itself (login refused, logout confirmation); autoescaped, no FAB templates.

A refusal falls in one of three categories, and the page speaks to the person accordingly:

- ``access``: about this person (no mapped role, deactivated account, Okta's "not assigned"):
  the explanation, "Try again" and "Sign in with another account" (ends the Okta session first,
  otherwise Okta signs the same person in again at once).
- ``unavailable``: Okta, or Airflow's own database, did not answer; "Try again" later.
- ``misconfigured``: Airflow's own configuration (wrong client secret, undefined scope, issuer
  mismatch, Okta API credentials): one plain sentence, the reason code and the request id. The
  setting names and fixes are for the administrator, so they go to the log and to
  ``okta-airflow doctor``, never to everyone who tries to sign in.

Okta's error reaches us in the callback's query string, which anyone can write into a link to
Airflow. So the page says in its own words that Okta refused, shows Okta's error code, and shows
Okta's description only apart, labelled as Okta's, cut short, and only when the response answers
a sign-in this browser started (its ``state`` matched): a forged link's text never appears on
Airflow's origin.
"""

from __future__ import annotations

from flask import render_template_string

from okta_security.errors import (
    Category,
    DatabaseUnavailable,
    LoginRefused,
    NoMappedRole,
    OktaError,
    classify,
    okta_hint,
)
from okta_security.untrusted import bounded

MISCONFIGURED_MESSAGE = "Sign-in is misconfigured on this Airflow; tell your administrator."
MAX_SHOWN_CODE_CHARS = 64  # Okta's error code comes from the redirect's query string: bound what we echo
MAX_SHOWN_DESCRIPTION_CHARS = 200  # Okta's own descriptions are a sentence or two; more is not Okta's

_REFUSED = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Airflow sign-in refused</title>
<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:.1rem .3rem}.code{color:#777;font-size:.85rem}</style></head>
<body><h1>{{ title }}</h1>
<p id="okta-refusal-message">{{ message }}</p>
{% if okta_error and category != "misconfigured" %}<p id="okta-said">{% if okta_description %}Okta's description of the error: <q id="okta-error-description">{{ okta_description }}</q>{% else %}Okta's description of the error is not shown: this response does not answer a sign-in started in this browser.{% endif %}</p>{% endif %}
{% if category == "misconfigured" %}<p>Give them the reason code and request id below.</p>{% endif %}
{% if username %}<p>Signed in at Okta as <strong id="okta-username">{{ username }}</strong>.</p>{% endif %}
{% if groups is not none %}<p>Groups Okta sent:</p><ul id="okta-groups">
{% for g in groups %}<li><code>{{ g }}</code></li>{% else %}<li>(none)</li>{% endfor %}</ul>{% endif %}
<p><a id="okta-retry" href="{{ retry_url }}">Try again</a>
{% if switch_url %} · <a id="okta-switch-account" href="{{ switch_url }}">Sign in with another account</a>{% endif %}</p>
<p class="code">Reason code: <code id="okta-reason">{{ code }}</code>
{% if okta_error %} · Okta error <code id="okta-error">{{ okta_error }}</code>{% endif %}
{% if request_id %} · request id <code id="okta-request-id">{{ request_id }}</code>{% endif %}
{% if okta_request_id %} · Okta request id <code id="okta-okta-request-id">{{ okta_request_id }}</code>{% endif %}
</p>
</body></html>"""


_LOGOUT_CONFIRM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign out of Okta too?</title>
<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#222}</style></head>
<body><h1>Sign out of Okta too?</h1>
<p id="okta-logout-message">You are signed out of Airflow. Another site sent you here, so Airflow asks before it
also ends your Okta session, which signs you out of every application that uses Okta.</p>
<form id="okta-logout-form" method="post" action="{{ action }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button id="okta-logout-confirm" type="submit">Sign out of Okta</button>
<a id="okta-logout-cancel" href="{{ cancel_url }}">Back to Airflow, still signed in to Okta</a>
</form>
</body></html>"""
# The confirm button must not be clickable through another site's invisible frame (clickjacking).
NO_FRAMING = {"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY"}


def logout_confirm_page(*, action: str, csrf_token: str, cancel_url: str) -> str:
    """Render the page asking before the Okta session ends: a POST form carrying the CSRF token."""
    return render_template_string(_LOGOUT_CONFIRM, action=action, csrf_token=csrf_token, cancel_url=cancel_url)


def okta_refused_message(error: OktaError) -> str:
    """Return Airflow's own sentence for Okta's refusal: what it means, chosen by the error code only."""
    hint = okta_hint(error.error).removeprefix(" — ")
    return "Okta refused the sign-in." + (f" {hint[:1].upper()}{hint[1:]}" if hint else "")


def category_of(error: LoginRefused) -> Category:
    """Return who can fix the refusal: the person (access), nobody right now, or an administrator."""
    return classify(error).category


def refusal_page(
    error: LoginRefused,
    *,
    retry_url: str,
    switch_url: str | None = None,
    request_id: str | None = None,
    okta_response_verified: bool = False,
) -> tuple[str, int]:
    """Render the page for a refused login and pick its status code.

    ``switch_url`` ends the Okta session and comes back to sign-in ("Sign in with another
    account"); ``request_id`` is Airflow's id of this request, as in the log and audit trail;
    ``okta_response_verified``: the callback's state matched a sign-in this browser started, so
    an error in it came from Okta.
    """
    category = category_of(error)
    username = getattr(error, "username", None)
    groups = getattr(error, "groups", None)
    if category == "misconfigured":
        title, status, message = "Sign-in is misconfigured", 403, MISCONFIGURED_MESSAGE
        username, groups, switch_url = None, None, None  # another account can't help
    elif category == "unavailable":
        title = (
            "Airflow's database is not answering" if isinstance(error, DatabaseUnavailable) else "Okta is not answering"
        )
        status, message = 503, error.message
        username, groups, switch_url = None, None, None
    elif isinstance(error, OktaError):
        title, status, message = "Sign-in refused", 403, okta_refused_message(error)
    else:
        title = "No Airflow role for your Okta groups" if isinstance(error, NoMappedRole) else "Sign-in refused"
        status, message = 403, error.message
    okta_error = bounded(error.error, MAX_SHOWN_CODE_CHARS) if isinstance(error, OktaError) else None
    okta_description = None
    if isinstance(error, OktaError) and okta_response_verified and error.description:
        okta_description = bounded(error.description, MAX_SHOWN_DESCRIPTION_CHARS)
    html = render_template_string(
        _REFUSED,
        title=title,
        message=message,
        category=category,
        username=username,
        groups=groups,
        code=error.code,
        okta_error=okta_error,
        okta_description=okta_description,
        retry_url=retry_url,
        switch_url=switch_url,
        request_id=request_id,
        okta_request_id=error.request_id,
    )
    return html, status
