"""``okta-airflow login``: sign in to Okta on this device and get an Airflow API token for yourself.

Okta's native app ``OKTA_CLI_CLIENT_ID`` (a public client: no secret) runs the device grant of
:mod:`okta_security.cli.device_flow`: this command shows where to enter the user code (and opens
the browser when there is one), then exchanges the person's Okta access token at Airflow's
``POST /auth/token/cli`` (RFC 7523 jwt-bearer grant) for an Airflow token with the person's own roles.

Reads only the settings it needs — the issuer (``OKTA_BOT_ISSUER``, else ``OKTA_ISSUER``), the
client id and the scopes — in the server's three forms (``OKTA_X``, ``[okta] x`` in airflow.cfg,
``AIRFLOW__OKTA__X``; :func:`okta_security.cli.setting`) and says on stderr which one it used. It
runs on a laptop without the server's configuration and without Airflow (then only ``OKTA_*``).

Okta's answers are untrusted text: whatever it prints is bounded and escaped, and it opens a
browser only on a verification page at the issuer's own host. The Okta token travels only over
https:// (or to a loopback host).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import webbrowser
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

import requests

from okta_security import __version__
from okta_security.cli import EXIT_OK, UsageError, add_command, setting
from okta_security.cli.device_flow import (
    DEFAULT_TIMEOUT,
    URL_CHARS,
    DeviceAuthorization,
    DeviceFlow,
    DeviceSignInFailed,
    insecure,
    json_object,
)
from okta_security.cli.output import report_stream
from okta_security.errors import NoMappedRole
from okta_security.people.person_tokens import unverified_claims
from okta_security.people.token_request import JWT_BEARER
from okta_security.untrusted import OAUTH_ERROR_CHARS, loggable, printable

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

LONG_INTERVAL = 300  # RFC 8628 §3.5: any interval is honoured; past 5 minutes the person is told why it is slow
MAX_EXP = 253_402_300_799  # 9999-12-31T23:59:59Z: a later exp cannot be shown as a date
USER_CODE_CHARS = 64  # Okta's user codes are 8 letters; anything longer is cut when printed
TOKEN_ENV = "AIRFLOW_CLI_TOKEN"  # where airflowctl reads a token from (and `airflowctl auth login` stores it)

HELP = "sign in to Okta on this device and get an Airflow API token for yourself"
DESCRIPTION = """\
Sign in to Okta on this device (you approve it in any browser, with MFA as your organisation
requires) and get an Airflow API token for yourself, with the roles your Okta groups give you.

It prints where to go and a code; once you approve, the Okta token is exchanged at the Airflow
URL for an Airflow token. The settings it reads (only these): the issuer, --issuer or
OKTA_BOT_ISSUER / OKTA_ISSUER; the Okta app, --client-id or OKTA_CLI_CLIENT_ID; the scope,
--scope or OKTA_BOT_SCOPES. Each setting is read as the server reads it: OKTA_X (or OKTA_X_FILE),
else [okta] x in airflow.cfg or AIRFLOW__OKTA__X when Airflow is installed here; the command
says on stderr which one it used.

Output on stdout (messages go to stderr):
  default   export AIRFLOW_CLI_TOKEN=<token>     eval "$(okta-airflow login --airflow-url URL)"
  --print   the token alone                     for curl, or airflowctl (below)
  --json    {"access_token", "token_type", "expires_at", "airflow_url", ...}

With airflowctl:
  AIRFLOW_CLI_TOKEN="$(okta-airflow login --airflow-url URL --print)" airflowctl auth login --api-url URL

