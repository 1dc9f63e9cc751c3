"""The doctor's checks over plain facts, with Okta's HTTP answers mocked by ``responses``."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from joserfc.jwk import ECKey, RSAKey

from okta_security.airflow_layout import (
    AIRFLOW_2,
    AIRFLOW_3,
    FAB_AUTH_MANAGER,
    RECOMMENDED_AUTH_MANAGER,
    AirflowFacts,
    WebserverConfigFacts,
)
from okta_security.doctor.checks import describe_settings, exit_code, render_text, run_checks
from okta_security.doctor.probes import PROBE_CODE, page_message
from okta_security.doctor.report import CheckResult, DoctorContext, Status
from okta_security.settings.loader import SETTINGS

if TYPE_CHECKING:
    from pathlib import Path

ISSUER = "https://dev-123456.okta.com/oauth2/default"
CLIENT_ID = "0oa1clientid"
SECRET = "super-secret-value-0123456789"
BASE = "https://airflow.example.com"
NOW = 1_800_000_000.0
RSA = RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"}, auto_kid=True).as_dict(private=False)
MAPPING = "default_role: null\nmappings:\n  airflow-admins: [Admin]\n  airflow-viewers: [Viewer]\n"


def discovery(issuer: str = ISSUER, **overrides) -> dict:
    doc = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/v1/authorize",
        "token_endpoint": f"{issuer}/v1/token",
        "jwks_uri": f"{issuer}/v1/keys",
        "scopes_supported": ["openid", "profile", "email", "groups"],
        "claims_supported": ["sub", "iss", "email", "groups"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    doc.update(overrides)
    return doc


def facts(**overrides) -> AirflowFacts:
    base = AirflowFacts(
        version="3.3.2",
        layout=AIRFLOW_3,
        auth_manager=FAB_AUTH_MANAGER,
        auth_manager_is_fab=True,
        auth_manager_detail="FabAuthManager",
        base_url=BASE,
        enable_proxy_fix=True,
        ssl_cert="",
        webserver_config=WebserverConfigFacts(
            "/opt/airflow/webserver_config.py", True, True, True, "SECURITY_MANAGER_CLASS = x"
        ),
        roles=frozenset({"Admin", "Op", "User", "Viewer", "Public"}),
    )
    return replace(base, **overrides)


class FakeOkta:
    """Okta's discovery, keys, token and authorize endpoints as ``responses`` callbacks."""

    def __init__(self, mock: responses.RequestsMock, issuer: str = ISSUER) -> None:
        self.issuer = issuer
        self.doc = discovery(issuer)
        self.keys = [RSA]
        self.method = "client_secret_basic"  # the app's client authentication
        self.secret = SECRET
        self.grant_types = ("authorization_code",)
        self.redirect_uris = [f"{BASE}/auth/oauth-authorized/okta"]
        self.authorize_error: str | None = None
        self.date: str | None = formatdate(NOW, usegmt=True)
        self.token_requests: list[requests.PreparedRequest] = []
        mock.add_callback("GET", f"{issuer}/.well-known/openid-configuration", self._discovery)
        mock.add_callback("GET", f"{issuer}/v1/keys", lambda r: (200, {}, json.dumps({"keys": self.keys})))
        mock.add_callback("POST", f"{issuer}/v1/token", self._token)
        mock.add_callback("GET", f"{issuer}/v1/authorize", self._authorize)

    def _discovery(self, request):
        headers = {"Content-Type": "application/json"}
        if self.date:
            headers["Date"] = self.date
        return 200, headers, json.dumps(self.doc)

    def _token(self, request):
        self.token_requests.append(request)
        form = parse_qs(request.body)
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            used, (cid, secret) = "client_secret_basic", base64.b64decode(basic[6:]).decode().split(":", 1)
        else:
            used, cid, secret = "client_secret_post", form.get("client_id", [""])[0], form.get("client_secret", [""])[0]
        if used != self.method or cid != CLIENT_ID or secret != self.secret:
            return (
                401,
                {},
                json.dumps({"error": "invalid_client", "error_description": "Client authentication failed."}),
            )
        if "authorization_code" not in self.grant_types:
            return (
                400,
                {},
                json.dumps(
                    {
                        "error": "unauthorized_client",
                        "error_description": "The client is not authorized to use the provided grant type.",
                    }
                ),
            )
        assert form["code"] == [PROBE_CODE]
        return (
            400,
            {},
            json.dumps(
                {"error": "invalid_grant", "error_description": "The authorization code is invalid or has expired."}
            ),
        )

    def _authorize(self, request):
        query = parse_qs(urlsplit(request.url).query)
        if query["client_id"] != [CLIENT_ID]:
            return 400, {}, "<html><p>Invalid value for 'client_id' parameter.</p></html>"
        redirect_uri = query["redirect_uri"][0]
        if redirect_uri not in self.redirect_uris:
            page = (
                "<html><head><script>var x = 1;</script></head><body><h1>400 Bad Request</h1>"
                "<div class='o-form-error-container'><p>The &#39;redirect_uri&#39; parameter must be a Login "
                "redirect URI in the client app settings: https://dev-123456-admin.okta.com/admin/app/x</p></div></body></html>"
            )
            return 400, {"Content-Type": "text/html"}, page
        if self.authorize_error:
            return 302, {"Location": f"{redirect_uri}?error={self.authorize_error}&error_description=nope&state=x"}, ""
        return 302, {"Location": "https://dev-123456.okta.com/signin?fromURI=%2Foauth2%2Fdefault"}, ""


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "okta_role_mapping.yaml"
    path.write_text(MAPPING)
    return path


