"""The mapping watcher: an idle worker sees every good version, so a broken edit keeps the newest good one."""

from __future__ import annotations

import time

import flask
import yaml

from okta_security.adapter.mapping_watch import watch_mapping
from okta_security.mapping.store import MappingStore

ROLES = ["Admin", "Op", "Viewer"]
INTERVAL = 0.5


def mapping(role: str) -> str:
    return yaml.safe_dump({"default_role": None, "mappings": {"staff": [role]}})


def roles_for_staff(store: MappingStore) -> list[str]:
    # Read what is in force without asking the store to check the file (that is the watcher's job).
    return sorted(store._mapping.resolve(["staff"]))  # noqa: SLF001


def until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


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
