"""HTML pages okta_security shows itself (login refused); autoescaped, no FAB template coupling.

A refusal falls in one of three categories, and the page speaks to the person accordingly:

- ``access``: about this person (no mapped role, deactivated account, Okta's "not assigned"):
  the explanation, "Try again" and "Sign in with another account" (ends the Okta session first,
  otherwise Okta signs the same person in again at once).
- ``unavailable``: Okta, or Airflow's own database, did not answer; "Try again" later.
- ``misconfigured``: Airflow's own configuration (wrong client secret, undefined scope, issuer
  mismatch, Okta API credentials): one plain sentence, the reason code and the request id. The
  setting names and fixes are for the administrator, so they go to the log and to
  ``okta-airflow doctor``, never to everyone who tries to sign in.
"""

from __future__ import annotations

from typing import Literal

from flask import render_template_string

from okta_security.errors import (
    DatabaseUnavailable,
    DiscoveryMismatch,
    LoginRefused,
    NoMappedRole,
    OktaApiMisconfigured,
    OktaError,
    OktaUnavailable,
)

Category = Literal["access", "unavailable", "misconfigured"]

# OAuth error codes (RFC 6749 4.1.2.1 and 5.2) that Okta answers when Airflow's request or its Okta
# app is wrong, not the person: nobody can sign in until an administrator fixes the configuration.
MISCONFIGURED_OKTA_ERRORS = frozenset(
    {
        "invalid_client",
        "invalid_scope",
        "invalid_request",
        "unauthorized_client",
        "unsupported_response_type",
        "unsupported_grant_type",
    }
)
MISCONFIGURED_MESSAGE = "Sign-in is misconfigured on this Airflow; tell your administrator."
MAX_SHOWN_CODE_CHARS = 64  # Okta's error code comes from the redirect's query string: bound what we echo

_REFUSED = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Airflow sign-in refused</title>
<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:.1rem .3rem}.code{color:#777;font-size:.85rem}</style></head>
<body><h1>{{ title }}</h1>
<p id="okta-refusal-message">{{ message }}</p>
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


def category_of(error: LoginRefused) -> Category:
    """Return who can fix the refusal: the person (access), nobody right now, or an administrator."""
    if isinstance(error, DiscoveryMismatch | OktaApiMisconfigured):
        return "misconfigured"
    if isinstance(error, OktaError) and error.error in MISCONFIGURED_OKTA_ERRORS:
        return "misconfigured"
    if isinstance(error, OktaError) and error.error == "invalid_grant" and "redirect_uri" in error.description:
        return "misconfigured"  # the callback URL Airflow builds differs from the one it sent (proxy, base_url)
    if isinstance(error, OktaUnavailable | DatabaseUnavailable):
        return "unavailable"
    return "access"


def refusal_page(
    error: LoginRefused,
    *,
    retry_url: str,
    switch_url: str | None = None,
    request_id: str | None = None,
) -> tuple[str, int]:
    """Render the page for a refused login and pick its status code.

    ``switch_url`` ends the Okta session and comes back to sign-in ("Sign in with another
    account"); ``request_id`` is Airflow's id of this request, as in the log and audit trail.
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
    else:
        title = "No Airflow role for your Okta groups" if isinstance(error, NoMappedRole) else "Sign-in refused"
        status, message = 403, error.message
    okta_error = error.error[:MAX_SHOWN_CODE_CHARS] if isinstance(error, OktaError) else None
    html = render_template_string(
        _REFUSED,
        title=title,
        message=message,
        category=category,
        username=username,
        groups=groups,
        code=error.code,
        okta_error=okta_error,
        retry_url=retry_url,
        switch_url=switch_url,
        request_id=request_id,
        okta_request_id=error.request_id,
    )
    return html, status