@pytest.fixture
def env(mapping_file: Path) -> dict[str, str]:
    return {
        "OKTA_ISSUER": ISSUER,
        "OKTA_CLIENT_ID": CLIENT_ID,
        "OKTA_CLIENT_SECRET": SECRET,
        "OKTA_ROLE_MAPPING_FILE": str(mapping_file),
    }


@pytest.fixture
def okta():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeOkta(mock)


def doctor(env, airflow=None, *, clock=lambda: NOW, error: str = "") -> dict[str, CheckResult]:
    with requests.Session() as http:
        ctx = DoctorContext(environ=env, airflow=airflow, airflow_error=error, http=http, clock=clock)
        results = run_checks(ctx)
    by_id = {r.check: r for r in results}
    assert len(by_id) == len(results) == 14
    return by_id


def statuses(results: dict[str, CheckResult]) -> dict[str, str]:
    return {k: r.status.value for k, r in results.items()}


# -- the whole run --------------------------------------------------------------------------


def test_a_correct_setup_passes_every_check(env, okta):
    results = doctor(env, facts())
    assert statuses(results) == dict.fromkeys(results, "ok"), render_text(list(results.values()))
    assert exit_code(list(results.values())) == 0
    assert results["redirect_uris"].data["sign_in_redirect_uri"] == f"{BASE}/auth/oauth-authorized/okta"
    assert results["redirect_uris"].data["sign_out_redirect_uri"] == f"{BASE}/auth/login/"
    assert results["redirect_uris"].data["initiate_login_uri"] == f"{BASE}/auth/login/okta"  # the dashboard tile


def test_invalid_settings_list_every_problem_and_skip_the_okta_checks(mapping_file):
    results = doctor(
        {"OKTA_ISSUER": "http://okta.example.com/oauth2/default", "OKTA_ROLE_MAPPING_FILE": str(mapping_file)}, facts()
    )
    settings = results["settings"]
    assert settings.status is Status.FAIL
    assert "OKTA_CLIENT_ID is not set" in settings.detail
    assert "OKTA_CLIENT_SECRET is not set" in settings.detail
    assert "uses http:// for a non-loopback host" in settings.detail
    for check in ("discovery", "issuer", "jwks", "groups", "client", "clock"):
        assert results[check].status is Status.SKIP, check
    assert results["mapping"].status is Status.OK  # still checked: everything reported at once
    assert exit_code(list(results.values())) == 1


