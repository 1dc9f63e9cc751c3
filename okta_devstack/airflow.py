"""Prepare an AIRFLOW_HOME with the drop-in config and run a real ``airflow api-server``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
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
    ) -> None:
        self.home = Path(home)
        self.port = port or free_port()
        self.host = host
        self.db_url = db_url or f"sqlite:///{self.home / 'airflow.db'}"
        self.okta_env = dict(okta_env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.home / "api-server.log"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Return the process environment: Airflow settings plus the OKTA_* settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "OKTA_"))}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.home / "dags"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": "okta-devstack-flask-secret",
                "AIRFLOW__API_AUTH__JWT_SECRET": "okta-devstack-jwt-secret-0123456789abcdef",
                "AIRFLOW__FAB__CONFIG_FILE": str(self.home / "webserver_config.py"),
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.okta_env)
        return env

    def airflow(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run an ``airflow`` CLI command in this home."""
        return subprocess.run(
            [_airflow_bin(), *args],
            env=self.env(),
            cwd=self.home,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def prepare(self) -> None:
        """Create the home, copy the drop-in webserver_config.py, migrate the database."""
        (self.home / "dags").mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "webserver_config.py", self.home / "webserver_config.py")
        result = self.airflow("db", "migrate", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")

    def start(self, timeout: float = 180) -> None:
        """Start ``airflow api-server`` and wait until it answers its health check."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [_airflow_bin(), "api-server", "--host", self.host, "--port", str(self.port), "--workers", "1"],
            env=self.env(),
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"airflow api-server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.base_url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"airflow api-server did not become healthy in {timeout}s:\n{self.log_tail()}")

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


def _airflow_bin() -> str:
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"
