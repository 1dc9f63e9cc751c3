"""Alembic's environment for okta_security's migrations.

The connection comes from :func:`okta_security.adapter.migrations.upgrade` (start-up, tests) or, when
Airflow's ``airflow db migrate`` runs :class:`~okta_security.adapter.db_manager.OktaDBManager`, from
Airflow's own engine. The version is kept in a table of okta_security's, apart from Airflow's and FAB's.
"""

from __future__ import annotations

import contextlib

from alembic import context

from okta_security.adapter.db import metadata
from okta_security.adapter.migrations import VERSION_TABLE

if context.is_offline_mode():
    # The first migration looks at the live schema (tables made before the migrations existed).
    raise SystemExit("okta_security's migrations need a database connection: offline SQL is not supported")

with contextlib.ExitStack() as stack:
    connection = context.config.attributes.get("connection")
    if connection is None:
        from airflow import settings

        connection = stack.enter_context(settings.get_engine().connect())
    context.configure(
        connection=connection, target_metadata=metadata, version_table=VERSION_TABLE, transaction_per_migration=True
    )
    with context.begin_transaction():
        context.run_migrations()
