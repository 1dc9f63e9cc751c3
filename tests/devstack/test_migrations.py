"""Migrate once, copy many, across processes: processes sharing a template directory migrate each kind once.

``airflow db migrate`` is replaced by a stand-in that takes a moment, writes the SQLite file and
notes which process ran it: what is tested is who migrates and who copies, not Airflow.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

from okta_devstack import migrations
from okta_devstack.airflow import AirflowServer

MIGRATION_SECONDS = 0.5  # long enough that processes started together all arrive during the first migration


def _migrate_for_test(self: AirflowServer) -> None:
    time.sleep(MIGRATION_SECONDS)
    Path(self.db_url.removeprefix("sqlite:///")).write_text(f"migrated in {self.home.name}")
    with open(os.environ["TEST_MIGRATIONS_LOG"], "a") as log:
        log.write(f"{os.getpid()}\n")


def _copy(home: str) -> None:
    """A process of its own (spawned: nothing inherited but the environment) giving one server its database."""
    AirflowServer.migrate = _migrate_for_test  # type: ignore[method-assign]
    assert migrations.copy_migrated(AirflowServer(Path(home), okta_env={}))


def _copy_in_processes(homes: list[Path]) -> None:
    spawn = multiprocessing.get_context("spawn")
    procs = [spawn.Process(target=_copy, args=(str(home),)) for home in homes]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0] * len(procs)


def _shared(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "templates"
    root.mkdir()
    monkeypatch.setenv(migrations.SHARED_DIR_ENV, str(root))
    monkeypatch.setenv("TEST_MIGRATIONS_LOG", str(tmp_path / "migrations.log"))
    return root


def test_processes_started_together_migrate_once_and_all_get_the_copy(tmp_path, monkeypatch):
    root = _shared(tmp_path, monkeypatch)
    homes = [tmp_path / f"server-{n}" for n in range(3)]
    _copy_in_processes(homes)
    assert len((tmp_path / "migrations.log").read_text().split()) == 1
    (template,) = root.glob("template-*/airflow.db")
    for home in homes:
        assert (home / "airflow.db").read_text() == template.read_text()
    (record,) = root.glob("*.json")
    assert json.loads(record.read_text()) == {"template": str(template)}

    _copy_in_processes([tmp_path / "later"])  # a process started afterwards copies too
    assert len((tmp_path / "migrations.log").read_text().split()) == 1
    assert (tmp_path / "later" / "airflow.db").read_text() == template.read_text()


def test_a_template_gone_is_migrated_again_and_removed_at_the_end(tmp_path, monkeypatch):
    root = _shared(tmp_path, monkeypatch)
    _copy_in_processes([tmp_path / "first"])
    (template,) = root.glob("template-*/airflow.db")
    template.unlink()
    _copy_in_processes([tmp_path / "second"])
    assert len((tmp_path / "migrations.log").read_text().split()) == 2
    assert (tmp_path / "second" / "airflow.db").read_text().startswith("migrated in template-")

    migrations.remove_templates(root)
    assert not root.exists()
    assert (tmp_path / "second" / "airflow.db").exists()  # the servers' own copies are theirs
