"""Tests for okta_security.errors: what an error keeps of text that came from outside."""

from __future__ import annotations

import pytest

from okta_security import errors
from okta_security.errors import OktaError


def test_okta_error_keeps_a_bounded_code_and_description():
    """Okta's (or a forged callback's) error is cut to what an OAuth error can be."""
    error = OktaError("access_denied" * 1000, "User is not assigned. " * 1000)
    assert len(error.error) <= 64
    assert len(error.description) <= 500
    assert len(error.message) < 1000


def test_okta_error_message_is_one_line():
    """A line break in error_description cannot start a second (forged) log line."""
    error = OktaError("access_denied\n", "denied\nINFO okta_security: login of admin succeeded\r")
    assert "\n" not in error.message
    assert "\r" not in error.message
    assert "\\x0aINFO okta_security" in error.message
    assert error.description.startswith("denied\n")  # kept as Okta sent it (bounded) for the page


@pytest.mark.parametrize(
    ("error", "outage", "category", "api_status", "grant_status"),
    [
        (errors.NoMappedRole("ann", ("x",)), False, "access", 403, 400),
        (errors.StaleToken("old"), False, "access", 403, 400),
        (errors.OktaUnavailable("down"), True, "unavailable", 503, 503),
        (errors.DatabaseUnavailable("down"), True, "unavailable", 503, 503),
        (errors.OktaKeysUnavailable("no keys"), True, "unavailable", 503, 503),
        (errors.OktaApiMisconfigured("creds"), False, "misconfigured", 403, 400),
        (errors.OktaError("invalid_client", None), False, "misconfigured", 403, 400),
        (errors.OktaError("access_denied", None), False, "access", 403, 400),
        (errors.AccessTokenRejected("expired", "expired"), False, "access", 401, 400),
        (errors.AgentNotMapped("not listed", client_id="agent"), False, "access", 403, 400),
        (errors.AgentNoCommonRole("no role", client_id="agent"), False, "access", 403, 400),
    ],
)
def test_one_table_says_what_a_refusal_means_at_every_door(error, outage, category, api_status, grant_status):
    row = errors.classify(error)
    assert (row.outage, row.category, row.api_status, row.grant_status) == (outage, category, api_status, grant_status)
    assert row.kind is type(error)


def _subclasses(cls: type) -> list[type]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _subclasses(direct))]


@pytest.mark.parametrize(
    ("base", "event", "least"),
    [
        (errors.LoginRefused, "login.refused", 5),
        (errors.BotRefused, "bot.token_refused", 5),
        (errors.AgentRefused, "agent.token_refused", 2),
    ],
)
def test_every_refusal_code_has_its_row_and_its_audit_event(base, event, least):
    """A refusal class with a code of its own is in the table, under that code, with its door's audit event."""
    coded = [
        cls
        for cls in _subclasses(base)
        if "code" in vars(cls) and (base is errors.AgentRefused or not issubclass(cls, errors.AgentRefused))
    ]
    assert len(coded) >= least
    for cls in coded:
        row = errors.REFUSALS[cls.code]
        assert (row.kind, row.audit_event) == (cls, event)
        assert row.outage == (row.api_status == 503)


def test_codes_are_unique_and_the_bot_status_is_the_tables():
    codes = [cls.code for cls in _subclasses(errors.OktaSecurityError) if "code" in vars(cls)]
    assert len(codes) == len(set(codes))
    assert errors.UnmappedClient("no role").http_status == 403
    assert errors.AccessTokenRejected("expired", "expired").http_status == 401
    assert errors.OktaKeysUnavailable("no keys").http_status == 503
