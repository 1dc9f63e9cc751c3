"""``okta-airflow doctor`` run as a command against the local IdP and a real Airflow 3 home, each failure provoked.

The doctor runs in a process of its own with the webserver's environment (``AirflowServer.env()``),
so it reads Airflow's real configuration and database; the IdP runs in this process so faults can
be switched on between runs. Most runs are forked from a process that has imported the command
line and Airflow once (:mod:`tests.warm_cli`); the text report and the runs beside a
running API server start ``okta-airflow`` itself, as a person would.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from okta_devstack.airflow import REPO, AirflowServer, free_port
from okta_local_idp.server import IdpHandle, serve_in_thread
from tests.conftest import CLIENT_ID, CLIENT_SECRET, Stack
from tests.stacks import idp_data
from tests.warm_cli import WarmCli

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

OKTA_AIRFLOW = str(Path(sys.executable).with_name("okta-airflow"))
# What the doctor imports besides the command line: Airflow's configuration, FAB's auth manager and,
# through webserver_config.py, okta_security's security manager (the seconds of a cold start).
DOCTOR_IMPORTS = (
    "okta_security.cli.doctor",
    "okta_security.adapter.airflow_facts",
    "okta_security.adapter.security_manager",
    "airflow.providers.fab.auth_manager.fab_auth_manager",
    "airflow.cli.cli_parser",  # `airflow roles create`
)
# Airflow settings the doctor reads when it runs (through Airflow's configuration), not at import:
# the tests change them from run to run.
DOCTOR_READS_AT_RUN = ("AIRFLOW__API__BASE_URL", "AIRFLOW__FAB__CONFIG_FILE", "AIRFLOW__CORE__AUTH_MANAGER")
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def idp_config(path: Path, airflow_url: str, **server: object) -> Path:
    data = idp_data(airflow_url)
    data["server"].update(server)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Home:
    """A migrated Airflow 3 home with okta_security's webserver_config.py (no server running)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mapping = root / "okta_role_mapping.yaml"
        shutil.copy(REPO / "config" / "role_mapping.yaml", self.mapping)
        self.port = free_port()
        self.airflow = AirflowServer(root / "airflow", port=self.port, okta_env={})
        self.url = self.airflow.base_url
        self.cli: WarmCli | None = None

    def env(self, issuer: str, **overrides: str) -> dict[str, str]:
        env = self.airflow.env()
        env.update(
            OKTA_ISSUER=issuer,
            OKTA_CLIENT_ID=CLIENT_ID,
            OKTA_CLIENT_SECRET=CLIENT_SECRET,
            OKTA_ROLE_MAPPING_FILE=str(self.mapping),
        )
        env.update(overrides)
        return env

    def doctor(self, env: Mapping[str, str], *args: str) -> tuple[int, dict]:
        """Run ``okta-airflow doctor --json`` forked from the warm process; return (exit code, {check id: result})."""
        assert self.cli is not None
        return report(self.cli.run("doctor", "--json", *args, env=env))

    def airflow_command(self, *args: str) -> None:
        """Run ``airflow <args>`` in this home (forked from the warm process too), as an operator would."""
        assert self.cli is not None
        done = self.cli.run(*args, program="airflow", env=self.airflow.env(), cwd=self.airflow.home)
        assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Iterator[Home]:
    home = Home(tmp_path_factory.mktemp("doctor"))
    home.airflow.okta_env = home.env("http://127.0.0.1:9/oauth2/default")  # webserver_config.py needs them to load
    home.airflow.prepare()
    home.cli = WarmCli(
        home.airflow.env(),
        tmp_path_factory.mktemp("doctor-cli"),
        preload=DOCTOR_IMPORTS,
        read_at_run=DOCTOR_READS_AT_RUN,
    )
    try:
        yield home
    finally:
        home.cli.close()


@pytest.fixture(scope="module")
def idp(home: Home, tmp_path_factory) -> Iterator[IdpHandle]:
    config = idp_config(tmp_path_factory.mktemp("idp") / "idp.yaml", home.url)
    with serve_in_thread(str(config)) as handle:
        yield handle


