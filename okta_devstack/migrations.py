"""Migrate once, copy many: a migrated Airflow database per kind, copied for every test server.

``airflow db migrate`` takes seconds per server and gives the same schema each time for the same
Airflow, provider and auth manager. The first server of each kind migrates a template (a SQLite
file, or a PostgreSQL database); every later one gets a copy: the file copied, or its own
PostgreSQL database dropped and made again ``TEMPLATE`` the template. Templates live for the
process and are removed at its exit. On Airflow 3 the template holds okta_security's tables too, at
their newest revision (``airflow db migrate`` runs the provider's database manager); on 2.11 each
server's webserver creates them at start.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from okta_devstack.airflow import AirflowServer

_lock = threading.Lock()
_templates: dict[tuple[str, ...], str] = {}  # kind -> template (a file path, or a database name)
_root: Path | None = None
_made = itertools.count()  # template numbers: each template, file or database, has a name of its own
_OWN = frozenset(
    {
        "AIRFLOW_HOME",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CORE__SQL_ALCHEMY_CONN",
        "AIRFLOW__FAB__CONFIG_FILE",
        "AIRFLOW__WEBSERVER__CONFIG_FILE",
    }
)  # what a server's environment says about the server itself
_databases: list[tuple[str, str]] = []  # (admin URL, template database) to drop at exit


def copy_migrated(server: AirflowServer) -> bool:
    """Give ``server`` a copy of its kind's migrated database; return False if the kind cannot be copied."""
    url = make_url(server.db_url)
    if url.get_backend_name() not in ("sqlite", "postgresql") or (
        url.get_backend_name() == "sqlite" and not url.database
    ):
        return False
    # A template lives on one database server: the key names it (host and port), as a clone must be made there.
    where = f"{url.host or ''}:{url.port or ''}"
    key = (str(server.bin_dir), server.auth_manager, str(server.layout.major), url.get_backend_name(), where)
    with _lock:
        template = _templates.get(key)
        if template is None or not _exists(url, template):  # a server on a reused port is another server
            template = _make_template(server, key)
        if url.get_backend_name() == "sqlite":
            Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, str(url.database))
        else:
            _clone(url, template)
    return True


def _make_template(server: AirflowServer, key: tuple[str, ...]) -> str:
    global _root
    from okta_devstack.airflow import AirflowServer

    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="okta-migrated-"))
        atexit.register(_cleanup)
    number = next(_made)
    home = _root / f"template-{number}"
    url = make_url(server.db_url)
    if url.get_backend_name() == "sqlite":
        db_url, template = f"sqlite:///{home / 'airflow.db'}", str(home / "airflow.db")
    else:
        template = f"okta_tpl_{os.getpid()}_{number}"
        admin = _admin(url)
        with sa.create_engine(admin, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{template}"'))
        _databases.append((admin, template))
        db_url = url.set(database=template).render_as_string(hide_password=False)
    migrator = AirflowServer(
        home,
        # Never the server's own home and database: an environment copied whole into okta_env carries them.
        okta_env={k: v for k, v in server.okta_env.items() if k not in _OWN},
        db_url=db_url,
        bin_dir=server.bin_dir,
        auth_manager=server.auth_manager,
        webserver_config=server.webserver_config,
        airflow_env={k: v for k, v in server.airflow_env.items() if k not in _OWN},
    )
    migrator.prepare(migrate=False)
    migrator.migrate()
    _templates[key] = template
    return template


def _exists(url: sa.URL, template: str) -> bool:
    """Return whether the template is still there (a file, or a database on the server ``url`` names)."""
    if url.get_backend_name() == "sqlite":
        return Path(template).is_file()
    with sa.create_engine(_admin(url), isolation_level="AUTOCOMMIT").connect() as conn:
        found = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :t"), {"t": template}).first()
    return found is not None


def _clone(url: sa.URL, template: str) -> None:
    """Make the server's (empty) PostgreSQL database again, as a copy of the template."""
    name = url.database
    with sa.create_engine(_admin(url), isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))


def _admin(url: sa.URL) -> str:
    return url.set(database="postgres").render_as_string(hide_password=False)


def _cleanup() -> None:
    for admin, name in _databases:
        try:
            with sa.create_engine(admin, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except sa.exc.SQLAlchemyError:
            pass
    if _root is not None:
        shutil.rmtree(_root, ignore_errors=True)
