"""What the refusal page shows for a refused sign-in, as plain data with every untrusted string bounded (pure).

A refusal falls in one of three categories (``errors.classify``), and the page speaks to the person accordingly:

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

from typing import Any

from okta_security.errors import (
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


def okta_refused_message(error: OktaError) -> str:
    """Return Airflow's own sentence for Okta's refusal: what it means, chosen by the error code only."""
    hint = okta_hint(error.error).removeprefix(" — ")
    return "Okta refused the sign-in." + (f" {hint[:1].upper()}{hint[1:]}" if hint else "")


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
    so an error in it came from Okta; ``step_up_url`` (a StepUpRequired) asks Okta again for a second factor.
    """
    category = classify(error).category
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
