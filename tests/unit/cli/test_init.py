"""``okta-airflow init``: the packaged templates land in AIRFLOW_HOME, never over a file without --force."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from okta_security.cli import EXIT_FAILURE, EXIT_OK, main
from okta_security.cli.init import TEMPLATES, template_text
from okta_security.mapping.roles import BUILTIN_ROLES
from okta_security.mapping.rules import parse_mapping

REPO = Path(__file__).resolve().parents[3]
NAMES = [t.target for t in TEMPLATES]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("AIRFLOW_HOME", "AIRFLOW__FAB__CONFIG_FILE", "OKTA_ROLE_MAPPING_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_writes_both_templates_and_prints_next_steps(tmp_path, capsys):
    home = tmp_path / "new" / "airflow"
    assert main(["init", "--airflow-home", str(home)]) == EXIT_OK
    assert sorted(p.name for p in home.iterdir()) == sorted(NAMES)
    assert (home / "webserver_config.py").read_text() == (REPO / "webserver_config.py").read_text()
    out = capsys.readouterr().out
    assert f"Wrote {home / 'webserver_config.py'}" in out
    assert "Next steps:" in out
    assert "AIRFLOW__CORE__AUTH_MANAGER=okta_security.auth_manager.OktaFabAuthManager" in out
    assert "AIRFLOW__API__BASE_URL=https://<airflow host>" in out  # redirect URIs come from it
    assert f"okta-airflow check-mapping {home / 'okta_role_mapping.yaml'}" in out


def test_default_home_is_airflow_home_then_home_airflow(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "from-env"))
    assert main(["init"]) == EXIT_OK
    assert (tmp_path / "from-env" / "webserver_config.py").is_file()
    monkeypatch.delenv("AIRFLOW_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert main(["init"]) == EXIT_OK
    assert (tmp_path / "user" / "airflow" / "okta_role_mapping.yaml").is_file()


def test_refuses_to_overwrite_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "okta_role_mapping.yaml").write_text("default_role: Viewer\n")
    assert main(["init", "--airflow-home", str(tmp_path)]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert "[init_target_exists]" in err
    assert str(tmp_path / "okta_role_mapping.yaml") in err
    assert "--force" in err
    assert (tmp_path / "okta_role_mapping.yaml").read_text() == "default_role: Viewer\n"
    assert not (tmp_path / "webserver_config.py").exists(), "nothing is written when anything would be overwritten"


def test_force_overwrites(tmp_path, capsys):
    (tmp_path / "webserver_config.py").write_text("# mine\n")
    assert main(["init", "--airflow-home", str(tmp_path), "--force"]) == EXIT_OK
    assert (tmp_path / "webserver_config.py").read_text() == template_text("webserver_config.py")
    assert "(replaced)" in capsys.readouterr().out


def test_dry_run_writes_nothing(tmp_path, capsys):
    assert main(["init", "--airflow-home", str(tmp_path / "h"), "--dry-run"]) == EXIT_OK
    assert not (tmp_path / "h").exists()
    assert "Would write" in capsys.readouterr().out


def test_notes_settings_that_point_elsewhere(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AIRFLOW__FAB__CONFIG_FILE", "/etc/airflow/webserver_config.py")
    monkeypatch.setenv("OKTA_ROLE_MAPPING_FILE", "/etc/airflow/mapping.yaml")
    assert main(["init", "--airflow-home", str(tmp_path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "AIRFLOW__FAB__CONFIG_FILE=/etc/airflow/webserver_config.py points elsewhere" in out
    assert "OKTA_ROLE_MAPPING_FILE=/etc/airflow/mapping.yaml points elsewhere" in out


def test_packaged_templates_are_the_repo_files():
    # The package carries the canonical copies; the repo-root files people browse link to them.
    assert template_text("webserver_config.py") == (REPO / "webserver_config.py").read_text()
    assert template_text("okta_role_mapping.yaml") == (REPO / "config" / "role_mapping.yaml").read_text()


def test_mapping_template_is_a_valid_mapping():
    mapping = parse_mapping(
        template_text("okta_role_mapping.yaml"), source="okta_role_mapping.yaml", known_roles=BUILTIN_ROLES
    )
    assert mapping.default_role is None
    assert mapping.rules, "the template maps the usual groups"


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("dangling", [True, False], ids=["dangling-link", "live-link"])
def test_a_symlink_in_the_way_is_refused_and_never_written_through(tmp_path, capsys, force, dangling):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    target = elsewhere / "victim.py"
    if not dangling:
        target.write_text("# someone else's file\n")
    (home / "webserver_config.py").symlink_to(target)
    assert main(["init", "--airflow-home", str(home), *(["--force"] if force else [])]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert "[init_target_not_a_regular_file]" in err
    assert f"{home / 'webserver_config.py'} is a symbolic link (to {target})" in err
    assert "Remove the link" in err
    assert target.exists() == (not dangling)
    if not dangling:
        assert target.read_text() == "# someone else's file\n"
    assert (home / "webserver_config.py").is_symlink()
    assert not (home / "okta_role_mapping.yaml").exists(), "nothing is written when any target is refused"


def test_files_are_written_whole_with_mode_0644_and_no_temporary_file_left(tmp_path):
    old = os.umask(0o077)  # a strict umask must not make Airflow's config unreadable to Airflow
    try:
        assert main(["init", "--airflow-home", str(tmp_path), "--force"]) == EXIT_OK
    finally:
        os.umask(old)
    for name in NAMES:
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(NAMES)