@pytest.mark.parametrize(
    ("scenario", "failing"),
    [
        ("ok", None),
        ("wrong secret", "client"),
        ("wrong method", "client"),
        ("bad redirect", "redirect_uris"),
    ],
)
def test_the_client_secret_never_appears_in_any_output(env, okta, scenario, failing):
    if scenario == "wrong secret":
        okta.secret = "another"
    elif scenario == "wrong method":
        okta.method = "client_secret_post"
    elif scenario == "bad redirect":
        okta.redirect_uris = []
    results = list(doctor(env, facts()).values())
    text = render_text(results) + json.dumps([r.as_dict() for r in results])
    assert SECRET not in text
    assert "OKTA_CLIENT_SECRET = set" in text
    assert [r.check for r in results if r.status is Status.FAIL] == ([failing] if failing else [])


def test_describe_settings_shows_secrets_only_as_set(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    shown = describe_settings(
        {"OKTA_ISSUER": ISSUER, "OKTA_CLIENT_SECRET_FILE": str(secret_file), "OKTA_CLIENT_ID": CLIENT_ID}
    )
    assert shown["OKTA_ISSUER"] == ISSUER
    assert shown["OKTA_CLIENT_SECRET"] == f"set (from OKTA_CLIENT_SECRET_FILE={secret_file})"
    assert shown["OKTA_TOKEN_AUTH_METHOD"] == "'client_secret_basic' (default)"
    assert describe_settings({"OKTA_CLIENT_SECRET": ""})["OKTA_CLIENT_SECRET"] == "(empty)"
    assert describe_settings({})["OKTA_CLIENT_ID"] == "(not set)"
    assert SECRET not in json.dumps(shown)


def test_a_crashing_check_is_reported_and_the_others_still_run(env):
    def check_boom(ctx):
        raise RuntimeError("kaboom")

    def check_fine(ctx):
        return CheckResult("fine", "Fine", Status.OK, "ok")

    with requests.Session() as http:
        results = run_checks(DoctorContext(environ=env, airflow=None, http=http), [check_boom, check_fine])
    assert [(r.check, r.status) for r in results] == [("boom", Status.FAIL), ("fine", Status.OK)]
    assert "RuntimeError: kaboom" in results[0].detail


# -- discovery, issuer, keys ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "detail", "fix"),
    [
        (requests.ConnectionError("Connection refused"), "cannot connect to dev-123456.okta.com", "HTTPS_PROXY"),
        (requests.ReadTimeout("slow"), "no answer within 10 s", "OKTA_HTTP_TIMEOUT_SECONDS"),
        (
            (404, "application/json", '{"errorCode":"E0000007"}'),
            "HTTP 404",
            "there is no authorization server 'default'",
        ),
        ((401, "application/json", '{"errorCode":"E0000015"}'), "HTTP 401", "API Access Management"),
        ((200, "text/html", "<html>sign in</html>"), "not a JSON document", "the issuer itself"),
        (
            (200, "application/json", '{"issuer": "x"}'),
            "lacks authorization_endpoint, token_endpoint, jwks_uri",
            "Okta",
        ),
    ],
)
def test_discovery_failures_say_why_and_what_to_do(env, answer, detail, fix):
    url = f"{ISSUER}/.well-known/openid-configuration"
    with responses.RequestsMock() as mock:
        if isinstance(answer, Exception):
            mock.add("GET", url, body=answer)
        else:
            status, ctype, body = answer
            mock.add("GET", url, status=status, content_type=ctype, body=body)
        results = doctor(env, facts())
    assert results["discovery"].status is Status.FAIL
    assert detail in results["discovery"].detail
    assert fix in results["discovery"].fix
    assert results["issuer"].status is Status.SKIP
    assert results["clock"].status is Status.SKIP if isinstance(answer, Exception) else Status.OK


def test_issuer_mismatch_fails_with_the_issuer_to_use(env, okta):
    okta.doc["issuer"] = "https://dev-123456.okta.com"
    result = doctor(env, facts())["issuer"]
    assert result.status is Status.FAIL
    assert "OKTA_ISSUER is 'https://dev-123456.okta.com/oauth2/default'" in result.detail
    assert "set OKTA_ISSUER=https://dev-123456.okta.com " in result.fix


