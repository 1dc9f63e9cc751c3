"""The docs match the code: settings, reason codes, doctor checks, commands, Airflow options, links,
the recommended auth manager and the demo's sample users."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import requests
import yaml

from okta_devstack.demo_files import demo_idp_data
from okta_security import errors
from okta_security.airflow_layout import AIRFLOW_2, AIRFLOW_3, FAB_AUTH_MANAGER, RECOMMENDED_AUTH_MANAGER
from okta_security.cli import build_parser
from okta_security.doctor.checks import run_checks
from okta_security.doctor.report import DoctorContext
from okta_security.settings.loader import SETTINGS
from tests.idp.okta_contract import CONTRACT_VARIABLES

REPO = Path(__file__).resolve().parents[2]
ALL_DOCS = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]
OPERABILITY_DOCS = [
    REPO / "docs" / n for n in ("quickstart.md", "deployment.md", "troubleshooting.md", "migrating-from-fab-okta.md")
]
SETTING_NAMES = {s.name for s in SETTINGS}
# Not environment settings but Flask config keys that webserver_config.py sets and the code reads.
FLASK_CONFIG_KEYS = {
    key
    for module in (REPO / "okta_security").rglob("*.py")
    for key in re.findall(r"config(?:\.get\(|\[)\"(OKTA_[A-Z0-9_]+)\"", module.read_text(encoding="utf-8"))
}


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def error_codes(base: type = errors.OktaSecurityError) -> set[str]:
    found, todo = set(), [base]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if "code" in cls.__dict__:
            found.add(cls.code)
    return found


def doctor_check_ids() -> list[str]:
    with requests.Session() as http:  # no settings: every Okta check skips, nothing goes on the network
        return [r.check for r in run_checks(DoctorContext(environ={}, airflow=None, http=http))]


def test_every_doc_exists_and_is_linked_from_the_readme():
    readme = text(REPO / "README.md")
    for doc in OPERABILITY_DOCS:
        assert doc.is_file(), doc
        assert f"(docs/{doc.name})" in readme, f"README.md does not link docs/{doc.name}"


@pytest.mark.parametrize("doc", ALL_DOCS, ids=lambda p: p.name)
def test_every_okta_variable_mentioned_exists(doc):
    body = text(doc)
    shell_variables = set(re.findall(r"\$\{?(OKTA_[A-Z0-9_]+)", body))  # an example's own variables
    known = (
        SETTING_NAMES
        | {f"{n}_FILE" for n in SETTING_NAMES}
        | FLASK_CONFIG_KEYS
        | shell_variables
        | set(CONTRACT_VARIABLES)  # the contract suite's, in docs/contract-tests.md
    )
    unknown = set(re.findall(r"\bOKTA_[A-Z0-9_]*[A-Z0-9]\b", body)) - known
    assert not unknown, f"{doc.name} mentions settings that do not exist: {sorted(unknown)}"


@pytest.mark.parametrize("doc", OPERABILITY_DOCS, ids=lambda p: p.name)
def test_every_reason_code_mentioned_exists(doc):
    mentioned = set(re.findall(r"reason code\*{0,2} `([a-z_]+)`", text(doc), flags=re.IGNORECASE))
    unknown = mentioned - error_codes()
    assert not unknown, f"{doc.name} mentions reason codes okta_security does not have: {sorted(unknown)}"


def test_every_refusal_reason_code_is_in_troubleshooting():
    documented = set(re.findall(r"reason code `([a-z_]+)`", text(REPO / "docs" / "troubleshooting.md")))
    missing = error_codes(errors.LoginRefused) - {errors.LoginRefused.code} - documented
    assert not missing, f"docs/troubleshooting.md has no row for reason code(s) {sorted(missing)}"


def _table_column(markdown: str, header: str) -> list[str]:
    cells: list[str] = []
    column = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            column = None
            continue
        row = [c.strip() for c in line.strip().strip("|").split("|")]
        if header in row:
            column = row.index(header)
        elif column is not None and not set(line) <= set("|-: "):
            cells.append(row[column])
    return cells


def test_doctor_checks_in_the_docs_are_real_and_all_listed():
    ids = doctor_check_ids()
    assert len(ids) == len(set(ids)) == 14
    quickstart = _table_column(text(REPO / "docs" / "quickstart.md"), "Check id")
    assert [c.strip("`") for c in quickstart] == ids, "the quick start's check table must list every check, in order"
    named = {
        token
        for cell in _table_column(text(REPO / "docs" / "troubleshooting.md"), "Doctor check")
        for token in re.findall(r"`([a-z_]+)`", cell)
    }
    assert named, "troubleshooting.md has no 'Doctor check' column"
    assert named <= set(ids), f"unknown doctor checks in troubleshooting.md: {sorted(named - set(ids))}"


def _commands(markdown: str) -> list[str]:
    found = re.findall(r"`(okta-airflow [^`]+)`", markdown)
    for block in re.findall(r"```(?:bash|sh|console)?\n(.*?)```", markdown, flags=re.DOTALL):
        found.extend(line.split(" #")[0].strip() for line in block.splitlines() if line.startswith("okta-airflow"))
    return found


@pytest.mark.parametrize("doc", ALL_DOCS, ids=lambda p: p.name)
def test_every_okta_airflow_command_shown_parses(doc):
    parser = build_parser()
    for command in _commands(text(doc)):
        command = re.split(r"\s(?:[|>]|&&|2>)", command)[0]  # the shell's part of the line is not ours
        if "[" in command or "<" in command:
            continue  # a usage synopsis ([--dry-run], <file>), not a command line
        argv = shlex.split(command)[1:]
        if not argv or "--help" in argv or "-h" in argv or argv == ["--version"]:
            continue
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{doc.name}: `{command}` is not a valid okta-airflow command line")


def _airflow3_options() -> set[tuple[str, str]]:
    """Return (section, key) of Airflow 3's options and the FAB provider's, read from files (no import)."""
    spec = importlib.util.find_spec("airflow")
    assert spec is not None
    assert spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    options = {
        (section, key)
        for section, body in yaml.safe_load((root / "config_templates" / "config.yml").read_text()).items()
        for key in (body.get("options") or {})
    }
    namespace: dict = {}
    exec((root / "providers" / "fab" / "get_provider_info.py").read_text(), namespace)  # a dict literal
    for section, body in namespace["get_provider_info"]()["config"].items():
        options.update((section, key) for key in body["options"])
    return options


def test_airflow_options_mentioned_exist_in_airflow_3_or_are_the_2_11_ones():
    known = _airflow3_options()
    airflow2 = {
        getattr(AIRFLOW_2, f) for f in ("config_file", "base_url", "enable_proxy_fix", "secret_key", "ssl_cert")
    }
    for field in ("config_file", "base_url", "enable_proxy_fix", "secret_key", "ssl_cert"):
        assert getattr(AIRFLOW_3, field) in known, field  # compat's Airflow 3 layout is real
    for doc in OPERABILITY_DOCS:
        body = text(doc)
        mentioned = set(re.findall(r"\[([a-z_]+)\] ([a-z_]+)", body))
        mentioned |= {(s.lower(), k.lower()) for s, k in re.findall(r"AIRFLOW__([A-Z_]+?)__([A-Z_]+)", body)}
        unknown = {m for m in mentioned if m not in known and m not in airflow2}
        assert not unknown, f"{doc.name} mentions Airflow options that do not exist: {sorted(unknown)}"


@pytest.mark.parametrize("doc", OPERABILITY_DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text(doc)):
        assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


def test_quickstart_redirect_uris_are_the_ones_the_doctor_prints():
    body = text(REPO / "docs" / "quickstart.md")
    for layout in (AIRFLOW_3, AIRFLOW_2):
        assert f"https://airflow.example.com{layout.callback_path}" in body
        assert f"https://airflow.example.com{layout.login_path}" in body


# -- the auth manager ------------------------------------------------------------------------------

AUTH_MANAGER_NAMED = re.compile(
    r"\w*AuthManager\b|\[core\] auth_manager|AIRFLOW__CORE__AUTH_MANAGER|^\s*auth_manager\s*[:=]", re.M
)
# Where a doc sets [core] auth_manager: env var, airflow.cfg / Helm values, or the doctor's output line.
AUTH_MANAGER_SET = re.compile(
    r"(?:AIRFLOW__CORE__AUTH_MANAGER=|^\s*auth_manager\s*[:=]\s*|\[core\] auth_manager: )`?([\w.]+)", re.M
)
AUTH_MANAGER_FILES = [*ALL_DOCS, REPO / "config" / "okta.env.example"]


def test_the_recommended_auth_manager_is_the_doctors_and_exists():
    """One constant: the doctor's fix line on Airflow 3, the public class path, a FAB auth manager."""
    import importlib

    from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager

    assert AIRFLOW_3.recommended_auth_manager == RECOMMENDED_AUTH_MANAGER
    assert AIRFLOW_2.recommended_auth_manager == FAB_AUTH_MANAGER  # 2.11: FAB's own (its default)
    module, _, name = RECOMMENDED_AUTH_MANAGER.rpartition(".")
    assert issubclass(getattr(importlib.import_module(module), name), FabAuthManager)


