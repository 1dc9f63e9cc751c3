"""Shared pieces of the login benchmarks: the local IdP as a process, databases, a timed login."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import requests

from okta_devstack.airflow import free_port
from okta_local_idp.testing import is_sign_in_page, submit_sign_in_form

if TYPE_CHECKING:
    from collections.abc import Iterator

PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
CALLBACK_PATH = "/auth/oauth-authorized/okta"


class IdpProcess:
    """The local IdP in a process of its own, so it shares no GIL with the benchmark's client."""

    def __init__(self, config: Path, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.issuer = f"{self.base_url}/oauth2/default"
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "okta_local_idp", "--config", str(config), "--port", str(self.port)]
            + ["--log-level", "ERROR"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._admin = requests.Session()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the local IdP exited with {self._proc.returncode} (config {config})")
            with contextlib.suppress(requests.RequestException):
                if self._admin.get(f"{self.base_url}/__idp/stats", timeout=1).ok:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the local IdP did not start within 30 s")

    def stats(self) -> dict[str, Any]:
        """Return the IdP's request counts (``GET /__idp/stats``)."""
        response = self._admin.get(f"{self.base_url}/__idp/stats", timeout=10)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def set_faults(self, **faults: Any) -> None:
        """Set runtime faults (``POST /__idp/faults``); ``name=None`` removes one."""
        self._admin.post(f"{self.base_url}/__idp/faults", json=faults, timeout=10).raise_for_status()

    def stop(self) -> None:
        """Stop the process."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """Create a fresh PostgreSQL database on 127.0.0.1:5432, yield its URL, drop it afterwards."""
    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class LoginSample:
    """One browser login: how long the callback took and which back-channel calls it caused."""

    server: str
    username: str
    callback_seconds: float
    status: int
    location: str
    back_channel: Counter[str] = field(default_factory=Counter)

    @property
    def back_channel_calls(self) -> int:
        """Return the number of back-channel calls the whole login caused."""
        return sum(self.back_channel.values())


class LoginFailed(RuntimeError):
    """A benchmark login did not end signed in."""


def _delta(before: dict[str, Any], after: dict[str, Any]) -> Counter[str]:
    counts = Counter(after.get("back_channel", {}))
    counts.subtract(before.get("back_channel", {}))
    return +counts  # drop zeros


def timed_login(idp: IdpProcess, name: str, airflow_url: str, username: str, password: str) -> LoginSample:
    """Sign in like a browser (redirects by hand); time the callback request alone.

    The IdP's counters are read before the login starts and after the callback answered, so
    every back-channel call of the login (start and callback) is attributed to it; logins must
    therefore run one at a time.
    """
    browser = requests.Session()
    before = idp.stats()
    response = browser.get(f"{airflow_url}/auth/login/okta", allow_redirects=False, timeout=60)
    for _ in range(5):  # Airflow -> IdP authorize (-> sign-in form) -> Airflow callback
        if response.status_code in (301, 302, 303, 307):
            target = urljoin(response.url, response.headers["Location"])
            if target.startswith(f"{airflow_url}{CALLBACK_PATH}"):
                break
            response = browser.get(target, allow_redirects=False, timeout=60)
        elif is_sign_in_page(response):
            response = submit_sign_in_form(browser, response, username, password, timeout=60)
        else:
            raise LoginFailed(
                f"{name}: unexpected answer {response.status_code} at {response.url}: {response.text[:300]}"
            )
    else:
        raise LoginFailed(f"{name}: never reached the callback")
    started = time.perf_counter()
    callback = browser.get(target, allow_redirects=False, timeout=60)
    elapsed = time.perf_counter() - started
    after = idp.stats()
    location = callback.headers.get("Location", "")
    if callback.status_code != 302 or "/login" in location:
        raise LoginFailed(f"{name}: callback answered {callback.status_code} -> {location!r}: {callback.text[:300]}")
    return LoginSample(name, username, elapsed, callback.status_code, location, _delta(before, after))


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """Return what the figures were measured on, and when."""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "apache-airflow": _version("apache-airflow"),
        "apache-airflow-providers-fab": _version("apache-airflow-providers-fab"),
        "flask-appbuilder": _version("flask-appbuilder"),
        "authlib": _version("authlib"),
    }


STATEMENTS_DIR = Path(__file__).parent / "statements"


def count_statements(work: Path) -> Path:
    """Make the server processes this bench starts count their SQL statements; return the count files' prefix."""
    prefix = work / "statements"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(STATEMENTS_DIR), os.environ.get("PYTHONPATH", "")]))
    os.environ["BENCH_STATEMENTS_FILE"] = str(prefix)
    return prefix


def statements(prefix: Path) -> int:
    """Return the statements every counting process has run so far (written five times a second)."""
    time.sleep(0.5)  # the last writes land
    total = 0
    for path in prefix.parent.glob(prefix.name + ".*"):
        if path.suffix != ".tmp":
            with contextlib.suppress(OSError, ValueError):
                total += int(path.read_text() or 0)
    return total