@pytest.mark.parametrize(
    ("keys", "algs", "status"),
    [
        ([RSA], ["RS256"], Status.OK),
        ([], ["RS256"], Status.FAIL),
        ([ECKey.generate_key("P-256").as_dict(private=False)], ["ES256"], Status.FAIL),
        ([{**RSA, "alg": "RS512"}], ["RS256"], Status.FAIL),
        ([{**RSA, "use": "enc"}], ["RS256"], Status.FAIL),
        ([RSA], ["ES256"], Status.FAIL),
        ([{k: v for k, v in RSA.items() if k != "alg"}], None, Status.OK),
    ],
)
def test_jwks_needs_an_rs256_signing_key(env, okta, keys, algs, status):
    okta.keys = keys
    okta.doc["id_token_signing_alg_values_supported"] = algs
    result = doctor(env, facts())["jwks"]
    assert result.status is status, result.detail
    if status is Status.FAIL:
        assert "RS256" in result.fix


# -- groups ---------------------------------------------------------------------------------


def test_groups_claim_missing_on_a_custom_server_fails_with_console_steps(env, okta):
    okta.doc["claims_supported"] = ["sub", "email"]
    okta.doc["scopes_supported"] = ["openid", "profile", "email"]
    result = doctor(env, facts())["groups"]
    assert result.status is Status.FAIL
    assert "defines no 'groups' claim" in result.detail
    assert "Security → API → Authorization Servers → default → Claims → Add Claim" in result.fix
    assert result.data["groups_scope_offered"] is False
    assert result.data["scopes_requested"] == ["openid", "profile", "email"]


def test_groups_claim_name_follows_okta_groups_claim(env, okta):
    env["OKTA_GROUPS_CLAIM"] = "airflow_groups"
    assert doctor(env, facts())["groups"].status is Status.FAIL
    okta.doc["claims_supported"].append("airflow_groups")
    result = doctor(env, facts())["groups"]
    assert result.status is Status.OK
    assert "'airflow_groups'" in result.detail


def test_groups_scope_is_requested_when_offered(env, okta):
    result = doctor(env, facts())["groups"]
    assert result.data["scopes_requested"] == ["openid", "profile", "email", "groups"]


def test_org_server_groups_claim_cannot_be_seen_so_it_warns_with_the_app_steps(env):
    org = "https://dev-123456.okta.com"
    env["OKTA_ISSUER"] = org
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeOkta(mock, issuer=org)
        fake.redirect_uris = [f"{BASE}/auth/oauth-authorized/okta"]
        results = doctor(env, facts())
    assert results["groups"].status is Status.WARN
    assert "Sign On → OpenID Connect ID Token" in results["groups"].fix
    assert exit_code(list(results.values())) == 0


# -- client credentials -----------------------------------------------------------------------


def test_client_probe_sends_a_made_up_code_with_the_configured_method(env, okta):
    result = doctor(env, facts())["client"]
    assert result.status is Status.OK
    assert "invalid_grant" in result.detail
    (request,) = okta.token_requests
    assert request.headers["Authorization"].startswith("Basic ")
    form = parse_qs(request.body)
    assert form["grant_type"] == ["authorization_code"]
    assert form["redirect_uri"] == [f"{BASE}/auth/oauth-authorized/okta"]
    assert "client_secret" not in form


def test_client_secret_post_is_sent_in_the_body(env, okta):
    env["OKTA_TOKEN_AUTH_METHOD"] = okta.method = "client_secret_post"
    assert doctor(env, facts())["client"].status is Status.OK
    (request,) = okta.token_requests
    assert "Authorization" not in request.headers
    assert parse_qs(request.body)["client_id"] == [CLIENT_ID]


def test_wrong_secret_is_invalid_client_with_the_console_steps(env, okta):
    okta.secret = "rotated"
    result = doctor(env, facts())["client"]
    assert result.status is Status.FAIL
    assert "HTTP 401 invalid_client: Client authentication failed." in result.detail
    assert "Client Credentials" in result.fix
    assert len(okta.token_requests) == 2  # both methods tried before blaming the credentials


@pytest.mark.parametrize(
    ("configured", "app"),
    [("client_secret_basic", "client_secret_post"), ("client_secret_post", "client_secret_basic")],
)
def test_wrong_auth_method_is_told_apart_from_wrong_credentials(env, okta, configured, app):
    env["OKTA_TOKEN_AUTH_METHOD"] = configured
    okta.method = app
    result = doctor(env, facts())["client"]
    assert result.status is Status.FAIL
    assert f"accepts the same credentials with {app}" in result.detail
    assert result.fix.startswith(f"set OKTA_TOKEN_AUTH_METHOD={app}")


