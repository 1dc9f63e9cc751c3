"""The mapping watcher: an idle worker sees every good version, so a broken edit keeps the newest good one."""

from __future__ import annotations

import logging
from pathlib import Path

import flask
import yaml

from okta_security.mapping.store import MappingStore
from okta_security.mapping.watch import FailureLog, watch_mapping
from tests.polling import until

ROLES = ["Admin", "Op", "Viewer"]
INTERVAL = 0.5


def mapping(role: str) -> str:
    return yaml.safe_dump({"default_role": None, "mappings": {"staff": [role]}})


def roles_for_staff(store: MappingStore) -> list[str]:
    # Read what is in force without asking the store to check the file (that is the watcher's job).
    return sorted(store._mapping.resolve(["staff"]))  # noqa: SLF001


def app_watching(store: MappingStore, released: list[bool] | None = None) -> flask.Flask:
    app = flask.Flask("watched")
    app.add_url_rule("/", "index", lambda: "ok")
    watch_mapping(app, store, release=(lambda: released.append(True)) if released is not None else None)
    return app


def test_an_idle_worker_sees_a_good_version_and_keeps_it_through_a_broken_one(tmp_path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(mapping("Viewer"))
    store = MappingStore(path, known_roles=ROLES, check_interval=INTERVAL)
    released: list[bool] = []
    app_watching(store, released)

    path.write_text(mapping("Op"))  # no request at all: the worker is idle
    assert until(lambda: roles_for_staff(store) == ["Op"])
    path.write_text("mappings:\n  staff: [Admn]\n")  # no such role
    assert until(lambda: store.last_error is not None)
    assert roles_for_staff(store) == ["Op"]  # the newest good version, not the one loaded at start
    assert released  # the thread's database session is handed back after each check


class DatabaseDown:
    """A store whose checks fail while ``down`` is set, as a reload does while the database is down."""

    def __init__(self) -> None:
        self.path = Path("/etc/airflow/okta_role_mapping.yaml")
        self.check_interval = 0.0  # the watcher raises it to its minimum
        self.down = True
        self.checks = 0

    def current(self) -> None:
        self.checks += 1
        if self.down:
            raise ConnectionError("could not connect to server: Connection refused")


def test_a_lasting_failure_logs_its_traceback_once_and_says_when_it_is_over(caplog) -> None:
    caplog.set_level(logging.INFO, logger="okta_security.mapping.watch")
    store = DatabaseDown()
    watch_mapping(flask.Flask("down"), store)  # type: ignore[arg-type]
    assert until(lambda: store.checks >= 6)
    store.down = False
    assert until(lambda: any("works again" in r.getMessage() for r in caplog.records))

    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1  # not one per check: it used to be one every interval
    assert "last good mapping stays in force" in tracebacks[0].getMessage()
    assert "failed checks" in caplog.records[-1].getMessage()


def test_the_same_failure_is_repeated_as_one_counted_line_and_a_new_failure_gets_its_traceback(caplog) -> None:
    caplog.set_level(logging.INFO, logger="okta_security.mapping.watch")
    now = [0.0]
    failures = FailureLog("mapping.yaml", repeat_every=60.0, clock=lambda: now[0])
    for second in range(0, 125):  # two minutes of checks, one a second
        now[0] = float(second)
        failures.failed(ConnectionError("refused"))
    failures.failed(PermissionError("mapping.yaml"))
    failures.succeeded()

    lines = [(r.levelname, bool(r.exc_info), r.getMessage()) for r in caplog.records]
    assert [(level, tb) for level, tb, _ in lines] == [
        ("ERROR", True),  # second 0: the traceback
        ("WARNING", False),  # second 60
        ("WARNING", False),  # second 120
        ("ERROR", True),  # a different failure
        ("INFO", False),  # over
    ]
    assert "60 more times" in lines[1][2]
    assert "ConnectionError: refused" in lines[1][2]
    assert "126 failed checks" in lines[4][2]