Exit codes:
  0  signed in
  1  not signed in: you denied it, the code expired, Okta or Airflow refused (the message says why)
  2  usage error"""


def register(subparsers: Any) -> None:
    """Add the ``login`` subcommand."""
    parser = add_command(subparsers, "login", HELP, DESCRIPTION)
    parser.add_argument("--airflow-url", metavar="URL", default="", help="Airflow's base URL (its [api] base_url)")
    parser.add_argument(
        "--issuer", default="", help="Okta authorization server (default: OKTA_BOT_ISSUER, OKTA_ISSUER)"
    )
    parser.add_argument("--client-id", default="", help="the Okta native app (default: first of OKTA_CLI_CLIENT_ID)")
    parser.add_argument("--scope", default="", help="scopes to ask Okta for (default: OKTA_BOT_SCOPES)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--print", action="store_true", dest="print_token", help="print only the Airflow token")
    output.add_argument("--json", action="store_true", help="print the token and its expiry as JSON")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser; just print where to go")
    parser.add_argument(
        "--okta-token",
        action="store_true",
        help="stop at Okta: print the Okta access token instead of exchanging it (Airflow 2.11 takes it as is)",
    )
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per HTTP call (default 10)")
    parser.set_defaults(func=run)


def exchange(http: requests.Session, airflow_url: str, okta_token: str, timeout: float) -> str:
    """Trade the person's Okta access token for an Airflow token at ``POST /auth/token/cli``."""
    url = airflow_url.rstrip("/") + "/auth/token/cli"  # under the base URL, its path kept
    try:
        response = http.post(url, data={"grant_type": JWT_BEARER, "assertion": okta_token}, timeout=timeout)
    except requests.RequestException as e:
        raise DeviceSignInFailed(
            "unreachable", f"Airflow at {airflow_url} is not answering ({type(e).__name__}). Check --airflow-url."
        ) from e
    body = json_object(response, f"Airflow at {airflow_url}")
    token = body.get("access_token")
    if response.status_code in (200, 201) and isinstance(token, str) and token:
        return token
    error = body.get("error")
    if isinstance(error, str):
        message = loggable(body.get("message") or body.get("error_description") or "", 1000)
        code = loggable(body.get("code") or error, OAUTH_ERROR_CHARS)
        raise DeviceSignInFailed(error, f"Airflow refused the sign-in [{code}]: {message}")
    raise DeviceSignInFailed(
        f"http_{response.status_code}",
        f"Airflow at {url} answered HTTP {response.status_code} without a token: is this Airflow 3 with "
        "okta_security's auth manager and OKTA_CLI_CLIENT_ID set? (On Airflow 2.11 use --okta-token: its API "
        "takes the Okta token itself.)",
    )


NO_GROUPS_HELP = (
    "Airflow got no Okta groups for you: your Okta access token carries no {claim!r} claim, and Airflow read "
    "no groups from Okta's Groups API (it has no Okta API credentials, or OKTA_GROUPS_SOURCE=claims). Either "
    "add a groups claim to access tokens on the authorization server (Okta: Security > API > Authorization "
    "Servers > Claims: name {claim!r}, token type Access Token, value type Groups; the local IdP: "
    "server.access_token_groups_claim: true), or give Airflow Okta API credentials (OKTA_API_TOKEN, or "
    "OKTA_API_CLIENT_ID with OKTA_API_PRIVATE_KEY) so it reads your groups from Okta (docs/people-api.md)."
)


def explain_refusal(error: DeviceSignInFailed, okta_token: str, groups_claim: str) -> DeviceSignInFailed:
    """Add why a person's refusal happened when the Okta token shows it: no groups in the token."""
    if f"[{NoMappedRole.code}]" not in error.message or groups_claim in unverified_claims(okta_token):
        return error
    if "groups: (none)" not in error.message:  # the server found groups elsewhere: they map to no role
        return error
    return DeviceSignInFailed(error.error, f"{error.message}\n{NO_GROUPS_HELP.format(claim=groups_claim)}")


def token_expiry(token: str) -> int | None:
    """Return the ``exp`` of a JWT without verifying it (for display only), or None."""
    exp = unverified_claims(token).get("exp")
    # time.localtime() overflows past year 9999; bool is no timestamp
    return exp if isinstance(exp, int) and not isinstance(exp, bool) and 0 < exp <= MAX_EXP else None


def can_open_browser() -> bool:
    """Return whether a graphical browser is likely here (never a terminal one: it would take over the terminal)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(args: argparse.Namespace) -> int:
    """Sign in on this device; print the token as asked; return 0 (or raise DeviceSignInFailed)."""
    return sign_in(args)


def sign_in(
    args: argparse.Namespace,
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Run the command with the clock and the sleep given (tests move time by hand)."""
    clock, sleep = clock or time.monotonic, sleep or time.sleep
    issuer, client_id, scope = _settings(args)
    if not args.okta_token and not args.airflow_url:
        raise UsageError("--airflow-url is required (Airflow's base URL), unless --okta-token is given")
    if not args.okta_token:
        _require_https(args.airflow_url, "--airflow-url")
    err = sys.stderr
    with requests.Session() as http:
        http.headers["User-Agent"] = f"okta-airflow-login/{__version__}"
        http.headers["Accept"] = "application/json"
        flow = DeviceFlow(http, issuer, client_id, scope, timeout=args.timeout, clock=clock, sleep=sleep)
        device = flow.start()
        _show(device, issuer, err, open_browser=not args.no_browser and can_open_browser())
        okta = flow.wait(device)
        print("Approved at Okta.", file=err)
        if args.okta_token:
            token, expires_at = okta["access_token"], token_expiry(okta["access_token"])
        else:
            try:
                token = exchange(http, args.airflow_url, okta["access_token"], args.timeout)
            except DeviceSignInFailed as e:
                raise explain_refusal(e, okta["access_token"], setting("OKTA_GROUPS_CLAIM", announce=False)) from e
            expires_at = token_expiry(token)
    _output(args, token, expires_at, report_stream(), err)
    return EXIT_OK


