"""Tests for okta_security.untrusted: bounding and escaping text from outside."""

from __future__ import annotations

import time

import pytest

from okta_security.untrusted import (
    CALLBACK_PARAM_CHARS,
    OTHER_PARAM_CHARS,
    bounded,
    bounded_params,
    loggable,
    printable,
)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("access_denied", 64, "access_denied"),
        ("x" * 64, 64, "x" * 64),
        ("x" * 65, 64, "x" * 63 + "…"),
        ("abc", 1, "…"),
        ("abc", 0, ""),
        (None, 10, "None"),
    ],
)
def test_bounded(text: object, limit: int, expected: str):
    assert bounded(text, limit) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text, ünïcödé", "plain text, ünïcödé"),
        ("a\nb", "a\\x0ab"),
        ("a\r\nb", "a\\x0d\\x0ab"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("tab\there", "tab\\x09here"),
        ("nel\x85x", "nel\\x85x"),
        ("line\u2028sep", "line\\u2028sep"),
        ("\u202egnp.exe", "\\u202egnp.exe"),  # right-to-left override
    ],
)
def test_printable_escapes_what_breaks_or_disguises_a_line(text: str, expected: str):
    assert printable(text) == expected


def test_loggable_bounds_before_escaping():
    text = loggable("\n" * 10_000, limit=10)
    assert "\n" not in text
    assert text == "\\x0a" * 9 + "…"


def test_callback_params_are_cut_to_their_limits():
    params = bounded_params({"error": "e" * 1000, "error_description": "d" * 10_000, "x" * 999: "v" * 999})
    assert len(params["error"]) == CALLBACK_PARAM_CHARS["error"] == 64
    assert len(params["error_description"]) == CALLBACK_PARAM_CHARS["error_description"] == 500
    [other] = [k for k in params if k.startswith("x")]
    assert len(other) == len(params[other]) == OTHER_PARAM_CHARS


def test_escaping_a_megabyte_is_linear():
    start = time.process_time()
    printable("\n\x00a" * 350_000)
    assert time.process_time() - start < 1.0