@pytest.mark.parametrize("doc", AUTH_MANAGER_FILES, ids=lambda p: p.name)
def test_a_doc_that_names_an_auth_manager_names_the_recommended_one(doc):
    body = text(doc)
    if not AUTH_MANAGER_NAMED.search(body):
        return
    assert RECOMMENDED_AUTH_MANAGER in body, f"{doc.name} names an auth manager but not {RECOMMENDED_AUTH_MANAGER}"


@pytest.mark.parametrize("doc", AUTH_MANAGER_FILES, ids=lambda p: p.name)
def test_every_auth_manager_a_doc_sets_is_the_recommended_one(doc):
    """Settings, Helm values and sample doctor output use it; plain FabAuthManager only in prose."""
    wrong = [value for value in AUTH_MANAGER_SET.findall(text(doc)) if value != RECOMMENDED_AUTH_MANAGER]
    assert not wrong, f"{doc.name} sets [core] auth_manager to {wrong}; use {RECOMMENDED_AUTH_MANAGER}"


def test_the_auth_manager_checks_see_the_quickstarts_doctor_output():
    """Guard the two tests above: they must find the places they are about."""
    assert AUTH_MANAGER_SET.findall(text(REPO / "docs" / "quickstart.md")) == [RECOMMENDED_AUTH_MANAGER] * 2
    assert AUTH_MANAGER_SET.findall(text(REPO / "docs" / "deployment.md")) == [RECOMMENDED_AUTH_MANAGER]
    assert AUTH_MANAGER_SET.findall("    auth_manager: x.FabAuthManager\n") == ["x.FabAuthManager"]