def test_missing_authorization_code_grant_is_unauthorized_client(env, okta):
    okta.grant_types = ("client_credentials",)
    result = doctor(env, facts())["client"]
    assert result.status is Status.FAIL
    assert "unauthorized_client" in result.detail
    assert "Grant type" in result.fix


# -- redirect URIs -----------------------------------------------------------------------------


def test_unregistered_sign_in_redirect_uri_fails_with_okta_message_and_the_uri_to_add(env, okta):
    okta.redirect_uris = ["https://other.example.com/auth/oauth-authorized/okta"]
    result = doctor(env, facts())["redirect_uris"]
    assert result.status is Status.FAIL
    assert "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings" in result.detail
    assert f"add exactly {BASE}/auth/oauth-authorized/okta" in result.fix
    assert result.data["accepted"] is False


def test_authorize_error_redirected_back_is_reported(env, okta):
    okta.authorize_error = "invalid_scope"
    result = doctor(env, facts())["redirect_uris"]
    assert result.status is Status.FAIL
    assert "invalid_scope: nope" in result.detail
    assert "OKTA_EXTRA_SCOPES" in result.fix


def test_airflow_2_uses_webserver_settings_and_root_callback(env, okta):
    okta.redirect_uris = [f"{BASE}/oauth-authorized/okta"]
    result = doctor(env, facts(layout=AIRFLOW_2, version="2.11.2"))["redirect_uris"]
    assert result.status is Status.OK, result.detail
    assert result.data["sign_in_redirect_uri"] == f"{BASE}/oauth-authorized/okta"
    assert result.data["sign_out_redirect_uri"] == f"{BASE}/login/"
    assert result.data["initiate_login_uri"] == f"{BASE}/login/okta"


def test_post_logout_redirect_uri_setting_is_the_sign_out_uri(env, okta):
    env["OKTA_POST_LOGOUT_REDIRECT_URI"] = "https://airflow.example.com/bye"
    result = doctor(env, facts())["redirect_uris"]
    assert result.data["sign_out_redirect_uri"] == "https://airflow.example.com/bye"


@pytest.mark.parametrize(
    ("layout", "setting"),
    [(AIRFLOW_3, "AIRFLOW__FAB__ENABLE_PROXY_FIX=True"), (AIRFLOW_2, "AIRFLOW__WEBSERVER__ENABLE_PROXY_FIX=True")],
)
def test_https_base_url_without_proxy_fix_warns(env, okta, layout, setting):
    okta.redirect_uris = [f"{BASE}{layout.callback_path}"]
    result = doctor(env, facts(layout=layout, enable_proxy_fix=False))["redirect_uris"]
    assert result.status is Status.WARN
    assert setting in result.fix
    assert (
        doctor(env, facts(layout=layout, enable_proxy_fix=False, ssl_cert="/certs/a.pem"))["redirect_uris"].status
        is Status.OK
    )


@pytest.mark.parametrize(
    ("layout", "setting"), [(AIRFLOW_3, "AIRFLOW__API__BASE_URL"), (AIRFLOW_2, "AIRFLOW__WEBSERVER__BASE_URL")]
)
def test_missing_base_url_warns_and_names_the_setting(env, okta, layout, setting):
    result = doctor(env, facts(layout=layout, base_url=""))["redirect_uris"]
    assert result.status is Status.WARN
    assert setting in result.fix
    assert layout.callback_path in result.fix


def test_page_message_finds_okta_sentence_in_an_error_page():
    page = (
        "<html><body><h1>400</h1><p>Your request resulted in an error.</p>"
        "<div><p>Invalid value for &#39;client_id&#39; parameter.</p></div>"
    )
    assert page_message(page) == "Invalid value for 'client_id' parameter."
    assert page_message("<p>Something else went wrong</p>") == "Something else went wrong"


