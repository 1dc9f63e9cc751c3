"""Prepare an AIRFLOW_HOME with the drop-in config and run a real ``airflow api-server``.

Airflow 2.11 too: pass ``bin_dir`` (the ``bin`` folder of a venv with Airflow 2.11 and the FAB
provider 1.5) and the same home runs ``airflow webserver`` with the 2.x settings (see
:mod:`okta_security.adapter.compat`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from okta_devstack import migrations
from okta_security.airflow_layout import AIRFLOW_2, AIRFLOW_3, AirflowLayout, layout_for

if TYPE_CHECKING:
    from collections.abc import Mapping

REPO = Path(__file__).resolve().parent.parent
# The drop-in file as the wheel ships it (`okta-airflow init` writes this one; the repo root keeps a copy).
WEBSERVER_CONFIG = REPO / "okta_security" / "templates" / "webserver_config.py"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AirflowServer:
    """One Airflow home + database + ``airflow api-server`` process with okta_security installed."""

    def __init__(
        self,
        home: Path,
        *,
        okta_env: Mapping[str, str],
        port: int | None = None,
        db_url: str | None = None,
        host: str = "127.0.0.1",
        bin_dir: Path | str | None = None,
        auth_manager: str = FAB_AUTH_MANAGER,
        webserver_config: Path | str | None = None,
        workers: int = 1,
        airflow_env: Mapping[str, str] | None = None,
    ) -> None:
        self.home = Path(home)
        self.airflow_env = dict(airflow_env or {})  # more AIRFLOW__* settings, e.g. the demo's [core] parallelism
        # The webserver_config.py copied into the home: the repo's drop-in file unless given
        # (bench/bench_login.py runs FAB's built-in okta provider from a file of its own).
        self.webserver_config = Path(webserver_config) if webserver_config is not None else WEBSERVER_CONFIG
        self.workers = workers  # `airflow api-server --workers N` (uvicorn worker processes)
        # Where ``airflow`` lives: this venv by default, or another venv's bin (e.g. Airflow 2.11).
        self.bin_dir = Path(bin_dir) if bin_dir is not None else None
        self.auth_manager = auth_manager  # [core] auth_manager, e.g. okta_security.auth_manager.OktaFabAuthManager
        self.layout: AirflowLayout = _layout_of(self.bin_dir) if self.bin_dir is not None else AIRFLOW_3
        self.port = port or free_port()
        self.host = host
        self.db_url = db_url or f"sqlite:///{self.home / 'airflow.db'}"
        self.okta_env = dict(okta_env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.home / ("webserver.log" if self.layout is AIRFLOW_2 else "api-server.log")

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Return the process environment: Airflow settings plus the OKTA_* settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "OKTA_"))}
        env.update(self.settings_env())
        return env

    def settings_env(self) -> dict[str, str]:
        """Return only what this server sets: Airflow's settings and the OKTA_* ones (no inherited variables)."""
        env: dict[str, str] = {}
        if self.layout is AIRFLOW_2:
            env.update(self._airflow2_env())
            env.update(self.airflow_env)
            env.update(self.okta_env)
            return env
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__AUTH_MANAGER": self.auth_manager,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.home / "dags"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__WORKERS": str(self.workers),
                "AIRFLOW__API__SECRET_KEY": "okta-devstack-flask-secret",
                "AIRFLOW__API_AUTH__JWT_SECRET": "okta-devstack-jwt-secret-0123456789abcdef",
                "AIRFLOW__FAB__CONFIG_FILE": str(self.home / "webserver_config.py"),
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.airflow_env)
        env.update(self.okta_env)
        return env

    def _airflow2_env(self) -> dict[str, str]:
        return {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__AUTH_MANAGER": self.auth_manager,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.home / "dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
            "AIRFLOW__WEBSERVER__BASE_URL": self.base_url,
            "AIRFLOW__WEBSERVER__CONFIG_FILE": str(self.home / "webserver_config.py"),
            "AIRFLOW__WEBSERVER__SECRET_KEY": "okta-devstack-flask-secret",
            "AIRFLOW__WEBSERVER__WORKERS": str(self.workers),
            "AIRFLOW__WEBSERVER__WORKER_REFRESH_BATCH_SIZE": "0",  # no rolling worker restarts mid-test
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "PATH": f"{self._bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}",  # gunicorn of that venv
        }

    def argv(self, *args: str) -> list[str]:
        """Return the command line of ``airflow <args>`` for this server's Airflow."""
        return [self._airflow_bin(), *args]

    def airflow(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run an ``airflow`` CLI command in this home."""
        return subprocess.run(
            [self._airflow_bin(), *args],
            env=self.env(),
            cwd=self.home,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    # Tests set this: each kind of database is migrated once per test session, then copied (a SQLite
    # file, or a PostgreSQL database made from a template), instead of `airflow db migrate` per server.
    share_migrations = False

    def prepare(self, *, migrate: bool = True) -> None:
        """Create the home, copy the webserver_config.py, migrate the database (unless a replica's did)."""
        (self.home / "dags").mkdir(parents=True, exist_ok=True)
        shutil.copy(self.webserver_config, self.home / "webserver_config.py")
        if not migrate:
            return
        if self.share_migrations and migrations.copy_migrated(self):
            return
        self.migrate()

    def migrate(self) -> None:
        """Run ``airflow db migrate`` on this server's database."""
        result = self.airflow("db", "migrate", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")

    def start(self, timeout: float = 180) -> None:
        """Start ``airflow api-server`` (2.x: ``airflow webserver``) and wait until its health check answers."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        log_start = log.tell()
        if self.layout is AIRFLOW_2:
            command = ["webserver", "--hostname", self.host, "--port", str(self.port), "--workers", str(self.workers)]
            health, name = f"{self.base_url}/health", "airflow webserver"
        else:
            command = ["api-server", "--host", self.host, "--port", str(self.port), "--workers", str(self.workers)]
            health, name = f"{self.base_url}/api/v2/monitor/health", "airflow api-server"
        self.proc = subprocess.Popen(
            [self._airflow_bin(), *command],
            env=self.env(),
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.layout is AIRFLOW_2 and "Worker failed to boot" in self.log_tail(2000):
                # gunicorn gave up on the app; Airflow 2 would only notice after [webserver] web_server_master_timeout
                tail = self.log_tail()
                self.stop()
                raise RuntimeError(f"{name} could not load the app:\n{tail}")
            try:
                if requests.get(health, timeout=2).status_code == 200 and self._workers_started(log_start):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{name} did not become healthy in {timeout}s:\n{self.log_tail()}")

    def _workers_started(self, log_start: int) -> bool:
        """Return whether every uvicorn worker has started (the first one answers health checks alone).

        A test that expects every worker to hold some state would otherwise race the late ones.
        Only uvicorn (Airflow 3) is checked; Airflow 2's gunicorn logs its workers differently.
        """
        if self.layout is AIRFLOW_2 or self.workers < 2:
            return True
        if self.env().get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO").upper() not in ("DEBUG", "INFO"):
            return True  # uvicorn's start lines are INFO: nothing to count (e.g. the replica benchmark)
        try:
            with open(self.log_path, "rb") as f:
                f.seek(log_start)
                started = f.read().count(b"Application startup complete")
        except OSError:
            return False
        return started >= self.workers

    def log_tail(self, chars: int = 6000) -> str:
        """Return the end of the server's log (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server and every process it started."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)

    def _bin_dir(self) -> Path:
        return self.bin_dir if self.bin_dir is not None else Path(sys.executable).parent

    def _airflow_bin(self) -> str:
        if self.bin_dir is not None:
            return str(self.bin_dir / "airflow")
        return _airflow_bin()


def _airflow_bin() -> str:
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


def _layout_of(bin_dir: Path) -> AirflowLayout:
    """Return the layout of the Airflow installed in the venv whose ``bin`` is ``bin_dir``."""
    if not (bin_dir / "airflow").exists():
        raise FileNotFoundError(f"no airflow executable in {bin_dir}")
    version = subprocess.run(
        [str(bin_dir / "python"), "-c", "import importlib.metadata as m; print(m.version('apache-airflow'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    return layout_for(version)
