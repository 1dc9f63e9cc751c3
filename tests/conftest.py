"""Shared fixtures: a real ``airflow api-server`` (SQLite and PostgreSQL) beside the local Okta-compatible IdP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

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

# Every test server gets a copy of a database migrated once per session (okta_devstack.migrations).
AirflowServer.share_migrations = True

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


@pytest.hookimpl(tryfirst=True)  # before xdist turns the marks into work units
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test that needs a running server the group of the server it needs.

    A test on a shared server joins that server's group; a test on a module's own server joins
    its module's group; a test that starts and stops its own server stays on its own, so the two
    workers balance. Groups are sent out longest first (shared servers, then modules).
    """
    for item in items:
        group = _server_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    shared = tuple(f"{name}[" for name in SHARED_SERVERS)

    def rank(item: pytest.Item) -> int:
        marks = [m.args[0] for m in item.iter_markers("xdist_group")]
        return 0 if any(m.startswith(shared) for m in marks) else 1 if marks else 2

    items.sort(key=rank)  # stable: collection order within each rank


def _server_group(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    fixtureinfo = getattr(item, "_fixtureinfo", None)  # pytest's own record of the test's fixtures
    if fixtureinfo is None:
        return None
    for name in SHARED_SERVERS:
        defs = fixtureinfo.name2fixturedefs.get(name)
        if defs and defs[-1].scope == "session":  # a module may name its own server the same
            param = callspec.params.get(name, "") if callspec is not None else ""
            return f"{name}[{param}]"
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
    return f"{module}[{'-'.join(params)}]" if params else module
