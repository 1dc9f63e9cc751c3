"""Shared fixtures: a real ``airflow api-server`` (SQLite and PostgreSQL) beside the local Okta-compatible IdP."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from okta_devstack import migrations
from okta_devstack.airflow import AirflowServer
from tests.stacks import (
    AUDIT_COUNT_WRITE_SECONDS,
    CLIENT_ID,
    CLIENT_SECRET,
    MAPPING_CHECK_SECONDS,
    MAPPING_SETTLE_SECONDS,
    Stack,
    StackSpec,
    postgres_database,
    running_stack,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "AUDIT_COUNT_WRITE_SECONDS",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "EVENT_HOOK_SECRET",
    "JWKS_REFETCH_INTERVAL_SECONDS",
    "MAPPING_CHECK_SECONDS",
    "MAPPING_SETTLE_SECONDS",
    "Stack",
    "postgres_database",
]

# Every test server gets a copy of a database migrated once per run (okta_devstack.migrations): the
# run's first process (pytest, or the xdist controller) makes the template directory, every worker
# process inherits it, and the first worker that needs a kind of database migrates it for all.
AirflowServer.share_migrations = True
MIGRATED_TEMPLATES = pytest.StashKey[Path]()

EVENT_HOOK_SECRET = "Bearer okta-event-hook-test-secret"  # OKTA_EVENT_HOOK_SECRET of the test stack
JWKS_REFETCH_INTERVAL_SECONDS = 1.0  # OKTA_JWKS_REFETCH_INTERVAL_SECONDS of the test stack


def _shared_idp(data: dict, airflow_url: str) -> None:
    # A mover: two mapped groups, so removing one in the IdP must remove exactly that role.
    for user in data["users"]:
        if user["login"].startswith("bob"):
            user["groups"] = ["airflow-viewers", "airflow-ops", "Everyone"]
    # Okta Event Hooks to Airflow's /auth/okta/events; verified by the tests that need them.
    data["event_hooks"] = [
        {"name": "airflow", "url": f"{airflow_url}/auth/okta/events", "authorization": EVENT_HOOK_SECRET}
    ]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def stack(request, tmp_path_factory) -> Iterator[Stack]:
    spec = StackSpec(
        database=request.param,
        edit_idp=_shared_idp,
        settings={
            "OKTA_EVENT_HOOK_SECRET": EVENT_HOOK_SECRET,
            # Key-rotation tests need a re-fetch soon after another; 1 s still exercises the limit.
            "OKTA_JWKS_REFETCH_INTERVAL_SECONDS": str(JWKS_REFETCH_INTERVAL_SECONDS),
        },
    )
    with running_stack(spec, tmp_path_factory.mktemp(f"stack-{request.param}")) as built:
        yield built


@pytest.fixture
def af(stack: Stack) -> Iterator[Stack]:
    """The running stack, with the mapping and IdP files restored after each test."""
    yield stack
    stack.reset_files()


# Servers shared across modules: with `pytest -n 2 --dist loadgroup` (make test), every test that
# uses one of these runs in the worker that started it, so each server starts once per run.
SHARED_SERVERS = ("stack", "native", "af2_stack")
# Where the workers write each test's server group for the controller's scheduler (a JSON file).
GROUPS_FILE = "OKTA_TEST_SERVER_GROUPS"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and not os.environ.get(migrations.SHARED_DIR_ENV):
        config.stash[MIGRATED_TEMPLATES] = migrations.share_templates()  # before the workers start
    if not hasattr(config, "workerinput") and config.getoption("dist", "no") == "loadgroup":
        fd, path = tempfile.mkstemp(prefix="okta-test-groups-", suffix=".json")
        os.close(fd)
        os.environ[GROUPS_FILE] = path  # the workers start after this and inherit it


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and os.environ.get(GROUPS_FILE):
        Path(os.environ.pop(GROUPS_FILE)).unlink(missing_ok=True)
    templates = config.stash.get(MIGRATED_TEMPLATES, None)
    if templates is not None:  # the workers have stopped: nobody copies a template any more
        os.environ.pop(migrations.SHARED_DIR_ENV, None)
        migrations.remove_templates(templates)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test that needs a running server the group of the server it needs.

    A test on a shared server joins that server's group; a test on a module's own server joins
    its module's group; a test that starts and stops its own server stays on its own, so the two
    workers balance. Groups are sent out longest first (shared servers, then modules). xdist 3.8
    marks groups by rewriting node ids, which pytest 9 no longer reads: the workers write the
    groups to a file and the controller's scheduler (below) reads it instead.
    """
    groups = {item.nodeid: group for item in items if (group := _server_group(item)) is not None}
    shared = tuple(f"{name}:" for name in SHARED_SERVERS)
    items.sort(key=lambda item: 2 if item.nodeid not in groups else 0 if groups[item.nodeid].startswith(shared) else 1)
    path = os.environ.get(GROUPS_FILE)
    if path and hasattr(config, "workerinput"):
        scratch = Path(f"{path}.{config.workerinput['workerid']}")
        scratch.write_text(json.dumps(groups))
        os.replace(scratch, path)  # every worker collects the same tests: any one file is the whole answer


@pytest.hookimpl(optionalhook=True)  # xdist's hook: pytest -p no:xdist must still load this file
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist", "no") != "loadgroup" or not os.environ.get(GROUPS_FILE):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ServerGroups(LoadScopeScheduling):
        """xdist's scope scheduling with each test's scope its server group (or itself)."""

        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # read once the workers have collected (scheduling starts then)
                self.groups = json.loads(Path(os.environ[GROUPS_FILE]).read_text() or "{}")
            return self.groups.get(nodeid, nodeid)

    return ServerGroups(config, log)


def _server_group(item: pytest.Item) -> str | None:
    # A test that reaches its server through request.getfixturevalue names the group itself.
    named = [str(mark.args[0]) for mark in item.iter_markers("xdist_group")]
    if named:
        return named[0]
    callspec = getattr(item, "callspec", None)
    fixtureinfo = getattr(item, "_fixtureinfo", None)  # pytest's own record of the test's fixtures
    if fixtureinfo is None:
        return None
    for name in SHARED_SERVERS:
        defs = fixtureinfo.name2fixturedefs.get(name)
        if defs and defs[-1].scope == "session":  # a module may name its own server the same
            param = callspec.params.get(name, "") if callspec is not None else ""
            return f"{name}:{param}"
    # A fixture of module scope set up by this module (or its package's conftest) is one server.
    module = item.nodeid.split("::", 1)[0]
    servers = [
        name
        for name, defs in fixtureinfo.name2fixturedefs.items()
        if defs and defs[-1].scope in ("module", "package") and defs[-1].baseid
    ]
    if not servers:
        return None
    # A parametrised module server (SQLite, PostgreSQL) is one server per value: one group each.
    params = [str(callspec.params[name]) for name in sorted(servers) if callspec and name in callspec.params]
    return f"{module}:{'-'.join(params)}" if params else module
