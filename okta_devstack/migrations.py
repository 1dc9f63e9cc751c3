"""Migrate once, copy many: a migrated Airflow database per kind, copied for every test server.

``airflow db migrate`` takes seconds per server and gives the same schema each time for the same
Airflow, provider and auth manager. The first server of each kind migrates a template (a SQLite
file, or a PostgreSQL database); every later one gets a copy: the file copied, or its own
PostgreSQL database dropped and made again ``TEMPLATE`` the template. On Airflow 3 the template
holds okta_security's tables too, at their newest revision (``airflow db migrate`` runs the
provider's database manager); on 2.11 each server's webserver creates them at start.

Templates live in a directory: by default one of the process's own, removed at its exit. Processes
that share one (its path in ``OKTA_DEVSTACK_MIGRATED_DIR``, made by :func:`share_templates`, e.g.
by a test run for its worker processes) share the templates too: the first process that needs a
kind migrates it while holding that kind's lock file, the others wait for the lock and copy what
it made. A record file per kind names its finished template; whoever made the directory removes
the templates with :func:`remove_templates`.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from collections.abc import Iterator

    from okta_devstack.airflow import AirflowServer

SHARED_DIR_ENV = "OKTA_DEVSTACK_MIGRATED_DIR"
_DATABASE = "database.json"  # in a PostgreSQL template's folder: the database made, for remove_templates
_lock = threading.Lock()  # the threads of this process; the lock files order the processes
_root: Path | None = None
_OWN = frozenset(
    {
        "AIRFLOW_HOME",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CORE__SQL_ALCHEMY_CONN",
        "AIRFLOW__FAB__CONFIG_FILE",
        "AIRFLOW__WEBSERVER__CONFIG_FILE",
    }
)  # what a server's environment says about the server itself


def share_templates() -> Path:
    """Make a template directory for this process and every process it starts from now on; return it.

    The caller removes it with :func:`remove_templates` once those processes are done.
    """
    root = Path(tempfile.mkdtemp(prefix="okta-migrated-"))
    os.environ[SHARED_DIR_ENV] = str(root)
    return root


def remove_templates(root: Path) -> None:
    """Drop every PostgreSQL template made in ``root`` (finished or not) and remove the directory."""
    for made in sorted(root.glob(f"*/{_DATABASE}")):
        try:
            database = json.loads(made.read_text())
            with sa.create_engine(database["admin"], isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database["template"]}" WITH (FORCE)'))
        except (OSError, ValueError, KeyError, sa.exc.SQLAlchemyError):
            pass  # its server is gone (a test's own PostgreSQL), and the database with it
    shutil.rmtree(root, ignore_errors=True)


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
    name = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
    root = _templates_dir()
    with _lock, _locked(root / f"{name}.lock"):
        template = _recorded(root / f"{name}.json")
        if template is None or not _exists(url, template):  # a server on a reused port is another server
            template = _make_template(server, root, name)
        # Copied under the lock too: another process may be making the template again (see _exists).
        if url.get_backend_name() == "sqlite":
            Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, str(url.database))
        else:
            _clone(url, template)
    return True


def _templates_dir() -> Path:
    global _root
    if _root is None:
        shared = os.environ.get(SHARED_DIR_ENV)
        if shared:
            _root = Path(shared)
        else:
            _root = Path(tempfile.mkdtemp(prefix="okta-migrated-"))
            atexit.register(remove_templates, _root)
    return _root


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes, or when its process dies
        yield


def _recorded(record: Path) -> str | None:
    """Return the finished template the kind's record names (None before the first migration has finished)."""
    try:
        return str(json.loads(record.read_text())["template"])
    except (OSError, ValueError, KeyError):
        return None


def _make_template(server: AirflowServer, root: Path, name: str) -> str:
    from okta_devstack.airflow import AirflowServer

    # A name of its own each time: a template made again never meets a half-removed older one.
    home = Path(tempfile.mkdtemp(prefix=f"template-{name}-", dir=root))
    url = make_url(server.db_url)
    if url.get_backend_name() == "sqlite":
        db_url, template = f"sqlite:///{home / 'airflow.db'}", str(home / "airflow.db")
    else:
        template = f"okta_tpl_{os.getpid()}_{home.name.rsplit('-', 1)[-1].lower()}"
        admin = _admin(url)
        # Written first: remove_templates drops the database even if the migration below fails.
        (home / _DATABASE).write_text(json.dumps({"template": template, "admin": admin}))
        with sa.create_engine(admin, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{template}"'))
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
    record = root / f"{name}.json"
    scratch = record.with_suffix(".tmp")
    scratch.write_text(json.dumps({"template": template}))
    os.replace(scratch, record)  # only a finished template is ever named
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
