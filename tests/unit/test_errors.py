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
    ],
)
def test_one_table_says_what_a_refusal_means_at_every_door(error, outage, category, api_status, grant_status):
    assert errors.classify(error) == errors.Classification(outage, category, api_status, grant_status)
