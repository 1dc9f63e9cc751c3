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

The callback does not answer with the page itself: it keeps ``refusal_facts`` in the session and
redirects to a stable address (adapter/views.py), so a reload shows the same refusal.

Okta's error reaches us in the callback's query string, which anyone can write into a link to
Airflow. So the page says in its own words that Okta refused, shows Okta's error code, and shows
Okta's description only apart, labelled as Okta's, cut short, and only when the response answers
a sign-in this browser started (its ``state`` matched): a forged link's text never appears on
Airflow's origin.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import render_template_string
from markupsafe import Markup

from okta_security.adapter.airflow_look import current_look, logo_data_uri
from okta_security.errors import (
    Category,
    DatabaseUnavailable,
    LoginRefused,
    MappedRoleMissing,
    NoMappedRole,
    OktaError,
    classify,
    okta_hint,
)
from okta_security.untrusted import bounded

MISCONFIGURED_MESSAGE = "Sign-in is misconfigured on this Airflow; tell your administrator."
MAX_SHOWN_CODE_CHARS = 64  # Okta's error code comes from the redirect's query string: bound what we echo
MAX_SHOWN_DESCRIPTION_CHARS = 200  # Okta's own descriptions are a sentence or two; more is not Okta's

MAX_SHOWN_MESSAGE_CHARS = 1000  # our own sentences, which may quote a login or a role name
MAX_SHOWN_USERNAME_CHARS = 256  # an Okta login is at most 100 characters; anything longer is cut
MAX_SHOWN_GROUP_CHARS = 256  # Okta group names are at most 255 characters
MAX_SHOWN_GROUPS = 50  # the page lists this many of the groups Okta sent and says how many more
# ...and no more characters of group names than this: the page's data is kept in the session, which
# Airflow may keep in its cookie ([fab] session_backend = securecookie), and browsers drop cookies over 4 KiB.
MAX_SHOWN_GROUPS_CHARS = 800

