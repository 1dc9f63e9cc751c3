"""okta_security's tables under ``airflow db migrate``, ``airflow db reset`` and ``check-migrations`` (Airflow 3).

Airflow 3 runs the database managers its providers declare (``db-managers`` in the provider info,
:mod:`okta_security.provider`) besides those named in ``[database] external_db_managers``; FAB's
tables are managed the same way. Every path here runs okta_security's Alembic migrations
(:mod:`okta_security.adapter.migrations`): a new database and one whose tables were made before the
migrations existed go through the same first revision, which creates only what is missing, so no
ORM shortcut is taken and nothing is stamped over it. Airflow 2.11 has no such mechanism; there
``ensure_tables`` runs the same migrations when the webserver starts.
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
        """Return the migrations' configuration on Airflow's database."""
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
        """Run the migrations up to ``to_revision`` (default: the newest)."""
        self._release_metadata_locks_if_needed()
        command.upgrade(self.get_alembic_config(), revision=to_revision or "heads", sql=show_sql_only)

    def downgrade(self, to_revision: str, from_revision: str | None = None, show_sql_only: bool = False) -> None:
        """Run the migrations down to ``to_revision`` (``base`` drops the tables)."""
        command.downgrade(self.get_alembic_config(), revision=to_revision, sql=show_sql_only)