@pytest.fixture
def okta(idp: IdpHandle) -> Iterator[IdpHandle]:
    yield idp
    idp.clear_faults()


def doctor(env: Mapping[str, str], *args: str) -> tuple[int, dict]:
    """Run the ``okta-airflow doctor --json`` command itself; return (exit code, {check id: result})."""
    return report(
        subprocess.run(
            [OKTA_AIRFLOW, "doctor", "--json", *args], env=dict(env), capture_output=True, text=True, timeout=180
        )
    )


def report(proc: subprocess.CompletedProcess[str]) -> tuple[int, dict]:
    """Return the doctor's (exit code, {check id: result}), checking that the JSON report agrees with the code."""
    assert proc.stdout, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["ok"] is (proc.returncode == 0)
    return proc.returncode, {c["check"]: c for c in report["checks"]}


def failing(checks: Mapping[str, dict]) -> list[str]:
    return [name for name, c in checks.items() if c["status"] == "fail"]


def test_a_correct_setup_passes_and_exits_0(home, okta):
    code, checks = home.doctor(home.env(okta.issuer))
    assert code == 0, json.dumps(checks, indent=1)
    assert {c["status"] for c in checks.values()} == {"ok"}
    assert checks["client"]["data"]["error"] == "invalid_grant"
    assert checks["redirect_uris"]["data"] == {
        "sign_in_redirect_uri": f"{home.url}/auth/oauth-authorized/okta",
        "sign_out_redirect_uri": f"{home.url}/auth/login/",
        "initiate_login_uri": f"{home.url}/auth/login/okta",
        "accepted": True,
    }
    assert checks["webserver_config"]["data"]["setting"] == "[fab] config_file"


