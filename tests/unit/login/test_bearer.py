"""okta_security.login.bearer: the Authorization header, request facts, RFC 6750 challenges."""

from __future__ import annotations

import pytest

from okta_security.login import bearer


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ({"authorization": "Bearer abc.def.ghi"}, "abc.def.ghi"),
        ({"Authorization": "bearer   abc.def.ghi  "}, "abc.def.ghi"),
        ({"AUTHORIZATION": "BEARER x"}, "x"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, None),
        ({"authorization": ""}, None),
        ({}, None),
    ],
)
def test_bearer_token(headers, token):
    assert bearer.bearer_token(headers) == token


def test_request_facts_keep_only_sane_values():
    facts = bearer.request_facts({"X-Request-Id": "req-1", "X-Forwarded-For": "10.0.0.1, 10.0.0.2"})
    assert facts == {"request_id": "req-1", "forwarded_for": "10.0.0.1, 10.0.0.2"}
    assert bearer.request_facts({"x-request-id": "bad\nvalue", "x-forwarded-for": "x" * 300}) == {}


def test_www_authenticate_is_header_safe():
    header = bearer.www_authenticate("invalid_token", 'a "quoted" \\ value — with\nnewline')
    assert header == (
        'Bearer realm="Airflow", error="invalid_token", error_description="a \'quoted\' \' value   with newline"'
    )
    header.encode("latin-1")