# -- clock --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local_offset", "status", "words"),
    [
        (0, Status.OK, "within 5 s"),
        (3, Status.OK, "within 5 s"),
        (30, Status.WARN, "30 s ahead of Okta's"),
        (-45, Status.WARN, "45 s behind Okta's"),
        (-120, Status.FAIL, "issued in the future"),
        (4000, Status.FAIL, "look expired"),
    ],
)
def test_clock_skew_is_measured_against_okta_date_header(env, okta, local_offset, status, words):
    result = doctor(env, facts(), clock=lambda: NOW + local_offset)["clock"]
    assert result.status is status, result.detail
    assert words in result.detail
    if status is not Status.OK:
        assert "NTP" in result.fix


def test_clock_leeway_follows_okta_clock_skew_seconds(env, okta):
    env["OKTA_CLOCK_SKEW_SECONDS"] = "300"
    assert doctor(env, facts(), clock=lambda: NOW - 120)["clock"].status is Status.WARN


def test_missing_date_header_warns(env, okta):
    okta.date = None
    result = doctor(env, facts())["clock"]
    assert result.status is Status.WARN
    assert "no usable Date header" in result.detail


# -- mapping and roles --------------------------------------------------------------------------


def test_invalid_mapping_fails_with_file_and_line(env, okta, mapping_file):
    mapping_file.write_text("default_role: null\nmappings:\n  airflow-admins: Admin\n  - oops\n")
    results = doctor(env, facts())
    assert results["mapping"].status is Status.FAIL
    assert "okta_role_mapping.yaml:4" in results["mapping"].detail
    assert results["roles"].status is Status.SKIP


def test_mapped_role_missing_from_the_database_fails_with_a_fix(env, okta, mapping_file):
    mapping_file.write_text("default_role: null\nmappings:\n  data-team: [DataEngineers]\n  airflow-admins: [Admn]\n")
    result = doctor(env, facts())["roles"]
    assert result.status is Status.FAIL
    assert "okta_role_mapping.yaml:3: unknown role 'DataEngineers'" in result.detail
    assert "unknown role 'Admn'" in result.detail
    assert "airflow roles create" in result.fix
    assert doctor(env, facts(roles=frozenset({"DataEngineers"})))["roles"].status is Status.FAIL  # Admn still wrong
    mapping_file.write_text("default_role: null\nmappings:\n  data-team: [DataEngineers]\n")
    assert doctor(env, facts(roles=frozenset({"DataEngineers"})))["roles"].status is Status.OK


def test_builtin_roles_count_before_airflow_first_start(env, okta):
    result = doctor(env, facts(roles=frozenset()))["roles"]
    assert result.status is Status.OK
    assert "will be created by Airflow at its first start" in result.detail


def test_unreadable_database_fails_the_roles_check(env, okta):
    result = doctor(
        env, facts(roles=None, roles_error="cannot read roles from Airflow's database: no such table: ab_role")
    )["roles"]
    assert result.status is Status.FAIL
    assert "no such table: ab_role" in result.detail
    assert "airflow db migrate" in result.fix


def test_mapping_with_no_roles_warns(env, okta, mapping_file):
    mapping_file.write_text("default_role: null\nmappings: {}\n")
    assert doctor(env, facts())["mapping"].status is Status.WARN


def test_step_up_mapping_needs_an_auth_manager_that_withholds_roles(env, okta, mapping_file):
    mapping_file.write_text("mappings:\n  airflow-admins: [Admin]\nstep_up:\n  roles: [Admin]\n  max_age_minutes: 30\n")
    result = doctor(env, facts(step_up_problem="only okta_security.auth_manager.OktaFabAuthManager withholds"))[
        "mapping"
    ]
    assert result.status is Status.FAIL
    assert "step-up roles: Admin (a second factor within 30 min)" in result.detail
    assert "OktaFabAuthManager" in result.fix
    assert doctor(env, facts())["mapping"].status is Status.OK


# -- Airflow ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "setting", "env_var"),
    [
        (AIRFLOW_3, "[fab] config_file", "AIRFLOW__FAB__CONFIG_FILE"),
        (AIRFLOW_2, "[webserver] config_file", "AIRFLOW__WEBSERVER__CONFIG_FILE"),
    ],
)
def test_missing_webserver_config_fails_naming_where_airflow_looks(env, okta, layout, setting, env_var):
    wc = WebserverConfigFacts("/home/airflow/webserver_config.py", exists=False)
    result = doctor(env, facts(layout=layout, webserver_config=wc))["webserver_config"]
    assert result.status is Status.FAIL
    assert f"{setting} = /home/airflow/webserver_config.py: no such file" in result.detail
    assert "silently ignores a missing file" in result.detail
    assert env_var in result.fix


