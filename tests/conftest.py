"""Shared fixtures: a real ``airflow api-server`` (SQLite and PostgreSQL) beside the local Okta-compatible IdP."""

from __future__ import annotations

import shutil
import time
import uuid
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
import yaml

from okta_devstack.airflow import REPO, AirflowServer, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from okta_local_idp.server import IdpHandle

# Every test server gets a copy of a database migrated once per session (okta_devstack.migrations).
AirflowServer.share_migrations = True

CLIENT_ID = "airflow-local"
CLIENT_SECRET = "airflow-local-secret"
PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
EVENT_HOOK_SECRET = "Bearer okta-event-hook-test-secret"  # OKTA_EVENT_HOOK_SECRET of the test stack
JWKS_REFETCH_INTERVAL_SECONDS = 1.0  # OKTA_JWKS_REFETCH_INTERVAL_SECONDS of the test stack


class Stack:
    """What a test needs: URLs, the editable files, the database URL."""

    def __init__(
        self, airflow: AirflowServer, issuer: str, mapping: Path, idp_config: Path, idp: IdpHandle | None = None
    ) -> None:
        self.airflow = airflow
        self.idp = idp  # the in-process IdP: runtime faults (set_faults/clear_faults), key rotation
        self.url = airflow.base_url
        self.issuer = issuer
        self.mapping = mapping
        self.idp_config = idp_config
        self.db_url = airflow.db_url
        self.original_mapping = mapping.read_text()
        self.original_idp = idp_config.read_text()

    def reset_files(self) -> None:
        from tests.integration.helpers import rewrite

        if self.mapping.read_text() != self.original_mapping:
            rewrite(self.mapping, self.original_mapping)
            # The server's MappingStore looks at the file at most once a second: let it see the restore.
            time.sleep(1.1)
        if self.idp_config.read_text() != self.original_idp:
            rewrite(self.idp_config, self.original_idp)


def postgres_database() -> Iterator[str]:
    name = f"okta_it_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as e:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required for the integration tests: {e}")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def stack(request, tmp_path_factory) -> Iterator[Stack]:
    from okta_local_idp.server import serve_in_thread

    root = tmp_path_factory.mktemp(f"stack-{request.param}")
    port = free_port()
    idp_config = root / "idp_users.yaml"
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    for client in data["clients"]:
        if client["client_id"] == CLIENT_ID:
            client["redirect_uris"] = [f"http://127.0.0.1:{port}/auth/oauth-authorized/okta"]
            client["post_logout_redirect_uris"] = [f"http://127.0.0.1:{port}/auth/login/"]
    # A mover: two mapped groups, so removing one in the IdP must remove exactly that role.
    for user in data["users"]:
        if user["login"].startswith("bob"):
            user["groups"] = ["airflow-viewers", "airflow-ops", "Everyone"]
    # Okta Event Hooks to Airflow's /auth/okta/events; verified by the tests that need them.
    data["event_hooks"] = [
        {"name": "airflow", "url": f"http://127.0.0.1:{port}/auth/okta/events", "authorization": EVENT_HOOK_SECRET}
    ]
    idp_config.write_text(yaml.safe_dump(data, sort_keys=False))
    idp = serve_in_thread(str(idp_config), host="127.0.0.1", port=0)
    base_url, shutdown = idp
    issuer = f"{base_url}/oauth2/default"
    mapping = root / "okta_role_mapping.yaml"
    shutil.copy(REPO / "config" / "role_mapping.yaml", mapping)

    db_gen = postgres_database() if request.param == "postgres" else None
    db_url = next(db_gen) if db_gen else None
    airflow = AirflowServer(
        root / "airflow",
        port=port,
        db_url=db_url,
        okta_env={
            "OKTA_ISSUER": issuer,
            "OKTA_CLIENT_ID": CLIENT_ID,
            "OKTA_CLIENT_SECRET": CLIENT_SECRET,
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
            "OKTA_EVENT_HOOK_SECRET": EVENT_HOOK_SECRET,
            # Key-rotation tests need a re-fetch soon after another; 1 s still exercises the limit.
            "OKTA_JWKS_REFETCH_INTERVAL_SECONDS": str(JWKS_REFETCH_INTERVAL_SECONDS),
        },
    )
    try:
        airflow.prepare()
        airflow.start()
        yield Stack(airflow, issuer, mapping, idp_config, idp=idp)
    finally:
        airflow.stop()
        shutdown()
        if db_gen is not None:
            next(db_gen, None)


@pytest.fixture
def af(stack: Stack) -> Iterator[Stack]:
    """The running stack, with the mapping and IdP files restored after each test."""
    yield stack
    stack.reset_files()
