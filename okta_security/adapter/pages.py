"""HTML pages okta_security shows itself (login refused); autoescaped, no FAB template coupling."""

from __future__ import annotations

from flask import render_template_string

from okta_security.errors import LoginRefused, NoMappedRole, OktaUnavailable

_REFUSED = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Airflow sign-in refused</title>
<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:.1rem .3rem}.code{color:#777;font-size:.85rem}</style></head>
<body><h1>{{ title }}</h1>
<p id="okta-refusal-message">{{ message }}</p>
{% if username %}<p>Signed in at Okta as <strong id="okta-username">{{ username }}</strong>.</p>{% endif %}
{% if groups is not none %}<p>Groups Okta sent:</p><ul id="okta-groups">
{% for g in groups %}<li><code>{{ g }}</code></li>{% else %}<li>(none)</li>{% endfor %}</ul>{% endif %}
<p><a href="{{ retry_url }}">Try again</a></p>
<p class="code">Reason code: <code id="okta-reason">{{ code }}</code>{% if request_id %} · request {{ request_id }}{% endif %}</p>
</body></html>"""


def refusal_page(error: LoginRefused, *, retry_url: str, request_id: str | None = None) -> tuple[str, int]:
    """Render the page for a refused login and pick its status code."""
    if isinstance(error, NoMappedRole):
        title, status = "No Airflow role for your Okta groups", 403
        username, groups = error.username, error.groups
    elif isinstance(error, OktaUnavailable):
        title, status, username, groups = "Okta is not answering", 503, None, None
    else:
        title, status, username, groups = "Sign-in refused", 403, None, None
    html = render_template_string(
        _REFUSED,
        title=title,
        message=error.message,
        username=username,
        groups=groups,
        code=error.code,
        retry_url=retry_url,
        request_id=request_id,
    )
    return html, status
