"""HTML pages okta_security shows itself (login refused, logout confirmation); autoescaped, no FAB templates.

They wear the installed Airflow's look: its logo, inlined (no extra request, so the page looks right even
while the database behind sessions is down), and its UI's theme tokens (:mod:`okta_security.airflow_layout`).

What a refusal page says is decided in :mod:`okta_security.login.refusal`; the callback keeps it in
the session and redirects to a stable address (adapter/views.py), so a reload shows the same refusal.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import importlib.util
from importlib import metadata
from pathlib import Path
from typing import Any

from flask import render_template_string
from markupsafe import Markup

from okta_security.adapter.compat import airflow_version
from okta_security.airflow_layout import AIRFLOW_3, Look, layout_for
from okta_security.login.refusal import MAX_SHOWN_MESSAGE_CHARS
from okta_security.untrusted import bounded

# Where each Airflow ships its 100 px pin (3.x: the FAB provider's static files; 2.x: airflow/www).
LOGO_CANDIDATES = (
    ("airflow.providers.fab", "www/static/pin_100.png"),
    ("airflow", "ui/dist/pin_100.png"),
    ("airflow", "www/static/pin_100.png"),
)


def current_look() -> Look:
    """Return the theme of the installed Airflow's UI (Airflow 3's when it can't be told: the current line)."""
    try:
        return layout_for(airflow_version()).look
    except (metadata.PackageNotFoundError, ValueError):
        return AIRFLOW_3.look


def logo_path() -> Path | None:
    """Return the installed Airflow's pin logo, or None when this Airflow ships none we know of."""
    for package, relative in LOGO_CANDIDATES:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for root in (spec.submodule_search_locations or []) if spec else []:
            path = Path(root) / relative
            if path.is_file():
                return path
    return None


@functools.lru_cache(maxsize=1)
def logo_data_uri() -> str | None:
    """Return the logo as a ``data:`` URI (read once per process)."""
    path = logo_path()
    if path is None:
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


# Airflow's look: its header with the logo, a card, its fonts and colours.
# Plain HTML and CSS, no script: every page works with JavaScript off.
_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow"><title>{{ page_title }} - Airflow</title>
<style>
body{margin:0;background:{{ look.page }};color:{{ look.text }};font-family:{{ look.font }};font-size:15px;line-height:1.5}
.af-header{display:flex;align-items:center;gap:.6rem;padding:.6rem 1.25rem;background:{{ look.card }};border-bottom:1px solid {{ look.border }}}
.af-header img{width:32px;height:32px} .af-header span{font-size:1.15rem;font-weight:600} main{max-width:40rem;margin:3rem auto;padding:0 1rem}
.af-card{background:{{ look.card }};border:1px solid {{ look.border }};border-radius:{{ look.radius }};box-shadow:0 1px 3px rgba(0,0,0,.08);padding:1.75rem 2rem}
h1{font-size:1.4rem;line-height:1.3;margin:0 0 1rem} p{margin:.75rem 0} dt{color:{{ look.muted }}} dd{margin:0;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.5rem 1.25rem;margin:1rem 0;align-items:baseline}
code{font-family:SFMono-Regular,Menlo,Monaco,Consolas,"Liberation Mono","Courier New",monospace;font-size:.85em;background:{{ look.code_bg }};border-radius:4px;padding:.05rem .35rem}
.af-groups{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.35rem} .af-actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1.5rem}
.af-button{display:inline-block;padding:.5rem 1rem;border:1px solid {{ look.primary }};border-radius:{{ look.radius }};font:inherit;font-weight:600;text-decoration:none;cursor:pointer}
.af-primary{background:{{ look.primary }};color:{{ look.primary_text }}} .af-secondary{background:{{ look.card }};color:{{ look.primary }}}
.af-details{margin-top:1.5rem;padding-top:1rem;border-top:1px solid {{ look.border }};font-size:.85rem} .af-details dl{margin:0}
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
