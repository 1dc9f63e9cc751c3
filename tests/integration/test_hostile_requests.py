"""No request to the sign-in, callback, logout or event-hook endpoints gives a 500, whatever it carries.

Named query parameters first (each once gave a 500: ``url_for(..., **request.args)`` passed
``provider`` twice or ``_method`` to the URL builder), then a bounded fuzz run of random and
hostile query strings, headers, cookies and bodies against a real api-server.
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EVENT_HOOK_SECRET
from tests.integration.helpers import okta_login

if TYPE_CHECKING:
    from tests.conftest import Stack

ALICE = ("alice.admin@example.com", "Admin-pass-1")
FUZZ_REQUESTS = 300  # about 30 s against one api-server on two cores
SERVER_ERROR_MARKERS = ("Traceback", "Internal Server Error", 'File "/')
pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)  # one database is enough here


def assert_handled(response: requests.Response) -> None:
    """No 500 (or 502 from a crashed worker) and nothing of a traceback in the body."""
    assert response.status_code not in (500, 502), (response.request.method, response.url, response.text[:800])
    for marker in SERVER_ERROR_MARKERS:
        assert marker not in response.text, (response.url, response.text[:800])


@pytest.mark.parametrize(
    "query",
    [
        "provider=x",
        "provider=okta",
        "_method=POST",
        "_external=1",
        "_anchor=x&_scheme=javascript",
        "endpoint=x&values=1",
        "provider=x&provider=y&next=/dags",
        "next=%2Fdags&_method=POST&provider=evil",
        "exp=soon&nbf=x&iat=y&aud=1&sub=2&jti=3",  # JWT claim names: FAB put the whole query in its state token
    ],
)
@pytest.mark.parametrize("start", ["/auth/login/", "/auth/login/elsewhere"])
def test_the_login_page_forwards_any_query_to_okta_s_sign_in(af: Stack, start: str, query: str) -> None:
    first = requests.get(f"{af.url}{start}?{query}", allow_redirects=False, timeout=30)
    assert_handled(first)
    assert first.status_code == 302, first.text[:500]
    target = urlsplit(first.headers["Location"])
    assert target.path == "/auth/login/okta"
    assert parse_qs(target.query) == parse_qs(query)  # every parameter kept, none interpreted (iss: see below)
    to_okta = requests.get(f"{af.url}{target.path}?{target.query}", allow_redirects=False, timeout=30)
    assert_handled(to_okta)
    assert to_okta.status_code == 302
    assert to_okta.headers["Location"].startswith(f"{af.issuer}/v1/authorize?")


def test_an_empty_iss_is_no_issuer_of_airflows_and_is_refused_before_okta(af: Stack) -> None:
    # OIDC Core §4: ``iss`` starts a third-party initiated login; an empty one names no issuer at all.
    first = requests.get(f"{af.url}/auth/login/okta?iss=&exp=soon", allow_redirects=False, timeout=30)
    assert_handled(first)
    assert first.status_code == 303
    assert urlsplit(first.headers["Location"]).path == "/auth/okta/refused/"


def test_next_survives_the_detour_and_lands_after_sign_in(af: Stack) -> None:
    session = requests.Session()
    first = session.get(f"{af.url}/auth/login/?next=%2Fdags&provider=x", allow_redirects=False, timeout=30)
    assert parse_qs(urlsplit(first.headers["Location"]).query)["next"] == ["/dags"]
    _, final = okta_login(af.url, *ALICE, next_path="/dags")
    assert urlsplit(final.url).path.rstrip("/") == "/dags", final.url


# -- fuzz ---------------------------------------------------------------------------------------

PATHS = [
    "/auth/login/",
    "/auth/login/okta",
    "/auth/login/elsewhere",
    "/auth/oauth-authorized/okta",
    "/auth/oauth-authorized/github",
    "/auth/okta/logout/",
    "/auth/logout/",
    "/auth/okta/events",
]
# Names with a meaning to Flask's URL builder, FAB, OAuth or okta_security.
KEYS = [
    "provider", "_method", "_external", "_anchor", "_scheme", "next", "state", "code", "error",
    "error_description", "error_uri", "prompt", "iss", "session_state", "endpoint", "values", "lang",
]  # fmt: skip
HOSTILE = [
    "",
    "\x00",
    "\r\nSet-Cookie: x=y",
    "%",
    "%zz%ff%fe",
    "<script>alert(1)</script>",
    "'\"`;--",
    "../../../../etc/passwd",
    "//evil.example/",
    "javascript:alert(1)",
    "\u202e\u2066\ufeff",
    "eyJ" * 3000,
    "A" * 20000,
    "a.b.c",
    "null",
    "okta",
]
PRINTABLE = st.text(alphabet=string.printable.replace("\r", "").replace("\n", ""), max_size=300)
HEADER_VALUES = st.one_of(
    st.sampled_from(["same-origin", "cross-site", "same-site", "none", "https://evil.example", "null", "a" * 8000]),
    st.text(alphabet=[chr(c) for c in range(0x20, 0x7F)], max_size=200).map(str.strip),  # requests refuses " x"
)
HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "Sec-Fetch-Site",
            "Origin",
            "Referer",
            "X-Forwarded-For",
            "X-Forwarded-Proto",
            "X-Forwarded-Host",
            "X-Request-Id",
            "Content-Type",
            "Authorization",
            "x-okta-verification-challenge",
            "Accept",
            "Accept-Language",
            "Cookie",
        ]  # fmt: skip
    ),
    HEADER_VALUES,
    max_size=5,
)
BODIES = st.one_of(
    st.none(),
    st.binary(max_size=2000),
    st.sampled_from(
        [
            b"{}",
            b"[]",
            b'{"data": {"events": null}}',
            b'{"data": {"events": [{"eventType": "user.lifecycle.deactivate", "uuid": ""}]}}',
            b'{"data": {"events": [{"eventType": "group.user_membership.add", "target": [{"type": "User"}]}]}}',
            b'{"data": {"events": [{"uuid": "x", "published": "2999-01-01T00:00:00Z", "target": "nope"}]}}',
            b'{"a": ' * 5000,
            b"\xff\xfe\x00",
        ]
    ),
)


@st.composite
def hostile_requests(draw: st.DrawFn) -> dict:
    params = draw(
        st.lists(
            st.tuples(st.one_of(st.sampled_from(KEYS), PRINTABLE), st.one_of(st.sampled_from(HOSTILE), PRINTABLE)),
            max_size=6,
        )
    )
    headers = dict(draw(HEADERS))
    if draw(st.booleans()):
        headers["Authorization"] = EVENT_HOOK_SECRET  # reach past the event hook's secret check too
    method = draw(st.sampled_from(["GET", "GET", "POST", "HEAD"]))
    return {
        "method": method,
        "path": draw(st.sampled_from(PATHS)),
        "params": params,
        "headers": headers,
        "data": draw(BODIES) if method == "POST" else None,
        "cookies": {"session": draw(st.one_of(st.sampled_from(HOSTILE[:11]), PRINTABLE))},
    }


@settings(
    max_examples=FUZZ_REQUESTS,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(hostile_requests())
def test_no_request_gives_a_server_error(af: Stack, req: dict) -> None:
    cookies = {k: v for k, v in req["cookies"].items() if v.isprintable() and ";" not in v}
    response = requests.request(
        req["method"],
        f"{af.url}{req['path']}",
        params=req["params"],
        headers=req["headers"],
        data=req["data"],
        cookies=cookies,
        allow_redirects=False,
        timeout=60,
    )
    assert_handled(response)


def test_after_the_fuzz_the_server_still_signs_people_in_and_logged_no_unhandled_error(af: Stack) -> None:
    session, final = okta_login(af.url, *ALICE)
    assert final.status_code == 200, final.text[:500]
    assert session.get(f"{af.url}/api/v2/dags", timeout=30).status_code == 200
    assert "Exception on /" not in af.airflow.log_tail(5_000_000)  # Flask's line for an unhandled error
