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