def test_text_output_marks_checks_and_never_shows_the_secret(home, okta):
    env = home.env(okta.issuer, OKTA_CLIENT_SECRET="wrong-secret-value", PYTHONIOENCODING="utf-8")
    proc = subprocess.run([OKTA_AIRFLOW, "doctor"], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1
    assert "✓ Discovery document:" in proc.stdout
    assert "✗ Client credentials: Okta answered HTTP 401 invalid_client" in proc.stdout
    assert "fix: copy Client ID and Client secret" in proc.stdout
    assert "wrong-secret-value" not in proc.stdout + proc.stderr
    assert "OKTA_CLIENT_SECRET = set" in proc.stdout


def test_unreachable_discovery(home):
    closed = f"http://127.0.0.1:{free_port()}/oauth2/default"
    code, checks = home.doctor(home.env(closed, OKTA_HTTP_TIMEOUT_SECONDS="2"))
    assert code == 1
    assert checks["discovery"]["status"] == "fail"
    assert "cannot connect to 127.0.0.1" in checks["discovery"]["detail"]
    assert {checks[c]["status"] for c in ("issuer", "jwks", "groups", "client", "clock")} == {"skip"}
    assert checks["webserver_config"]["status"] == "ok"  # the rest is still checked


def test_unknown_authorization_server_is_a_404_with_the_fix(home, okta):
    code, checks = home.doctor(home.env(okta.base_url + "/oauth2/nosuchserver"))
    assert code == 1
    assert "HTTP 404" in checks["discovery"]["detail"]
    assert "there is no authorization server 'nosuchserver'" in checks["discovery"]["fix"]


def test_issuer_mismatch(home, tmp_path):
    port = free_port()
    config = idp_config(tmp_path / "idp.yaml", home.url)
    # The IdP names itself http://localhost:PORT (a custom domain, say) while OKTA_ISSUER uses 127.0.0.1.
    with serve_in_thread(str(config), port=port, issuer_base=f"http://localhost:{port}") as other:
        code, checks = home.doctor(home.env(f"http://127.0.0.1:{port}/oauth2/default"))
        assert other.issuer == f"http://localhost:{port}/oauth2/default"
    assert code == 1
    assert failing(checks) == ["issuer"]
    assert f"set OKTA_ISSUER=http://localhost:{port}/oauth2/default" in checks["issuer"]["fix"]


def test_no_rs256_keys(home, okta):
    okta.set_faults(jwks_empty=True)
    code, checks = home.doctor(home.env(okta.issuer))
    assert code == 1
    assert failing(checks) == ["jwks"]
    assert "none for RS256" in checks["jwks"]["detail"]


def test_groups_claim_missing_and_groups_scope(home, tmp_path):
    config = idp_config(tmp_path / "idp.yaml", home.url, groups_claim=False, groups_scope=False)
    with serve_in_thread(str(config)) as bare:
        code, checks = home.doctor(home.env(bare.issuer))
    assert code == 1
    assert failing(checks) == ["groups"]
    assert "defines no 'groups' claim" in checks["groups"]["detail"]
    assert "Claims → Add Claim" in checks["groups"]["fix"]
    assert checks["groups"]["data"]["scopes_requested"] == ["openid", "profile", "email"]

    config = idp_config(tmp_path / "idp2.yaml", home.url, groups_claim=True, groups_scope=True)
    with serve_in_thread(str(config)) as full:
        code, checks = home.doctor(home.env(full.issuer))
    assert code == 0
    assert checks["groups"]["data"]["scopes_requested"] == ["openid", "profile", "email", "groups"]
    assert checks["redirect_uris"]["data"]["accepted"] is True  # Okta accepts the scope Airflow will ask for


def test_wrong_secret_is_invalid_client(home, okta):
    code, checks = home.doctor(home.env(okta.issuer, OKTA_CLIENT_SECRET="not-the-secret"))
    assert code == 1
    assert failing(checks) == ["client"]
    assert checks["client"]["data"]["error"] == "invalid_client"
    assert "Client authentication failed" in checks["client"]["detail"]
    assert "accepted_method" not in checks["client"]["data"]


def test_wrong_auth_method_is_told_apart(home, okta):
    code, checks = home.doctor(home.env(okta.issuer, OKTA_TOKEN_AUTH_METHOD="client_secret_post"))
    assert code == 1
    assert failing(checks) == ["client"]
    assert checks["client"]["data"]["accepted_method"] == "client_secret_basic"
    assert checks["client"]["fix"].startswith("set OKTA_TOKEN_AUTH_METHOD=client_secret_basic")


def test_unregistered_redirect_uri_shows_okta_message(home, okta):
    code, checks = home.doctor(home.env(okta.issuer, AIRFLOW__API__BASE_URL="http://localhost:8793"))
    assert code == 1
    assert failing(checks) == ["redirect_uris"]
    result = checks["redirect_uris"]
    assert "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings" in result["detail"]
    assert "add exactly http://localhost:8793/auth/oauth-authorized/okta" in result["fix"]


@pytest.mark.parametrize(
    ("okta_offset", "status", "words"), [(600, "fail", "behind Okta's"), (-30, "warn", "ahead of Okta's")]
)
def test_clock_skew_from_okta_date_header(home, okta, okta_offset, status, words):
    okta.set_faults(date_offset_seconds=okta_offset)
    code, checks = home.doctor(home.env(okta.issuer))
    assert checks["clock"]["status"] == status, checks["clock"]
    assert words in checks["clock"]["detail"]
    assert code == (1 if status == "fail" else 0)


def test_webserver_config_missing_or_not_ours(home, okta, tmp_path):
    code, checks = home.doctor(home.env(okta.issuer, AIRFLOW__FAB__CONFIG_FILE=str(tmp_path / "nowhere.py")))
    assert code == 1
    assert failing(checks) == ["webserver_config"]
    assert "[fab] config_file = " in checks["webserver_config"]["detail"]
    assert "no such file" in checks["webserver_config"]["detail"]

    plain = tmp_path / "webserver_config.py"
    plain.write_text("from flask_appbuilder.const import AUTH_DB\nAUTH_TYPE = AUTH_DB\n")
    code, checks = home.doctor(home.env(okta.issuer, AIRFLOW__FAB__CONFIG_FILE=str(plain)))
    assert failing(checks) == ["webserver_config"]
    assert "does not set SECURITY_MANAGER_CLASS" in checks["webserver_config"]["detail"]


def test_auth_manager_not_fab(home, okta):
    code, checks = home.doctor(home.env(okta.issuer, AIRFLOW__CORE__AUTH_MANAGER=SIMPLE_AUTH_MANAGER))
    assert code == 1
    assert failing(checks) == ["auth_manager"]
    # The doctor recommends okta_security's auth manager (FAB's, plus sign-out at Okta and bot tokens).
    assert "AIRFLOW__CORE__AUTH_MANAGER=okta_security.auth_manager.OktaFabAuthManager " in checks["auth_manager"]["fix"]


def test_invalid_mapping(home, okta, tmp_path):
    bad = tmp_path / "map.yaml"
    bad.write_text("default_role: null\nmappings:\n  airflow-admins: [Admin]\n  airflow-admins: [Op]\n")
    code, checks = home.doctor(home.env(okta.issuer, OKTA_ROLE_MAPPING_FILE=str(bad)))
    assert code == 1
    assert "map.yaml:4" in checks["mapping"]["detail"]
    assert checks["roles"]["status"] == "skip"


def test_mapped_role_missing_from_the_database_until_created(home, okta, tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text("default_role: null\nmappings:\n  airflow-admins: [Admin]\n  data-eng: [DataEngineers]\n")
    env = home.env(okta.issuer, OKTA_ROLE_MAPPING_FILE=str(mapping))
    code, checks = home.doctor(env)
    assert code == 1
    assert failing(checks) == ["roles"]
    assert "map.yaml:4: unknown role 'DataEngineers'" in checks["roles"]["detail"]
    home.airflow_command("roles", "create", "DataEngineers")
    code, checks = home.doctor(env)
    assert code == 0, checks["roles"]
    assert "DataEngineers" in checks["roles"]["data"]["known_roles"]


def test_doctor_beside_a_running_api_server_sees_its_database(af: Stack):
    """Where the webserver runs, with its environment: roles come from the live database (SQLite, PostgreSQL)."""
    code, checks = doctor(af.airflow.env())
    assert code == 0, json.dumps(checks, indent=1)
    assert {"Admin", "Op", "User", "Viewer", "Public"} <= set(checks["roles"]["data"]["known_roles"])
    assert "will be created" not in checks["roles"]["detail"]  # the server has created them


def test_private_key_jwt_is_probed_with_the_signed_assertion(home, tmp_path):
    from joserfc.jwk import RSAKey

    registered = RSAKey.generate_key(2048, auto_kid=True)
    config = idp_config(tmp_path / "idp.yaml", home.url)
    data = yaml.safe_load(config.read_text())
    client = next(c for c in data["clients"] if c["client_id"] == CLIENT_ID)
    client.update(token_endpoint_auth_method="private_key_jwt", jwks={"keys": [registered.as_dict(private=False)]})
    client.pop("client_secret", None)
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(registered.as_pem(private=True))
    stranger_file = tmp_path / "stranger.pem"
    stranger_file.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    with serve_in_thread(str(config)) as pkj:
        base = home.env(pkj.issuer, OKTA_TOKEN_AUTH_METHOD="private_key_jwt")
        base.pop("OKTA_CLIENT_SECRET")
        code, checks = home.doctor({**base, "OKTA_CLIENT_PRIVATE_KEY_FILE": str(key_file)})
        assert code == 0, checks["client"]
        assert "with private_key_jwt" in checks["client"]["detail"]
        code, checks = home.doctor({**base, "OKTA_CLIENT_PRIVATE_KEY_FILE": str(stranger_file)})
    assert code == 1
    assert failing(checks) == ["client"]
    assert "Public keys" in checks["client"]["fix"]
