"""okta_security's Alembic migrations: the one way its tables are created and upgraded.

Run by ``airflow db migrate`` (:class:`okta_security.adapter.db_manager.OktaDBManager`) and at
start-up by :func:`upgrade` (all Airflow 2.11 has); the version is kept in ``alembic_version_okta_security``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

DIRECTORY = Path(__file__).parent
VERSION_TABLE = "alembic_version_okta_security"


def config(url: str = "") -> Config:
    """Return the Alembic configuration of okta_security's migrations (no ini file: nothing to configure)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(DIRECTORY).replace("%", "%%"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config()).get_current_head()


def current(conn: sa.Connection) -> str | None:
    """Return the revision the database ``conn`` is at (None: never migrated)."""
    from alembic.migration import MigrationContext

    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Run the migrations up to ``revision`` on ``engine``, in one transaction; safe to race from replicas."""
    from alembic import command

    cfg = config()
    try:
        with engine.begin() as conn:
            if revision == "heads" and current(conn) == head():
                return
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except sa.exc.SQLAlchemyError:
        # Another replica migrated between our check and our DDL: fine if the database is at head now.
        with engine.connect() as conn:
            if revision != "heads" or current(conn) != head():
                raise
        log.info("okta_security: another process migrated the tables first")


def downgrade(engine: Engine, revision: str) -> None:
    """Run the migrations down to ``revision`` (``base``: drop okta_security's tables)."""
    from alembic import command

    cfg = config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
