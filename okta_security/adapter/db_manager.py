"""okta_security's tables under ``airflow db migrate``, ``db reset`` and ``check-migrations`` (Airflow 3).

Airflow runs the database managers providers declare (:mod:`okta_security.provider`), as for FAB's
tables; every path runs okta_security's Alembic migrations. Airflow 2.11 runs them at start-up.
"""

from __future__ import annotations

from typing import Any

from airflow import settings
from airflow.utils.db_manager import BaseDBManager
from alembic import command

from okta_security.adapter import db, migrations


class OktaDBManager(BaseDBManager):
    """Create, upgrade, downgrade and drop okta_security's tables in Airflow's metadata database."""

    metadata = db.metadata
    version_table_name = migrations.VERSION_TABLE
    migration_dir = str(migrations.DIRECTORY)
    alembic_file = ""  # no ini file: get_alembic_config builds the configuration
    supports_table_dropping = True  # `airflow db reset` drops them with Airflow's

    def get_alembic_config(self) -> Any:
        return migrations.config(settings.SQL_ALCHEMY_CONN or "")

    def create_db_from_orm(self) -> None:
        """Create the tables through the migrations (the first creates only what is missing)."""
        self.upgradedb()

    def upgradedb(
        self,
        to_revision: str | None = None,
        from_revision: str | None = None,
        show_sql_only: bool = False,
        use_migration_files: bool = False,
    ) -> None:
        self._release_metadata_locks_if_needed()
        command.upgrade(self.get_alembic_config(), revision=to_revision or "heads", sql=show_sql_only)

    def downgrade(self, to_revision: str, from_revision: str | None = None, show_sql_only: bool = False) -> None:
        command.downgrade(self.get_alembic_config(), revision=to_revision, sql=show_sql_only)