# -- the demo's sample users -----------------------------------------------------------------------

# `login@example.com` / `password`, as the README and the docs show the sample users.
SAMPLE_USER = re.compile(r"`([a-z0-9.]+@example\.com)`\s*/\s*`([^`]+)`")


def idp_users() -> dict[str, dict]:
    """Return the users of the IdP config the demo serves (and its banner lists), by login."""
    data = demo_idp_data()  # config/idp_users.yaml plus examples/demo/idp_additions.yaml, as the banner reads it
    return {u["login"]: u for u in data["users"]}


def test_the_readme_lists_every_sample_user_the_demo_has():
    readme = text(REPO / "README.md")
    shown = dict(SAMPLE_USER.findall(readme))
    users = idp_users()
    assert set(shown) == set(users), f"README sample users {sorted(shown)} != config/idp_users.yaml {sorted(users)}"
    for login, user in users.items():
        if user.get("status", "ACTIVE") != "ACTIVE":
            tail = readme.split(f"`{login}`", 1)[1][:200].lower()
            assert user["status"].lower() in tail, f"README does not say that {login} is {user['status']}"


@pytest.mark.parametrize("doc", ALL_DOCS, ids=lambda p: p.name)
def test_every_sample_login_and_password_shown_works_in_the_demo(doc):
    users = idp_users()
    for login, password in SAMPLE_USER.findall(text(doc)):
        assert login in users, f"{doc.name} shows sample user {login}, who is not in config/idp_users.yaml"
        assert users[login]["password"] == password, f"{doc.name} shows the wrong password for {login}"
