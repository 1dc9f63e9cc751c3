"""Tests for okta_security.audit.redaction: secrets never leave, in time linear in the input."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from okta_security.audit import redaction
from okta_security.audit.redaction import REDACTED, is_secret_name, redact

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiIwMHUxIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("id_token", True),
        ("access_token", True),
        ("client_secret", True),
        ("code", True),
        ("authCode", True),
        ("code_verifier", True),
        ("password", True),
        ("Authorization", True),
        ("cookie", True),
        ("client_assertion", True),
        ("api_key", True),
        ("private_key", True),
        ("jti", False),
        ("token_jti", False),
        ("token_type", False),
        ("reason", False),
        ("sub", False),
        ("okta_sid", False),
        ("request_id", False),
        ("roles", False),
        ("error", False),
        ("groups", False),
    ],
)
def test_secret_field_names(name: str, secret: bool):
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (JWT, REDACTED),
        (f"token was {JWT} here", f"token was {REDACTED} here"),
        ("SSWS 00abcdef", REDACTED),
        ("Bearer abc.def", REDACTED),
        ("basic dXNlcjpwYXNz", REDACTED),
        ("alice@example.com", "alice@example.com"),
        (["a", JWT], ["a", REDACTED]),
        ({"nested": {"refresh_token": "r", "ok": 1}}, {"nested": {"refresh_token": REDACTED, "ok": 1}}),
        ({"a", "b"}, ["a", "b"]),
        (None, None),
        (3, 3),
    ],
)
def test_redact_values(value: object, expected: object):
    assert redact(value) == expected


# -- bounded work on untrusted input ------------------------------------------------------------

# The JWT pattern redaction used before it became a linear scan: kept as the reference its
# replacement must agree with on every input.
_REFERENCE_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def _cpu_seconds(text: str, repeats: int = 3) -> float:
    """Return the least CPU time of a few redactions of ``text`` (the least is the least noisy)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        redact(text)
        best = min(best, time.process_time() - start)
    return max(best, 1e-6)


@pytest.mark.parametrize(
    "unit",
    [
        "eyJ",  # every position starts a would-be token that never finds its dot
        "eyJaaaaa.",  # a dot after each would-be header, never a payload and a second dot
        "eyJaaaaa.b",
        "xeyJ-",
    ],
)
def test_redaction_is_linear_on_hostile_input(unit: str):
    """Ten times the input costs about ten times the work, not a hundred (a quadratic scan)."""
    small = unit * (10_000 // len(unit))
    large = unit * (100_000 // len(unit))
    ratio = _cpu_seconds(large) / _cpu_seconds(small)
    assert ratio < 30, f"redacting 10x more text took {ratio:.0f}x longer"


@pytest.mark.parametrize("unit", ["eyJ", "eyJaaaaa.", "eyJaaaaa.b.", "x.eyJ-", f"{JWT} "])
def test_redaction_looks_at_each_character_once(monkeypatch: pytest.MonkeyPatch, unit: str):
    """Counted, not timed: the JWT check sees each character of the input in at most one run."""
    seen: list[int] = []
    check = redaction._redact_jwts

    def counting(run: str) -> str:
        seen.append(len(run))
        return check(run)

    monkeypatch.setattr(redaction, "_redact_jwts", counting)
    text = unit * (200_000 // len(unit))
    redact(text)
    assert sum(seen) <= len(text)


def test_redaction_of_a_megabyte_is_quick():
    start = time.process_time()
    redacted = redact("eyJ" * 350_000)
    assert time.process_time() - start < 2.0
    assert len(redacted) <= redaction.MAX_TEXT_CHARS + 1


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="eyJab0_-.. \n", max_size=60))
def test_linear_redaction_finds_what_the_pattern_found(text: str):
    assert redact(text) == _REFERENCE_JWT.sub(REDACTED, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{JWT}.{JWT}", f"{REDACTED}.{REDACTED}"),
        (f"x{JWT}y", f"x{REDACTED}"),
        ("eyJshort.a.b", REDACTED),  # five characters after eyJ are enough
        ("eyJshor.a.b", "eyJshor.a.b"),  # four are not
        ("eyJabcde..c", "eyJabcde..c"),  # an empty payload segment is not a JWS
        ("eyJabcde.b.", REDACTED),
    ],
)
def test_linear_redaction_examples(text: str, expected: str):
    assert redact(text) == expected


def test_a_secret_cut_short_is_still_redacted():
    """Redaction runs before the cut: the head of a long JWT never survives as plain text."""
    token = "eyJ" + "a" * 3000 + ".b.c"
    assert redact(f"see {token}") == f"see {REDACTED}"
