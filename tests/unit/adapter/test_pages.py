"""The refusal page per cause: what the person sees, which links, and what never reaches them."""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask

from okta_security import errors
from okta_security.adapter.pages import render_refusal
from okta_security.login.refusal import (
    MAX_SHOWN_DESCRIPTION_CHARS,
    MAX_SHOWN_GROUP_CHARS,
    MAX_SHOWN_GROUPS,
    MAX_SHOWN_GROUPS_CHARS,
    MAX_SHOWN_USERNAME_CHARS,
    MISCONFIGURED_MESSAGE,
    okta_refused_message,
    refusal_facts,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

RETRY = "/auth/login/okta"
SWITCH = "/auth/okta/logout/"
SETTING_NAME = re.compile(r"\bOKTA_[A-Z_]+")


def refusal_page(error: errors.LoginRefused, **kwargs: Any) -> tuple[str, int]:
    return render_refusal(refusal_facts(error, **kwargs))


@pytest.fixture(autouse=True)
def app_context() -> Iterator[None]:
    with Flask(__name__).app_context():
        yield


def render(error: errors.LoginRefused, request_id: str | None = "req-123") -> tuple[str, int]:
    page, status = refusal_page(error, retry_url=RETRY, switch_url=SWITCH, request_id=request_id)
    return html.unescape(page), status


MISCONFIGURED = [
    errors.OktaError("invalid_client", "Client authentication failed."),
    errors.OktaError("invalid_scope", "One or more scopes are not configured for the authorization server."),
    errors.OktaError("invalid_request", "The 'redirect_uri' parameter must be a Login redirect URI."),
    errors.OktaError("unauthorized_client", "The client is not authorized to use the provided grant type."),
    errors.OktaError(
        "invalid_grant", "The 'redirect_uri' does not match the redirection URI used in the authorization request."
    ),
    errors.DiscoveryMismatch(
        "Okta's discovery document names the issuer 'https://a.okta.com/oauth2/x', but OKTA_ISSUER is "
        "'https://a.okta.com/oauth2/default'. Nobody can sign in until OKTA_ISSUER is set to the exact issuer."
    ),
    errors.OktaApiMisconfigured(
        "Okta refused to tell Airflow your groups. Ask your Airflow administrator to check the Okta API settings.",
        request_id="oktaReq42",
    ),
]
ACCESS = [
    errors.NoMappedRole("carol@example.com", ["marketing", "Everyone"]),
    errors.InactiveUser("Your Airflow account is deactivated. Ask your Airflow administrator to reactivate it."),
    errors.OktaError("access_denied", "User is not assigned to the client application."),
    errors.EmailConflict("Another Airflow user ('bob') already has the email address 'b@example.com'."),
    errors.OktaError("invalid_grant", "The authorization code is invalid or has expired."),
    errors.TokenValidationError("token expired"),
    errors.StateMismatch("This sign-in response does not belong to a sign-in started in this browser."),
]
UNAVAILABLE = [errors.OktaUnavailable("Okta is not answering (token request failed). Try again in a minute.")]


@pytest.mark.parametrize(
    ("error", "category"),
    [*((e, "misconfigured") for e in MISCONFIGURED), *((e, "access") for e in ACCESS)]
    + [(e, "unavailable") for e in UNAVAILABLE],
    ids=lambda v: v if isinstance(v, str) else f"{type(v).__name__}-{getattr(v, 'error', v.code)}",
)
def test_category_of(error: errors.LoginRefused, category: str) -> None:
    """Tell a configuration problem (an administrator's) from the person's and from Okta being down."""
    assert errors.classify(error).category == category


def test_every_okta_hint_naming_a_setting_is_a_misconfiguration() -> None:
    """Okta errors whose message names OKTA_ settings are never shown to the person as they are."""
    naming_settings = {code for code, hint in errors._OKTA_HINTS.items() if SETTING_NAME.search(hint)}
    assert naming_settings
    assert naming_settings <= errors.MISCONFIGURED_OKTA_ERRORS


@pytest.mark.parametrize("error", MISCONFIGURED, ids=lambda e: f"{type(e).__name__}-{getattr(e, 'error', e.code)}")
def test_misconfiguration_page_is_one_plain_sentence_with_the_codes(error: errors.LoginRefused) -> None:
    """No setting names, fixes or URLs for the person: the sentence, the reason code, the request ids."""
    page, status = render(error)
    assert status == 403
    assert MISCONFIGURED_MESSAGE in page
    assert f'id="okta-reason">{error.code}<' in page
    assert 'id="okta-request-id">req-123<' in page
    assert not SETTING_NAME.search(page), SETTING_NAME.findall(page)
    assert error.message not in page
    assert "https://" not in page
    assert "okta-switch-account" not in page  # another account can't fix Airflow's configuration
    assert f'href="{RETRY}"' in page
    if isinstance(error, errors.OktaError):
        assert f'id="okta-error">{error.error}<' in page  # for the administrator: which OAuth error
    if error.request_id:
        assert f'id="okta-okta-request-id">{error.request_id}<' in page


def test_no_mapped_role_page_explains_and_offers_another_account() -> None:
    """Name the Okta user and the groups, and link both "Try again" and "Sign in with another account"."""
    page, status = render(ACCESS[0])
    assert status == 403
    assert "No Airflow role for your Okta groups" in page
    assert 'id="okta-username">carol@example.com<' in page
    assert "<code>marketing</code>" in page
    assert "<code>Everyone</code>" in page
    assert (
        f'<a id="okta-switch-account" href="{SWITCH}" class="af-button af-secondary">Sign in with another account</a>'
        in page
    )
    assert f'<a id="okta-retry" href="{RETRY}" class="af-button af-primary">Try again</a>' in page
    assert MISCONFIGURED_MESSAGE not in page


@pytest.mark.parametrize("error", ACCESS[1:], ids=lambda e: f"{type(e).__name__}-{getattr(e, 'error', e.code)}")
def test_other_refusals_show_their_message_and_offer_another_account(error: errors.LoginRefused) -> None:
    page, status = render(error)
    assert status == 403
    assert "Sign-in refused" in page
    assert (okta_refused_message(error) if isinstance(error, errors.OktaError) else error.message) in page
    assert 'id="okta-switch-account"' in page
    assert "okta-username" not in page
    assert "okta-groups" not in page


def test_okta_unavailable_is_503_with_try_again_only() -> None:
    page, status = render(UNAVAILABLE[0])
    assert status == 503
    assert "Okta is not answering" in page
    assert 'id="okta-retry"' in page
    assert "okta-switch-account" not in page


def test_without_a_switch_url_there_is_no_switch_link() -> None:
    page, _ = refusal_page(ACCESS[0], retry_url=RETRY)
    assert "okta-switch-account" not in page
    assert "okta-request-id" not in page


def test_untrusted_text_is_escaped_and_bounded() -> None:
    """Okta's error code arrives in the callback's query string: escape it and cut it short."""
    error = errors.OktaError("<script>alert(1)</script>" + "x" * 500, "<b>desc</b>")
    raw, _ = refusal_page(error, retry_url=RETRY, switch_url=SWITCH, request_id="r")
    assert "<script>" not in raw
    assert "<b>desc</b>" not in raw
    shown = re.search(r'id="okta-error">([^<]*)<', raw)
    assert shown is not None
    assert len(html.unescape(shown.group(1))) <= 64


SPOOF = "Your Airflow password expired. Enter it again at https://evil.example/airflow to keep access. "


def test_okta_s_words_are_labelled_as_okta_s_and_capped() -> None:
    """Okta's description is shown apart from Airflow's own words, labelled, and cut to a sentence or two."""
    error = errors.OktaError("access_denied", SPOOF * 20)
    raw, status = refusal_page(error, retry_url=RETRY, switch_url=SWITCH, request_id="r", okta_response_verified=True)
    page = html.unescape(raw)
    assert status == 403
    own = re.search(r'id="okta-refusal-message">([^<]*)<', page)
    assert own is not None
    assert "evil.example" not in own.group(1)  # Airflow never speaks Okta's text in its own voice
    said = re.search(r"Okta's description of the error:\s*<q id=\"okta-error-description\">([^<]*)</q>", page)
    assert said is not None, page
    assert said.group(1).startswith("Your Airflow password expired.")
    assert len(said.group(1)) <= MAX_SHOWN_DESCRIPTION_CHARS
    assert '<dt>Okta error</dt><dd><code id="okta-error">access_denied</code>' in page
    assert "ask your Okta administrator to assign you" in own.group(1)  # Airflow's own hint, by the code


def test_okta_s_words_are_not_shown_for_a_response_to_no_sign_in_of_this_browser() -> None:
    """A forged callback link carries text nobody at Okta wrote: show the code, withhold the text."""
    error = errors.OktaError("access_denied", SPOOF)
    page = html.unescape(refusal_page(error, retry_url=RETRY, switch_url=SWITCH, request_id="r")[0])
    assert "evil.example" not in page
    assert "Your Airflow password expired" not in page
    assert 'id="okta-error">access_denied<' in page
    assert "not shown" in page


def test_each_fact_appears_once():
    """The person's login and each group are listed once, not repeated in the explanation."""
    page, _ = render(errors.NoMappedRole("carol@example.com", ["marketing", "Everyone"]))
    assert page.count("carol@example.com") == 1
    assert page.count("marketing") == 1
    assert page.count("no_mapped_role") == 1
    assert "None of these groups is mapped to an Airflow role" in page
    missing, _ = render(errors.MappedRoleMissing("dave@example.com", ["ops"], ["Op"]))
    assert missing.count("dave@example.com") == 1


def test_the_page_has_airflow_s_header_and_no_script():
    """Airflow's logo from the installed package, a card, and nothing that needs JavaScript."""
    page, _ = render(ACCESS[0])
    assert re.search(r'<img id="airflow-logo" src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', page)
    assert 'class="af-card"' in page
    assert "<script" not in page.lower()
    assert " on" + "click=" not in page.lower()


def test_many_groups_are_listed_up_to_a_bound():
    groups = [f"g{i:03d}-" + "x" * 400 for i in range(120)]
    facts = refusal_facts(errors.NoMappedRole("a" * 5000, groups), retry_url=RETRY)
    assert all(len(g) <= MAX_SHOWN_GROUP_CHARS for g in facts["groups"])
    assert sum(map(len, facts["groups"])) <= MAX_SHOWN_GROUPS_CHARS
    assert len(facts["groups"]) + facts["more_groups"] == 120
    assert len(facts["username"]) <= MAX_SHOWN_USERNAME_CHARS
    assert len(json.dumps(facts)) < 2500  # kept in the session, which may be a cookie
    page = html.unescape(render_refusal(facts)[0])
    assert f"and {facts['more_groups']} more" in page
    short = refusal_facts(errors.NoMappedRole("a", [f"g{i}" for i in range(80)]), retry_url=RETRY)
    assert len(short["groups"]) == MAX_SHOWN_GROUPS
    assert short["more_groups"] == 80 - MAX_SHOWN_GROUPS


def test_step_up_required_offers_get_role_first() -> None:
    error = errors.StepUpRequired("ann@example.com", ["Op", "Admin"], "the sign-in used a single factor")
    facts = refusal_facts(error, retry_url=RETRY, step_up_url="/auth/login/okta?step_up=1")
    page, status = render_refusal(facts)
    assert status == 403
    assert errors.classify(error).category == "access"
    assert (
        '<a id="okta-step-up" href="/auth/login/okta?step_up=1" class="af-button af-primary">Get Admin, Op</a>' in page
    )
    assert 'id="okta-retry" href="/auth/login/okta" class="af-button af-secondary"' in page
    assert "single factor" in html.unescape(page)


def test_foreign_issuer_page_never_echoes_the_link() -> None:
    page, status = render(errors.ForeignIssuer())
    assert status == 403
    assert "identity provider this Airflow does not use" in page
    assert 'id="okta-step-up"' not in page