@pytest.mark.parametrize(
    ("wc", "detail", "fix"),
    [
        (
            WebserverConfigFacts("/w.py", True, True, False, "SECURITY_MANAGER_CLASS = my.Manager"),
            "my.Manager",
            "OktaSecurityManager",
        ),
        (
            WebserverConfigFacts("/w.py", True, True, False, "it does not set SECURITY_MANAGER_CLASS"),
            "does not set",
            "OktaSecurityManager",
        ),
        (
            WebserverConfigFacts("/w.py", True, False, True, "loading it fails: NameError: x"),
            "NameError",
            "fix the error above",
        ),
    ],
)
def test_webserver_config_that_is_not_ours_or_breaks_fails(env, okta, wc, detail, fix):
    result = doctor(env, facts(webserver_config=wc))["webserver_config"]
    assert result.status is Status.FAIL
    assert detail in result.detail
    assert fix in result.fix


def test_auth_manager_other_than_fab_fails_with_the_setting_to_use(env, okta):
    am = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    result = doctor(
        env,
        facts(
            auth_manager=am,
            auth_manager_is_fab=False,
            auth_manager_detail="SimpleAuthManager is not the FAB auth manager",
        ),
    )["auth_manager"]
    assert result.status is Status.FAIL
    assert f"AIRFLOW__CORE__AUTH_MANAGER={RECOMMENDED_AUTH_MANAGER} " in result.fix
    on_2_11 = doctor(env, facts(layout=AIRFLOW_2, auth_manager=am, auth_manager_is_fab=False))["auth_manager"]
    assert f"AIRFLOW__CORE__AUTH_MANAGER={FAB_AUTH_MANAGER} " in on_2_11.fix


ULO_PATH = "/auth/okta/global-token-revocation"


@pytest.mark.parametrize(
    ("endpoint", "airflow", "status", "says"),
    [
        ("", facts(), Status.OK, "off (OKTA_UNIVERSAL_LOGOUT_ENDPOINT is empty)"),
        (f"{BASE}{ULO_PATH}", facts(auth_manager=RECOMMENDED_AUTH_MANAGER), Status.OK, "signed by the org"),
        (f"{BASE}{ULO_PATH}", facts(), Status.WARN, "only okta_security's auth manager also refuses"),
        (f"{BASE}/okta/global-token-revocation", facts(), Status.FAIL, f"at the path {ULO_PATH}"),
        (
            f"{BASE}/airflow{ULO_PATH}",
            facts(base_url=f"{BASE}/airflow/", auth_manager=RECOMMENDED_AUTH_MANAGER),
            Status.OK,
            "signed by the org",
        ),
        (f"{BASE}{ULO_PATH}", facts(base_url=f"{BASE}/airflow"), Status.FAIL, f"/airflow{ULO_PATH}"),
        (f"{BASE}{ULO_PATH}?x=1", facts(), Status.FAIL, "with no query"),
        (
            f"http://airflow.example.com{ULO_PATH}",
            facts(auth_manager=RECOMMENDED_AUTH_MANAGER),
            Status.FAIL,
            "is not https",
        ),
        (
            f"http://127.0.0.1:8080{ULO_PATH}",
            facts(base_url="http://127.0.0.1:8080", auth_manager=RECOMMENDED_AUTH_MANAGER),
            Status.OK,
            "signed by the org",
        ),
        (
            "https://airflow.example.com/okta/global-token-revocation",
            facts(layout=AIRFLOW_2, base_url=BASE),
            Status.OK,
            "signed by the org",
        ),
    ],
)
def test_universal_logout_endpoint_is_the_one_airflow_serves(env, okta, endpoint, airflow, status, says):
    result = doctor({**env, "OKTA_UNIVERSAL_LOGOUT_ENDPOINT": endpoint}, airflow)["universal_logout"]
    assert result.status is status, result.detail
    assert says in result.detail


