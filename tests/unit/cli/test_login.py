"""``okta-airflow login``: every answer Okta's device flow can give, Airflow's exchange, and what is printed.

Okta and Airflow are mocked at the transport (``responses``); the clock is a FakeClock, so waiting
for approval takes no real time and the waits themselves are asserted.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import pytest
import requests
import responses

from okta_security.cli import build_parser, main
from okta_security.cli import login as cli_login
from okta_security.cli.device_flow import DeviceAuthorization, DeviceFlow, DeviceSignInFailed
from okta_security.cli.login import can_open_browser, exchange, token_expiry
from tests.unit.fake_clock import FakeClock

ISSUER = "https://dev-1.okta.com/oauth2/default"
AIRFLOW = "https://airflow.example.com"
CLI = "0oacli0000000000000x"
DEVICE_ENDPOINT = f"{ISSUER}/v1/device/authorize"
TOKEN_ENDPOINT = f"{ISSUER}/v1/token"
DEVICE = {
    "device_code": "dev-code-1",
    "user_code": "WDJBMJHT",
    "verification_uri": "https://dev-1.okta.com/activate",
    "verification_uri_complete": "https://dev-1.okta.com/activate?user_code=WDJBMJHT",
    "expires_in": 600,
    "interval": 5,
}


def jwt_with(exp: int) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS512'})}.{part({'sub': '7', 'exp': exp})}.c2ln"


OKTA_TOKEN = jwt_with(1_800_003_600)
AIRFLOW_TOKEN = jwt_with(1_800_003_000)


def discovery(**over: object) -> dict:
    body = {
        "issuer": ISSUER,
        "device_authorization_endpoint": DEVICE_ENDPOINT,
        "token_endpoint": TOKEN_ENDPOINT,
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def okta(rsps: responses.RequestsMock, *polls: dict | Exception, device: dict | None = None) -> None:
    """Serve discovery, the device authorization and one token endpoint answer per poll, in order."""
    rsps.get(f"{ISSUER}/.well-known/openid-configuration", json=discovery())
    rsps.post(DEVICE_ENDPOINT, json=device or DEVICE)
    for answer in polls:
        if isinstance(answer, Exception):
            rsps.post(TOKEN_ENDPOINT, body=answer)
        elif "access_token" in answer:
            rsps.post(TOKEN_ENDPOINT, json=answer)
        else:
            rsps.post(TOKEN_ENDPOINT, json=answer, status=400)


PENDING = {"error": "authorization_pending", "error_description": "The device authorization is pending."}
SLOW_DOWN = {"error": "slow_down", "error_description": "Wait at least 'interval' seconds."}
APPROVED = {"access_token": OKTA_TOKEN, "token_type": "Bearer", "expires_in": 3600, "scope": "airflow.api"}


def flow(clock: FakeClock) -> DeviceFlow:
    return DeviceFlow(requests.Session(), ISSUER, CLI, "airflow.api", clock=clock, sleep=clock.sleep)


def run_flow(clock: FakeClock, *polls: dict | Exception, device: dict | None = None) -> dict:
    with responses.RequestsMock() as rsps:
        okta(rsps, *polls, device=device)
        sign_in = flow(clock)
        return sign_in.wait(sign_in.start())


# --------------------------------------------------------------------------- polling outcomes


def test_pending_then_approved_polls_every_interval():
    clock = FakeClock()
    assert run_flow(clock, PENDING, PENDING, APPROVED)["access_token"] == OKTA_TOKEN
    assert clock.sleeps == [5, 5, 5]


def test_each_slow_down_adds_five_seconds():
    clock = FakeClock()
    run_flow(clock, SLOW_DOWN, PENDING, SLOW_DOWN, APPROVED)
    assert clock.sleeps == [5, 10, 10, 15]


def test_the_poll_sends_the_device_code_as_a_public_client():
    clock = FakeClock()
    with responses.RequestsMock() as rsps:
        okta(rsps, APPROVED)
        sign_in = flow(clock)
        sign_in.wait(sign_in.start())
        authorize, poll = (parse_qs(c.request.body) for c in rsps.calls[1:])
        assert "Authorization" not in rsps.calls[2].request.headers  # no secret: a native app
    assert authorize == {"client_id": [CLI], "scope": ["airflow.api"]}
    assert poll == {
        "grant_type": ["urn:ietf:params:oauth:grant-type:device_code"],
        "device_code": ["dev-code-1"],
        "client_id": [CLI],
    }


def test_access_denied_ends_the_wait():
    with pytest.raises(DeviceSignInFailed) as info:
        run_flow(FakeClock(), PENDING, {"error": "access_denied", "error_description": "denied"})
    assert info.value.error == "access_denied"
    assert "denied at Okta" in info.value.message


def test_expired_token_from_okta_ends_the_wait():
    with pytest.raises(DeviceSignInFailed) as info:
        run_flow(FakeClock(), PENDING, {"error": "expired_token", "error_description": "The device code has expired."})
    assert info.value.error == "expired_token"
    assert "Run okta-airflow login again" in info.value.message


def test_the_code_expiring_here_stops_polling_without_asking_okta_again():
    clock = FakeClock()
    with pytest.raises(DeviceSignInFailed) as info:
        run_flow(clock, PENDING, PENDING, device={**DEVICE, "expires_in": 12})
    assert info.value.error == "expired_token"
    assert clock.sleeps == [5, 5, 5]  # the third wait ends past the 12 s: no third poll


def test_no_answer_backs_off_then_recovers():
    clock = FakeClock()
    lost = requests.ConnectionError("reset")
    assert run_flow(clock, lost, lost, APPROVED)["access_token"] == OKTA_TOKEN
    assert clock.sleeps == [5, 10, 20]


def test_okta_gone_for_good_is_said_plainly():
    lost = requests.ConnectionError("reset")
    with pytest.raises(DeviceSignInFailed) as info:
        run_flow(FakeClock(), lost, lost, lost)
    assert info.value.error == "unreachable"


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ({"error": "invalid_client", "error_description": "Client authentication failed."}, "check --client-id"),
        ({"error": "invalid_grant", "error_description": "The device code is invalid or has expired."}, "invalid"),
        ({"error": "x" * 500, "error_description": "a\nforged line"}, "a\\x0aforged line"),
    ],
)
def test_other_errors_name_okta_s_code_and_a_fix(answer, words):
    with pytest.raises(DeviceSignInFailed) as info:
        run_flow(FakeClock(), answer)
    assert words in info.value.message
    assert len(info.value.error) <= 64
    assert "\n" not in info.value.message


def test_no_interval_means_five_seconds_and_a_long_one_is_honoured():
    clock = FakeClock()
    run_flow(clock, APPROVED, device={k: v for k, v in DEVICE.items() if k != "interval"})
    run_flow(clock, APPROVED, device={**DEVICE, "interval": 3600, "expires_in": 7200})
    assert clock.sleeps == [5, 3600]  # RFC 8628 §3.5: never sooner than the server asks


def test_slow_down_is_honoured_past_a_minute():
    clock = FakeClock()
    run_flow(clock, SLOW_DOWN, SLOW_DOWN, APPROVED, device={**DEVICE, "interval": 55})
    assert clock.sleeps == [55, 60, 65]


def test_an_interval_longer_than_the_code_s_life_stops_before_polling():
    clock = FakeClock()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        okta(rsps, APPROVED, device={**DEVICE, "interval": 3600, "expires_in": 600})
        sign_in = flow(clock)
        with pytest.raises(DeviceSignInFailed) as info:
            sign_in.wait(sign_in.start())
    assert info.value.error == "invalid_response"
    assert "wait 3600 s between checks but the code expires in 600 s" in info.value.message
    assert clock.sleeps == []


# --------------------------------------------------------------------------- malformed answers

DEEP = "[" * 100_000 + "]" * 100_000  # past the JSON parser's recursion limit


def test_deeply_nested_json_from_the_token_endpoint_is_one_clear_error():
    with responses.RequestsMock() as rsps:
        rsps.get(f"{ISSUER}/.well-known/openid-configuration", json=discovery())
        rsps.post(DEVICE_ENDPOINT, json=DEVICE)
        rsps.post(TOKEN_ENDPOINT, body=DEEP, content_type="application/json")
        sign_in = flow(FakeClock())
        with pytest.raises(DeviceSignInFailed) as info:
            sign_in.wait(sign_in.start())
    assert info.value.error == "invalid_response"
    assert "nested too deeply" in info.value.message


@pytest.mark.parametrize("where", ["discovery", "device", "airflow"])
def test_deeply_nested_json_anywhere_exits_1_without_a_traceback(where, monkeypatch, capsys):
    command([], monkeypatch)
    monkeypatch.setattr(cli_login.time, "sleep", lambda _seconds: None)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        deep = {"body": DEEP, "content_type": "application/json"}
        discovery_answer = deep if where == "discovery" else {"json": discovery()}
        rsps.get(f"{ISSUER}/.well-known/openid-configuration", **discovery_answer)
        rsps.post(DEVICE_ENDPOINT, **(deep if where == "device" else {"json": DEVICE}))
        rsps.post(TOKEN_ENDPOINT, json=APPROVED)
        rsps.post(f"{AIRFLOW}/auth/token/cli", **deep)
        assert main(["login", *ARGS]) == 1
    err = capsys.readouterr().err
    assert "[device_sign_in_failed]" in err
    assert "nested too deeply" in err


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("interval", "1e400"),  # parses to inf: no sleep can take it
        ("interval", "NaN"),
        ("interval", "true"),
        ("expires_in", '"600"'),
        ("expires_in", "-1"),
        ("device_code", "{}"),
        ("verification_uri", "null"),
    ],
)
def test_a_malformed_device_authorization_is_one_clear_error(field, raw):
    fields = {k: json.dumps(v) for k, v in DEVICE.items()} | {field: raw}
    body = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
    with responses.RequestsMock() as rsps:
        rsps.get(f"{ISSUER}/.well-known/openid-configuration", json=discovery())
        rsps.post(DEVICE_ENDPOINT, body=body, content_type="application/json")
        with pytest.raises(DeviceSignInFailed) as info:
            flow(FakeClock()).start()
    assert info.value.error == "invalid_response"
    assert field in info.value.message


def test_a_200_token_answer_without_an_access_token_is_named():
    with pytest.raises(DeviceSignInFailed) as info:
        run_flow(FakeClock(), {"access_token": 7})
    assert (info.value.error, "without an access_token" in info.value.message) == ("invalid_response", True)


# --------------------------------------------------------------------------- starting


@pytest.mark.parametrize(
    ("status", "body", "error", "words"),
    [
        (401, {"error": "invalid_client", "error_description": "Invalid client"}, "invalid_client", "--client-id"),
        (400, {"error": "unauthorized_client"}, "unauthorized_client", "Device Authorization grant"),
        (400, {"error": "invalid_scope"}, "invalid_scope", "--scope"),
        (200, {"user_code": "X"}, "invalid_response", "lacks 'device_code'"),
        (500, "<html>oops</html>", "http_500", "Okta refused to start the sign-in"),
    ],
)
def test_okta_refusing_to_start(status, body, error, words):
    with responses.RequestsMock() as rsps:
        rsps.get(f"{ISSUER}/.well-known/openid-configuration", json=discovery())
        if isinstance(body, dict):
            rsps.post(DEVICE_ENDPOINT, json=body, status=status)
        else:
            rsps.post(DEVICE_ENDPOINT, body=body, status=status)
        with pytest.raises(DeviceSignInFailed) as info:
            flow(FakeClock()).start()
    assert info.value.error == error
    assert words in info.value.message


def test_endpoints_fall_back_to_okta_s_paths():
    with responses.RequestsMock() as rsps:
        rsps.get(f"{ISSUER}/.well-known/openid-configuration", json=discovery(device_authorization_endpoint=None))
        rsps.post(DEVICE_ENDPOINT, json=DEVICE)
        assert flow(FakeClock()).start() == DeviceAuthorization(
            "dev-code-1", "WDJBMJHT", DEVICE["verification_uri"], DEVICE["verification_uri_complete"], 600, 5
        )


def test_another_issuer_in_discovery_is_refused():
    with responses.RequestsMock() as rsps:
        rsps.get(f"{ISSUER}/.well-known/openid-configuration", json=discovery(issuer="https://evil.example.com"))
        with pytest.raises(DeviceSignInFailed) as info:
            flow(FakeClock()).start()
    assert info.value.error == "issuer_mismatch"


def test_an_unreachable_issuer():
    with responses.RequestsMock() as rsps:
        rsps.get(f"{ISSUER}/.well-known/openid-configuration", body=requests.ConnectionError("refused"))
        with pytest.raises(DeviceSignInFailed) as info:
            flow(FakeClock()).start()
    assert (info.value.error, "Check --issuer" in info.value.message) == ("unreachable", True)


# --------------------------------------------------------------------------- the exchange at Airflow


@pytest.mark.parametrize("base", [AIRFLOW, AIRFLOW + "/", AIRFLOW + "/airflow/"])
def test_the_exchange_posts_the_jwt_bearer_grant_under_the_base_url(base):
    with responses.RequestsMock() as rsps:
        target = base.rstrip("/") + "/auth/token/cli"
        rsps.post(target, json={"access_token": AIRFLOW_TOKEN}, status=201)
        assert exchange(requests.Session(), base, OKTA_TOKEN, 10) == AIRFLOW_TOKEN
        sent = parse_qs(rsps.calls[0].request.body)
    assert sent == {"grant_type": ["urn:ietf:params:oauth:grant-type:jwt-bearer"], "assertion": [OKTA_TOKEN]}


def test_airflow_s_refusal_is_shown_with_its_code():
    refusal = {
        "error": "invalid_grant",
        "error_description": "Okta signed you in as 'carol'...",
        "message": "Okta signed you in as 'carol', with groups: marketing. None of these groups is mapped.",
        "code": "no_mapped_role",
    }
    with responses.RequestsMock() as rsps:
        rsps.post(f"{AIRFLOW}/auth/token/cli", json=refusal, status=400)
        with pytest.raises(DeviceSignInFailed) as info:
            exchange(requests.Session(), AIRFLOW, OKTA_TOKEN, 10)
    assert info.value.error == "invalid_grant"
    assert "[no_mapped_role]" in info.value.message
    assert "None of these groups is mapped" in info.value.message


def test_an_airflow_without_the_exchange_is_explained():
    with responses.RequestsMock() as rsps:
        rsps.post(f"{AIRFLOW}/auth/token/cli", body="<html>Not Found</html>", status=404)
        with pytest.raises(DeviceSignInFailed) as info:
            exchange(requests.Session(), AIRFLOW, OKTA_TOKEN, 10)
    assert info.value.error == "http_404"
    assert "--okta-token" in info.value.message


# --------------------------------------------------------------------------- the command


def command(argv: list[str], monkeypatch, *, env: dict[str, str] | None = None) -> object:
    for name in ("OKTA_ISSUER", "OKTA_BOT_ISSUER", "OKTA_CLI_CLIENT_ID", "OKTA_BOT_SCOPES"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name + "_FILE", raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return build_parser().parse_args(["login", *argv])


def signed_in(args, capsys, *, airflow: bool = True, device: dict | None = None) -> tuple[str, str]:
    clock = FakeClock()
    with responses.RequestsMock() as rsps:
        okta(rsps, PENDING, APPROVED, device=device)
        if airflow:
            rsps.post(f"{AIRFLOW}/auth/token/cli", json={"access_token": AIRFLOW_TOKEN}, status=201)
        assert cli_login.sign_in(args, clock=clock, sleep=clock.sleep) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


ARGS = ["--airflow-url", AIRFLOW, "--issuer", ISSUER, "--client-id", CLI]


def test_by_default_it_prints_a_line_that_sets_airflow_cli_token(monkeypatch, capsys):
    out, err = signed_in(command(ARGS, monkeypatch), capsys)
    assert out == f"export AIRFLOW_CLI_TOKEN={AIRFLOW_TOKEN}\n"
    assert DEVICE["verification_uri_complete"] in err
    assert "WDJBMJHT" in err
    assert "Approved at Okta." in err
    assert AIRFLOW_TOKEN not in err  # stderr is for people: the token only goes to stdout


def test_print_prints_the_token_alone(monkeypatch, capsys):
    out, _ = signed_in(command([*ARGS, "--print"], monkeypatch), capsys)
    assert out == AIRFLOW_TOKEN + "\n"


def test_json_for_scripts(monkeypatch, capsys):
    out, _ = signed_in(command([*ARGS, "--json"], monkeypatch), capsys)
    assert json.loads(out) == {
        "access_token": AIRFLOW_TOKEN,
        "token_type": "Bearer",
        "kind": "airflow",
        "expires_at": 1_800_003_000,
        "airflow_url": AIRFLOW,
    }


def test_okta_token_stops_at_okta(monkeypatch, capsys):
    args = command(["--issuer", ISSUER, "--client-id", CLI, "--okta-token"], monkeypatch)
    out, _ = signed_in(args, capsys, airflow=False)
    assert out == OKTA_TOKEN + "\n"


def test_settings_come_from_the_environment_when_not_given(monkeypatch, capsys):
    env = {
        "OKTA_ISSUER": "https://dev-1.okta.com/oauth2/web-only",
        "OKTA_BOT_ISSUER": ISSUER + "/",
        "OKTA_CLI_CLIENT_ID": f"{CLI} 0oasecond",
        "OKTA_BOT_SCOPES": "airflow.api  airflow.cli",
    }
    args = command(["--airflow-url", AIRFLOW, "--print"], monkeypatch, env=env)
    assert cli_login._settings(args) == (ISSUER, CLI, "airflow.api airflow.cli")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--issuer", ISSUER, "--client-id", CLI], "--airflow-url is required"),
        (["--airflow-url", AIRFLOW, "--client-id", CLI], "no Okta issuer"),
        (["--airflow-url", AIRFLOW, "--issuer", ISSUER], "no Okta app"),
    ],
)
def test_usage_errors_exit_2(argv, words, monkeypatch, capsys):
    command([], monkeypatch)  # clears the environment
    assert main(["login", *argv]) == 2
    assert words in capsys.readouterr().err


def test_a_denied_sign_in_exits_1_with_the_reason(monkeypatch, capsys):
    command([], monkeypatch)
    monkeypatch.setattr(cli_login.time, "sleep", lambda _seconds: None)
    with responses.RequestsMock() as rsps:
        okta(rsps, {"error": "access_denied"})
        assert main(["login", *ARGS]) == 1
    err = capsys.readouterr().err
    assert "error [device_sign_in_failed]" in err
    assert "denied at Okta" in err


def test_a_browser_is_opened_only_where_one_can_be(monkeypatch, capsys):
    opened: list[str] = []
    monkeypatch.setattr(cli_login.webbrowser, "open", lambda url: opened.append(url) or True)
    args = command(ARGS, monkeypatch)
    signed_in(args, capsys)
    assert opened == []  # no DISPLAY: a terminal browser would take over the terminal
    monkeypatch.setenv("DISPLAY", ":0")
    signed_in(args, capsys)
    assert opened == [DEVICE["verification_uri_complete"]]
    signed_in(command([*ARGS, "--no-browser"], monkeypatch, env={"DISPLAY": ":0"}), capsys)
    assert len(opened) == 1


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["--issuer", "http://dev-1.okta.com/oauth2/default"], {}, "--issuer"),
        ([], {"OKTA_BOT_ISSUER": "http://dev-1.okta.com/oauth2/default"}, "OKTA_BOT_ISSUER"),
        ([], {"OKTA_ISSUER": "http://dev-1.okta.com/oauth2/default"}, "OKTA_ISSUER"),
        (["--issuer", "ftp://dev-1.okta.com/oauth2/default"], {}, "--issuer"),
        (["--issuer", ISSUER, "--airflow-url", "http://airflow.example.com"], {}, "--airflow-url"),
        (["--issuer", ISSUER, "--airflow-url", "http://127.0.0.1.example.com"], {}, "--airflow-url"),
    ],
)
def test_plain_http_is_refused_naming_the_setting(argv, env, named, monkeypatch, capsys):
    command([], monkeypatch, env=env)
    with responses.RequestsMock(assert_all_requests_are_fired=False):  # nothing may be asked
        assert main(["login", "--airflow-url", AIRFLOW, "--client-id", CLI, *argv]) == 2
    err = capsys.readouterr().err
    assert f"{named} is " in err
    assert "give an https:// URL" in err
    assert "clear text" in err


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000", "http://127.9.8.7:9000", "http://localhost:9000", "http://[::1]:9000"]
)
def test_plain_http_is_accepted_on_loopback(url, monkeypatch):
    args = command(["--issuer", url + "/oauth2/default", "--airflow-url", url, "--client-id", CLI], monkeypatch)
    assert cli_login._settings(args)[0] == url + "/oauth2/default"
    cli_login._require_https(args.airflow_url, "--airflow-url")


def test_okta_s_strings_are_printed_escaped_and_bounded(monkeypatch, capsys):
    hostile = {
        **DEVICE,
        "user_code": "\x1b]0;owned\x07WDJB" + "X" * 500,
        "verification_uri_complete": "https://dev-1.okta.com/activate?\x1b[2J\x1b[1;1H",
    }
    opened: list[str] = []
    monkeypatch.setattr(cli_login.webbrowser, "open", lambda url: opened.append(url) or True)
    _, err = signed_in(command(ARGS, monkeypatch, env={"DISPLAY": ":0"}), capsys, device=hostile)
    assert "\x1b" not in err
    assert "\\x1b]0;owned\\x07WDJB" in err
    assert "X" * 100 not in err
    assert "activate?\\x1b[2J" in err
    assert opened == []  # a URL with control characters is not handed to a browser


def test_a_verification_page_on_another_host_is_not_opened(monkeypatch, capsys):
    elsewhere = {**DEVICE, "verification_uri_complete": "https://okta-login.example.net/activate?user_code=WDJBMJHT"}
    opened: list[str] = []
    monkeypatch.setattr(cli_login.webbrowser, "open", lambda url: opened.append(url) or True)
    _, err = signed_in(command(ARGS, monkeypatch, env={"DISPLAY": ":0"}), capsys, device=elsewhere)
    assert opened == []
    assert "Warning:" in err
    assert "on okta-login.example.net, not on your issuer's host dev-1.okta.com" in err
    assert "No browser was opened" in err


def test_a_long_interval_is_explained(monkeypatch, capsys):
    slow = {**DEVICE, "interval": 900, "expires_in": 3600}
    _, err = signed_in(command(ARGS, monkeypatch), capsys, device=slow)
    assert "wait 900 s between checks" in err


def test_an_http_endpoint_in_discovery_is_refused():
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{ISSUER}/.well-known/openid-configuration",
            json=discovery(token_endpoint="http://dev-1.okta.com/oauth2/default/v1/token"),
        )
        with pytest.raises(DeviceSignInFailed) as info:
            flow(FakeClock()).start()
    assert info.value.error == "insecure_endpoint"
    assert "token_endpoint" in info.value.message


@pytest.mark.skipif(cli_login.sys.platform != "linux", reason="macOS and Windows always have a browser")
def test_a_graphical_session_is_needed_on_linux(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert not can_open_browser()
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert can_open_browser()


def test_token_expiry_reads_exp_without_trusting_it():
    assert token_expiry(AIRFLOW_TOKEN) == 1_800_003_000
    assert token_expiry("garbage") is None
    assert token_expiry("a.!!.c") is None
    assert token_expiry(jwt_with(10**20)) is None  # past year 9999: time.localtime() would overflow
    deep = base64.urlsafe_b64encode(DEEP.encode()).rstrip(b"=").decode()
    assert token_expiry(f"a.{deep}.c") is None


def _jwt(claims: dict) -> str:
    import base64
    import json

    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"e30.{body}.sig"


NO_GROUPS_REFUSAL = {
    "error": "invalid_grant",
    "message": "Okta signed you in as 'carol', with groups: (none). None of these groups is mapped.",
    "code": "no_mapped_role",
}


def test_a_token_without_groups_is_explained_with_what_to_set():
    from okta_security.cli.login import explain_refusal

    with responses.RequestsMock() as rsps:
        rsps.post(f"{AIRFLOW}/auth/token/cli", json=NO_GROUPS_REFUSAL, status=400)
        with pytest.raises(DeviceSignInFailed) as info:
            exchange(requests.Session(), AIRFLOW, OKTA_TOKEN, 10)
    explained = explain_refusal(info.value, _jwt({"sub": "carol", "scp": ["airflow.api"]}), "groups")
    assert "your Okta access token carries no 'groups' claim" in explained.message
    assert "Groups API" in explained.message
    assert "OKTA_API_TOKEN" in explained.message
    assert "access_token_groups_claim: true" in explained.message
    # With a groups claim in the token, or groups found elsewhere, the refusal is about the mapping: unchanged.
    assert explain_refusal(info.value, _jwt({"groups": []}), "groups") is info.value
    mapped = DeviceSignInFailed("invalid_grant", "Airflow refused the sign-in [no_mapped_role]: with groups: x.")
    assert explain_refusal(mapped, _jwt({}), "groups") is mapped