# Airflow's look (adapter/airflow_look.py): its header with the logo, a card, its fonts and colours.
# Plain HTML and CSS, no script: every page works with JavaScript off.
_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow"><title>{{ page_title }} - Airflow</title>
<style>
body{margin:0;background:{{ look.page }};color:{{ look.text }};font-family:{{ look.font }};font-size:15px;line-height:1.5}
.af-header{display:flex;align-items:center;gap:.6rem;padding:.6rem 1.25rem;background:{{ look.card }};border-bottom:1px solid {{ look.border }}}
.af-header img{width:32px;height:32px}
.af-header span{font-size:1.15rem;font-weight:600}
main{max-width:40rem;margin:3rem auto;padding:0 1rem}
.af-card{background:{{ look.card }};border:1px solid {{ look.border }};border-radius:{{ look.radius }};box-shadow:0 1px 3px rgba(0,0,0,.08);padding:1.75rem 2rem}
h1{font-size:1.4rem;line-height:1.3;margin:0 0 1rem}
p{margin:.75rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.5rem 1.25rem;margin:1rem 0;align-items:baseline}
dt{color:{{ look.muted }}}
dd{margin:0;overflow-wrap:anywhere}
code{font-family:SFMono-Regular,Menlo,Monaco,Consolas,"Liberation Mono","Courier New",monospace;font-size:.85em;background:{{ look.code_bg }};border-radius:4px;padding:.05rem .35rem}
.af-groups{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.35rem}
.af-actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1.5rem}
.af-button{display:inline-block;padding:.5rem 1rem;border:1px solid {{ look.primary }};border-radius:{{ look.radius }};font:inherit;font-weight:600;text-decoration:none;cursor:pointer}
.af-primary{background:{{ look.primary }};color:{{ look.primary_text }}}
.af-secondary{background:{{ look.card }};color:{{ look.primary }}}
.af-details{margin-top:1.5rem;padding-top:1rem;border-top:1px solid {{ look.border }};font-size:.85rem}
.af-details dl{margin:0}
</style></head>
<body><header class="af-header">{% if logo %}<img id="airflow-logo" src="{{ logo }}" alt="Airflow logo" width="32" height="32">{% endif %}<span>Airflow</span></header>
<main><section class="af-card" id="okta-card">{{ body }}</section></main></body></html>"""

# Each fact appears once: who Okta signed in and their groups as a list, then what it means,
# then what to do, then the codes to quote to an administrator.
_REFUSED = """<h1 id="okta-refusal-title">{{ title }}</h1>
{% if username or groups is not none %}<dl id="okta-identity">
{% if username %}<dt>Signed in at Okta as</dt><dd><strong id="okta-username">{{ username }}</strong></dd>{% endif %}
{% if groups is not none %}<dt>Groups Okta sent</dt><dd><ul id="okta-groups" class="af-groups">
{% for g in groups %}<li><code>{{ g }}</code></li>{% else %}<li>(none)</li>{% endfor %}
{% if more_groups %}<li id="okta-more-groups">and {{ more_groups }} more</li>{% endif %}</ul></dd>{% endif %}
</dl>{% endif %}
<p id="okta-refusal-message">{{ message }}</p>
{% if okta_error and category != "misconfigured" %}<p id="okta-said">{% if okta_description %}Okta's description of the error: <q id="okta-error-description">{{ okta_description }}</q>{% else %}Okta's description of the error is not shown: this response does not answer a sign-in started in this browser.{% endif %}</p>{% endif %}
{% if category == "misconfigured" %}<p>Give them the reason code and request id below.</p>{% endif %}
<div class="af-actions">{% if step_up_url %}<a id="okta-step-up" href="{{ step_up_url }}" class="af-button af-primary">Get {{ step_up_roles }}</a>{% endif %}
<a id="okta-retry" href="{{ retry_url }}" class="af-button {{ 'af-secondary' if step_up_url else 'af-primary' }}">Try again</a>
{% if switch_url %}<a id="okta-switch-account" href="{{ switch_url }}" class="af-button af-secondary">Sign in with another account</a>{% endif %}</div>
<div class="af-details"><dl>
<dt>Reason code</dt><dd><code id="okta-reason">{{ code }}</code></dd>
{% if okta_error %}<dt>Okta error</dt><dd><code id="okta-error">{{ okta_error }}</code></dd>{% endif %}
{% if request_id %}<dt>Request id</dt><dd><code id="okta-request-id">{{ request_id }}</code></dd>{% endif %}
{% if okta_request_id %}<dt>Okta request id</dt><dd><code id="okta-okta-request-id">{{ okta_request_id }}</code></dd>{% endif %}
</dl></div>"""


_LOGOUT_CONFIRM = """<h1>Sign out of Okta too?</h1>
<p id="okta-logout-message">You are signed out of Airflow. Another site sent you here, so Airflow asks before it
also ends your Okta session, which signs you out of every application that uses Okta.</p>
<form id="okta-logout-form" method="post" action="{{ action }}" class="af-actions">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button id="okta-logout-confirm" type="submit" class="af-button af-primary">Sign out of Okta</button>
<a id="okta-logout-cancel" href="{{ cancel_url }}" class="af-button af-secondary">Back to Airflow, still signed in to Okta</a>
</form>"""

_STEP_UP = """<h1 id="okta-step-up-title">{% if roles %}Get {{ roles | join(", ") }}{% else %}No role needs a second factor now{% endif %}</h1>
{% if roles %}<p id="okta-step-up-message">You are signed in without {{ roles | join(", ") }}: {{ reason }}.
Airflow asks Okta for a sign-in with a second factor, then gives you {{ roles | join(", ") }}.</p>
<div class="af-actions"><a id="okta-step-up" href="{{ step_up_url }}" class="af-button af-primary">Get {{ roles | join(", ") }}</a>
<a id="okta-step-up-continue" href="{{ continue_url }}" class="af-button af-secondary">Continue without</a></div>
{% else %}<p id="okta-step-up-message">Every role of your account applies in this session.</p>
<div class="af-actions"><a id="okta-step-up-continue" href="{{ continue_url }}" class="af-button af-primary">Continue</a></div>{% endif %}"""

_NO_REFUSAL = """<h1 id="okta-refusal-title">No refused sign-in to show</h1>
<p id="okta-refusal-message">This browser has no refused sign-in on record (it is shown once per sign-in
attempt, in the browser that made it).</p>
<div class="af-actions"><a id="okta-retry" href="{{ retry_url }}" class="af-button af-primary">Sign in</a></div>"""


def airflow_page(page_title: str, body_template: str, **context: Any) -> str:
    """Render ``body_template`` (autoescaped) inside Airflow's header and card."""
    body = Markup(render_template_string(body_template, **context))  # noqa: S704 - rendered with autoescape above
    # The theme's values are our own constants, written into CSS, where HTML escaping would break them ('Segoe UI').
    look = {name: Markup(value) for name, value in dataclasses.asdict(current_look()).items()}  # noqa: S704
    return render_template_string(_LAYOUT, page_title=page_title, body=body, look=look, logo=logo_data_uri())


# The confirm button must not be clickable through another site's invisible frame (clickjacking).
NO_FRAMING = {"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY"}


def logout_confirm_page(*, action: str, csrf_token: str, cancel_url: str) -> str:
    """Render the page asking before the Okta session ends: a POST form carrying the CSRF token."""
    return airflow_page(
        "Sign out of Okta too?", _LOGOUT_CONFIRM, action=action, csrf_token=csrf_token, cancel_url=cancel_url
    )


def okta_refused_message(error: OktaError) -> str:
    """Return Airflow's own sentence for Okta's refusal: what it means, chosen by the error code only."""
    hint = okta_hint(error.error).removeprefix(" — ")
    return "Okta refused the sign-in." + (f" {hint[:1].upper()}{hint[1:]}" if hint else "")


