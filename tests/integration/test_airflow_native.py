"""okta_security as an Airflow provider: providers list, [okta] in airflow config, AIRFLOW__OKTA__* logins, airflow okta.

The stack (tests/integration/conftest.py) sets no OKTA_* variable at all: Airflow's configuration
gives every setting and a command gives the client secret. ``airflow`` commands are forked from the
stack's warm process (``Stack.airflow_command``), which imported Airflow's command line, our
provider's commands among them, with this environment; the doctor runs as the real ``airflow okta
doctor`` and ``okta-airflow doctor`` commands.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from okta_security.settings.specs import SETTINGS
from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.integration.conftest import API_TOKEN
from tests.integration.helpers import okta_login, user_roles

if TYPE_CHECKING:
    from tests.integration.conftest import NativeStack

ALICE = ("alice.admin@example.com", "Admin-pass-1")
BOB = ("bob.viewer@example.com", "Viewer-pass-1")
OKTA_AIRFLOW = str(Path(sys.executable).with_name("okta-airflow"))


def doctor(stack: NativeStack, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    """Run ``airflow okta doctor --json ...`` (or okta-airflow, when args start with it) where the server runs."""
    argv = [*args[1:]] if args and args[0] == OKTA_AIRFLOW else stack.airflow.argv("okta", "doctor", *args)
    if args and args[0] == OKTA_AIRFLOW:
        argv = [OKTA_AIRFLOW, "doctor", *argv]
    proc = subprocess.run(argv, env=env or stack.airflow.env(), capture_output=True, text=True, timeout=300)
    assert proc.stdout, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    return proc.returncode, {c["check"]: c for c in report["checks"]}, proc.stdout + proc.stderr


def test_the_environment_sets_no_okta_variable(native: NativeStack):
    env = native.airflow.env()
    assert not [name for name in env if name.startswith("OKTA_")]
    assert "AIRFLOW__OKTA__CLIENT_SECRET" not in env  # only the command that prints it
    assert CLIENT_SECRET not in json.dumps(env)


def test_airflow_lists_the_provider_and_its_auth_manager(native: NativeStack):
    providers = native.airflow_command("providers", "list").stdout
    assert "okta-security" in providers
    managers = native.airflow_command("providers", "auth-managers").stdout
    assert "okta_security.auth_manager.OktaFabAuthManager" in managers


def test_airflow_config_documents_every_okta_option(native: NativeStack):
    listed = native.airflow_command("config", "list", "--section", "okta", "--include-descriptions", "-V").stdout
    assert listed.startswith("[okta]") or "\n[okta]" in listed
    for spec in SETTINGS:
        assert f"# Variable: {spec.airflow_env}\n" in listed, spec.option
        assert f"# {spec.doc.splitlines()[0]}" in listed, spec.option  # the declared doc, generated from it
        assert f"Also read from the environment as {spec.name} or {spec.file_name}." in listed, spec.option
        assert f"{spec.option} = " in listed, spec.option
    sources = native.airflow_command(
        "config", "list", "--section", "okta", "--include-sources", "--show-values", "--hide-sensitive"
    ).stdout
    assert f"# Source: env var\nissuer = {native.idp.issuer}\n" in sources
    assert CLIENT_SECRET not in sources  # declared sensitive: Airflow hides it
    issuer = native.airflow_command("config", "get-value", "okta", "issuer").stdout.strip()
    assert issuer == native.idp.issuer
    assert native.airflow_command("config", "get-value", "okta", "clock_skew_seconds").stdout.strip() == "60"


def test_a_login_works_with_only_airflow_configuration(native: NativeStack):
    session, final = okta_login(native.url, *ALICE)
    assert final.status_code == 200, final.text[:500]
    assert "_token" in session.cookies
    assert session.get(f"{native.url}/api/v2/dags", timeout=30).status_code == 200
    assert user_roles(native.db_url, ALICE[0]) == {"Admin"}  # groups from Okta's Groups API (AIRFLOW__OKTA__API_TOKEN)


def test_airflow_okta_doctor_passes_and_names_where_each_value_came_from(native: NativeStack):
    code, checks, output = doctor(native, "--json")
    assert code == 0, json.dumps({k: v for k, v in checks.items() if v["status"] != "ok"}, indent=1)
    assert {c["status"] for c in checks.values()} == {"ok"}
    shown = checks["settings"]["data"]["settings"]
    assert shown["OKTA_ISSUER"] == f"{native.idp.issuer} (from AIRFLOW__OKTA__ISSUER)"
    assert shown["OKTA_CLIENT_SECRET"] == "set (from AIRFLOW__OKTA__CLIENT_SECRET_CMD)"
    assert shown["OKTA_CLOCK_SKEW_SECONDS"] == "'60' (default)"
    assert CLIENT_SECRET not in output


def test_the_okta_variables_keep_working_and_come_before_airflow_s_options(native: NativeStack):
    old = {k: v for k, v in native.airflow.env().items() if not k.startswith("AIRFLOW__OKTA__")}
    old.update(
        OKTA_ISSUER=native.idp.issuer,
        OKTA_CLIENT_ID=CLIENT_ID,
        OKTA_CLIENT_SECRET_FILE=str(native.secret_file),
        OKTA_ROLE_MAPPING_FILE=str(native.mapping),
        OKTA_API_TOKEN=API_TOKEN,
    )
    code, checks, _ = doctor(native, OKTA_AIRFLOW, "--json", env=old)
    assert code == 0, json.dumps({k: v for k, v in checks.items() if v["status"] != "ok"}, indent=1)
    assert checks["settings"]["data"]["settings"]["OKTA_ISSUER"] == native.idp.issuer

    both = {**native.airflow.env(), "OKTA_CLIENT_ID": "0oa-some-other-app"}
    _code, checks, _ = doctor(native, "--json", env=both)
    assert checks["settings"]["status"] == "ok", checks["settings"]
    shown = checks["settings"]["data"]["settings"]
    assert shown["OKTA_CLIENT_ID"] == "0oa-some-other-app"  # bare: from OKTA_CLIENT_ID, which comes first
    assert shown["OKTA_ISSUER"] == f"{native.idp.issuer} (from AIRFLOW__OKTA__ISSUER)"


def test_airflow_okta_runs_every_command_with_exit_codes(native: NativeStack, tmp_path):
    help_text = native.airflow_command("okta", "--help").stdout
    commands = ("doctor", "check-mapping", "explain", "sync-users", "sync-roles", "migrate-usernames", "init", "relink")
    for command in (*commands, "login"):
        assert command in help_text
    ok = native.airflow_command("okta", "check-mapping", "--no-db", check=False)  # the file [okta] names
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert str(native.mapping) in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("mappings:\n  a: [Admn\n")
    failed = native.airflow_command("okta", "check-mapping", str(bad), "--no-db", check=False)
    assert failed.returncode == 1
    usage = native.airflow_command("okta", "check-mapping", "--no-db", "--db-url", "sqlite://", check=False)
    assert usage.returncode == 2
    assert "not allowed with argument" in usage.stderr


def test_health_needs_airflows_authentication_and_config_permission(native: NativeStack):
    assert requests.get(f"{native.url}/auth/okta/health", timeout=30).status_code == 401
    admin, _ = okta_login(native.url, *ALICE)
    answer = admin.get(f"{native.url}/auth/okta/health", timeout=30)
    assert answer.status_code == 200, answer.text[:500]
    body = answer.json()
    assert body["status"] == "ok"
    assert body["okta"]["reachable"] is True
    assert body["mapping"]["file"] == str(native.mapping)
    assert body["jwks"]["age_seconds"] is not None  # a login verified an ID token: the keys were fetched
    token = admin.cookies["_token"]
    bearer = requests.get(f"{native.url}/auth/okta/health", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert bearer.status_code == 200
    viewer, final = okta_login(native.url, *BOB)
    assert final.status_code == 200
    assert viewer.get(f"{native.url}/auth/okta/health", timeout=30).status_code == 403


def test_doctor_live_shows_the_running_servers_health(native: NativeStack, tmp_path):
    admin, _ = okta_login(native.url, *ALICE)
    token_file = tmp_path / "token"
    token_file.write_text(admin.cookies["_token"])
    code, checks, output = doctor(native, "--json", "--live", "--token-file", str(token_file))
    assert code == 0, json.dumps(checks.get("live"), indent=1)
    live = checks["live"]
    assert live["status"] == "ok"
    assert "mapping in force: " + str(native.mapping) in live["detail"]
    assert "Okta from the server: reachable" in live["detail"]
    assert admin.cookies["_token"] not in output
    code, checks, _ = doctor(native, "--json", "--live")  # no token
    assert code == 1
    assert "HTTP 401" in checks["live"]["detail"]