def _settings(args: argparse.Namespace) -> tuple[str, str, str]:
    """Return issuer, client id and scopes: the options first, then the settings as the server reads them."""
    source, issuer = "--issuer", args.issuer
    for name in ("OKTA_BOT_ISSUER", "OKTA_ISSUER"):
        if not issuer:
            source, issuer = name, setting(name)
    issuer = issuer.rstrip("/")
    if not issuer:
        raise UsageError(
            "no Okta issuer: pass --issuer, or set OKTA_ISSUER (or [okta] issuer in airflow.cfg, or "
            "AIRFLOW__OKTA__ISSUER), e.g. https://dev-1.okta.com/oauth2/default"
        )
    _require_https(issuer, source)
    client_id = args.client_id or next(iter(setting("OKTA_CLI_CLIENT_ID").split()), "")
    if not client_id:
        raise UsageError(
            "no Okta app: pass --client-id, or set OKTA_CLI_CLIENT_ID (or [okta] cli_client_id in airflow.cfg, or "
            "AIRFLOW__OKTA__CLI_CLIENT_ID) — ask your Airflow administrator"
        )
    scope = args.scope or setting("OKTA_BOT_SCOPES")
    return issuer, client_id, " ".join(scope.split())


def _require_https(url: str, source: str) -> None:
    if insecure(url):
        raise UsageError(
            f"{source} is {loggable(url, URL_CHARS)!r}: give an https:// URL (your Okta token is sent there, and "
            "over http:// it travels in clear text; http:// is accepted only for localhost, 127.0.0.0/8 and ::1)"
        )


def _unsafe_to_open(url: str, issuer: str) -> str:
    """Return why the verification page must not be opened for the person, or "" when it may be."""
    if printable(url) != url or len(url) > URL_CHARS:
        return "its address holds control characters or is too long"
    if insecure(url):
        return "its address is not an https:// URL"
    # an answer naming another host could send the person to a look-alike page to type the code into
    host, issuer_host = urlsplit(url).hostname, urlsplit(issuer).hostname
    if host != issuer_host:
        return f"it is on {loggable(host, 255)}, not on your issuer's host {issuer_host}"
    return ""


def _show(device: DeviceAuthorization, issuer: str, err: TextIO, *, open_browser: bool) -> None:
    url = device.verification_uri_complete or device.verification_uri
    print("To sign in, open this page in a browser:\n", file=err)
    print(f"    {loggable(url, URL_CHARS)}\n", file=err)
    print(f"and check that it shows the code {loggable(device.user_code, USER_CODE_CHARS)}.", file=err)
    if problem := _unsafe_to_open(url, issuer):
        print(
            f"Warning: Okta's answer names a verification page that may not be your Okta's: {problem}. "
            "No browser was opened; enter the code only on your organisation's Okta sign-in page.",
            file=err,
        )
    elif open_browser and webbrowser.open(url):
        print("(A browser was opened for you.)", file=err)
    if device.interval > LONG_INTERVAL:
        print(
            f"Okta asks this device to wait {device.interval} s between checks (RFC 8628 §3.5), so your approval "
            "may take that long to be noticed.",
            file=err,
        )
    minutes = max(1, round(device.expires_in / 60))
    print(f"Waiting for your approval (the code expires in {minutes} minute(s))...", file=err, flush=True)


def _output(args: argparse.Namespace, token: str, expires_at: int | None, out: TextIO, err: TextIO) -> None:
    what = "Okta access token" if args.okta_token else "Airflow token"
    until = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(expires_at)) if expires_at else "unknown"
    if args.json:
        report = {
            "access_token": token,
            "token_type": "Bearer",
            "kind": "okta" if args.okta_token else "airflow",
            "expires_at": expires_at,
            "airflow_url": args.airflow_url or None,
        }
        print(json.dumps(report), file=out)
    elif args.print_token or args.okta_token:  # an Okta token is no AIRFLOW_CLI_TOKEN: printed alone
        print(token, file=out)
    else:
        print(f"export {TOKEN_ENV}={shlex.quote(token)}", file=out)
        print(f"Signed in: {what} valid until {until}. eval this command's output to set {TOKEN_ENV}.", file=err)
        return
    print(f"Signed in: {what} valid until {until}.", file=err)