def category_of(error: LoginRefused) -> Category:
    """Return who can fix the refusal: the person (access), nobody right now, or an administrator."""
    return classify(error).category


def page_message(error: LoginRefused) -> str:
    """Return the refusal's explanation without the identity and groups the page lists apart."""
    if isinstance(error, NoMappedRole):
        return (
            "None of these groups is mapped to an Airflow role, so Airflow cannot let you in. "
            "Ask your Airflow administrator to map one of your Okta groups to a role."
        )
    if isinstance(error, MappedRoleMissing):
        return error.message.removeprefix(f"Okta signed you in as {error.username!r}. ")
    return error.message


def refusal_facts(
    error: LoginRefused,
    *,
    retry_url: str,
    switch_url: str | None = None,
    request_id: str | None = None,
    okta_response_verified: bool = False,
    step_up_url: str | None = None,
) -> dict[str, Any]:
    """Return what the refusal page shows, as plain JSON-able data with every untrusted string bounded.

    The data can be kept in the session and shown again (a reload of the refusal page), so it holds
    only what the page needs. ``switch_url`` ends the Okta session and comes back to sign-in ("Sign in
    with another account"); ``request_id`` is Airflow's id of this request, as in the log and audit
    trail; ``okta_response_verified``: the callback's state matched a sign-in this browser started,
    so an error in it came from Okta.
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
        status, message = 403, page_message(error)
    okta_error = bounded(error.error, MAX_SHOWN_CODE_CHARS) if isinstance(error, OktaError) else None
    okta_description = None
    if isinstance(error, OktaError) and okta_response_verified and error.description:
        okta_description = bounded(error.description, MAX_SHOWN_DESCRIPTION_CHARS)
    all_groups = None if groups is None else [bounded(str(g), MAX_SHOWN_GROUP_CHARS) for g in groups]
    shown_groups = None if all_groups is None else _within_budget(all_groups[:MAX_SHOWN_GROUPS], MAX_SHOWN_GROUPS_CHARS)
    return {
        "title": title,
        "status": status,
        "message": bounded(message, MAX_SHOWN_MESSAGE_CHARS),
        "category": category,
        "username": bounded(str(username), MAX_SHOWN_USERNAME_CHARS) if username else None,
        "groups": shown_groups,
        "more_groups": 0 if all_groups is None or shown_groups is None else len(all_groups) - len(shown_groups),
        "code": error.code,
        "okta_error": okta_error,
        "okta_description": okta_description,
        "retry_url": retry_url,
        "switch_url": switch_url,
        "request_id": bounded(request_id, MAX_SHOWN_CODE_CHARS) if request_id else None,
        "okta_request_id": bounded(error.request_id, MAX_SHOWN_CODE_CHARS) if error.request_id else None,
        # StepUpRequired: "Get Admin" asks Okta again for a second factor (the roles are our own words).
        "step_up_url": step_up_url,
        "step_up_roles": ", ".join(getattr(error, "roles", ()))[:MAX_SHOWN_MESSAGE_CHARS] if step_up_url else None,
    }


def _within_budget(names: list[str], budget: int) -> list[str]:
    """Return the first ``names`` whose lengths add up to at most ``budget`` (at least one)."""
    kept: list[str] = []
    for name in names:
        if kept and sum(map(len, kept)) + len(name) > budget:
            break
        kept.append(name)
    return kept


def render_refusal(facts: dict[str, Any]) -> tuple[str, int]:
    """Render the refusal page from ``refusal_facts`` and return it with its status code."""
    return airflow_page(facts["title"], _REFUSED, **facts), int(facts["status"])


def step_up_page(*, roles: list[str], reason: str, step_up_url: str, continue_url: str) -> str:
    """Render the offer of the step-up roles this session may not use: "Get Admin", or continue without."""
    title = f"Get {', '.join(roles)}" if roles else "No role needs a second factor now"
    return airflow_page(
        title,
        _STEP_UP,
        roles=roles,
        reason=bounded(reason, MAX_SHOWN_MESSAGE_CHARS),
        step_up_url=step_up_url,
        continue_url=continue_url,
    )


def no_refusal_page(*, retry_url: str) -> str:
    """Render the refusal address visited with no refusal on record (another browser, an expired session)."""
    return airflow_page("No refused sign-in to show", _NO_REFUSAL, retry_url=retry_url)


def refusal_page(
    error: LoginRefused,
    *,
    retry_url: str,
    switch_url: str | None = None,
    request_id: str | None = None,
    okta_response_verified: bool = False,
) -> tuple[str, int]:
    """Render the page for a refused login and pick its status code (see ``refusal_facts``)."""
    return render_refusal(
        refusal_facts(
            error,
            retry_url=retry_url,
            switch_url=switch_url,
            request_id=request_id,
            okta_response_verified=okta_response_verified,
        )
    )