AGENTS = "\nagents:\n  airflow-assistant: [Viewer]\n"
AGENT_AUDIENCE = f"{BASE}/auth/token"


@pytest.mark.parametrize(
    ("listed", "settings", "airflow", "status", "says"),
    [
        (False, {}, facts(), Status.OK, "off: the mapping lists no agent"),
        (True, {}, facts(layout=AIRFLOW_2), Status.WARN, "has no token endpoint"),
        (True, {}, facts(), Status.FAIL, "only okta_security's auth manager issues delegated tokens"),
        (
            True,
            {},
            facts(auth_manager=RECOMMENDED_AUTH_MANAGER),
            Status.OK,
            "ID-JAGs (Okta Cross App Access) are refused",
        ),
        (
            True,
            {"OKTA_AGENT_AUDIENCE": AGENT_AUDIENCE},
            facts(auth_manager=RECOMMENDED_AUTH_MANAGER),
            Status.WARN,
            "cannot read them from Okta's Groups API",
        ),
        (
            True,
            {"OKTA_AGENT_AUDIENCE": AGENT_AUDIENCE, "OKTA_API_TOKEN": "00api"},
            facts(auth_manager=RECOMMENDED_AUTH_MANAGER),
            Status.OK,
            f"ID-JAGs must name aud {AGENT_AUDIENCE}",
        ),
        (
            True,
            {"OKTA_AGENT_AUDIENCE": "http://airflow.example.com/auth/token", "OKTA_API_TOKEN": "00api"},
            facts(auth_manager=RECOMMENDED_AUTH_MANAGER),
            Status.FAIL,
            "is not https",
        ),
    ],
)
def test_agents_need_the_auth_manager_and_id_jags_need_the_groups_api(
    env, okta, mapping_file, listed, settings, airflow, status, says
):
    if listed:
        mapping_file.write_text(mapping_file.read_text() + AGENTS)
    result = doctor({**env, **settings}, airflow)["agents"]
    assert result.status is status, result.detail
    assert says in result.detail


def test_without_airflow_the_airflow_checks_fail_or_skip(env, okta):
    results = doctor(env, None, error="ModuleNotFoundError: No module named 'airflow'")
    assert results["webserver_config"].status is Status.FAIL
    assert "No module named 'airflow'" in results["webserver_config"].detail
    assert {results[c].status for c in ("auth_manager", "roles", "redirect_uris")} == {Status.SKIP}
    assert results["client"].status is Status.OK  # Okta is still checked


# -- output -------------------------------------------------------------------------------------


def test_text_report_marks_each_check_and_shows_fixes_only_for_problems(env, okta):
    okta.secret = "rotated"
    results = list(doctor(env, facts()).values())
    text = render_text(results, header="okta-airflow doctor")
    assert text.startswith("okta-airflow doctor\n")
    assert "✓ Discovery document: " in text
    assert "✗ Client credentials: " in text
    assert text.count("fix: ") == 1
    assert text.rstrip().endswith("Summary: 13 ok, 1 failing, 0 warning(s), 0 skipped")
    ascii_text = render_text(results, ascii_only=True)
    assert "FAIL Client credentials" in ascii_text
    assert "✓" not in ascii_text


def test_json_form_is_serialisable_and_stable(env, okta):
    result = doctor(env, facts())["issuer"].as_dict()
    assert json.loads(json.dumps(result)) == {
        "check": "issuer",
        "title": "Issuer matches OKTA_ISSUER",
        "status": "ok",
        "detail": ISSUER,
        "fix": "",
        "data": {},
    }


@pytest.mark.parametrize("spec", [s for s in SETTINGS if s.secret], ids=lambda s: s.name)
def test_every_secret_setting_is_shown_only_as_set(spec):
    assert describe_settings({spec.name: "hunter2-secret-value"})[spec.name] == "set"


def test_settings_that_look_secret_are_declared_secret():
    # The doctor prints every non-secret setting's value: a secret must be declared as one.
    looks_secret = [s.name for s in SETTINGS if re.search(r"SECRET|PRIVATE_KEY|_TOKEN$", s.name)]
    assert looks_secret
    assert [n for n in looks_secret if not next(s for s in SETTINGS if s.name == n).secret] == []
