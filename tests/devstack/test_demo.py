"""``make demo`` for real: a subprocess on free ports with a DEMO_DIR of its own.

One demo runs for the module: its banner, the health panel (all of Airflow's components), the
doctor command the banner prints, the bot script, a team user's DAG-level access; then SIGTERM must
stop every process it started and free both ports. A second demo is stopped with SIGHUP while it
starts, and a port already in use must stop a third before anything starts, with one line naming
who holds it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from okta_devstack import demo_files
from okta_devstack.airflow import REPO, free_port
from okta_devstack.ports import port_in_use
from tests.integration.helpers import okta_login

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

BANNER_TIMEOUT = 300  # fresh database migration + five processes on a busy 2-core machine
STOP_TIMEOUT = 30  # the demo's own grace period is 15 s before SIGKILL; it normally needs ~5 s
ERIN = ("erin.finance@example.com", "Finance-pass-1")
BOB = ("bob.viewer@example.com", "Viewer-pass-1")
EXAMPLE_DAGS = {"finance_daily", "marketing_weekly", "okta_sync_users"}


@dataclass
class RunningDemo:
    """A demo subprocess, its output so far, and where it lives."""

    proc: subprocess.Popen[str]
    home: Path
    airflow_port: int
    idp_port: int
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader thread catch the last lines
                pytest.fail(f"the demo exited ({self.proc.returncode}) before {text!r}:\n{self.output[-4000:]}")
            time.sleep(0.2)
        pytest.fail(f"no {text!r} from the demo within {timeout}s:\n{self.output[-4000:]}")

    def descendants(self) -> list[int]:
        """Return every process below the demo (children and their children)."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            kids = [p for p, parent in parents.items() if parent == pid]
            found += kids
            todo += kids
        return found


def start_demo(home: Path, *, airflow_port: int | None = None, idp_port: int | None = None) -> RunningDemo:
    """Start ``python -m okta_devstack.demo`` as ``make demo`` would, on the given (default: free) ports."""
    airflow_port = airflow_port or free_port()
    idp_port = idp_port or free_port()
    env = {
        **os.environ,
        "DEMO_DIR": str(home),
        "DEMO_AIRFLOW_PORT": str(airflow_port),
        "DEMO_IDP_PORT": str(idp_port),
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "okta_devstack.demo"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    demo = RunningDemo(proc, home, airflow_port, idp_port)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            demo.lines.append(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return demo


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop_and_check(demo: RunningDemo, signum: signal.Signals) -> float:
    """Send ``signum``; assert the demo exits 0, its processes are gone and both ports are free; return seconds."""
    processes = demo.descendants()
    assert processes, "the demo started no processes?"
    started = time.monotonic()
    demo.proc.send_signal(signum)
    assert demo.proc.wait(timeout=STOP_TIMEOUT) == 0, demo.output[-3000:]
    took = time.monotonic() - started
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(p) for p in processes):
        time.sleep(0.1)
    survivors = {p: Path(f"/proc/{p}/cmdline").read_bytes()[:120] for p in processes if _alive(p)}
    assert not survivors, f"still running after {signum.name}: {survivors}"
    assert not port_in_use(demo.airflow_port), "the api-server's port is still taken"
    assert not port_in_use(demo.idp_port), "the IdP's port is still taken"
    assert f"Stopping ({signum.name})" in demo.output
    return took


def _kill(demo: RunningDemo) -> None:
    if demo.proc.poll() is None:
        demo.proc.send_signal(signal.SIGINT)
        try:
            demo.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            demo.proc.kill()


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[RunningDemo]:
    demo = start_demo(tmp_path_factory.mktemp("demo"))
    try:
        demo.wait_for("Stop: Ctrl-C", BANNER_TIMEOUT)  # the banner's last line
        yield demo
    finally:
        _kill(demo)


def _poll(what: str, check, timeout: float = 90):
    """Call ``check`` until it returns something truthy (the DAG processor parses at its own pace)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(1)
    pytest.fail(f"{what}: still {last!r} after {timeout}s")


def test_home_page_health_is_green(running):
    health = requests.get(f"{running.url}/api/v2/monitor/health", timeout=10).json()
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        assert health[component]["status"] == "healthy", health


def test_banner_lists_the_sample_users_and_commands(running):
    for user in demo_files.sample_users(demo_files.demo_idp_data()):
        assert f"{user.login}" in running.output
        assert user.password in running.output
    assert f"kill {running.proc.pid}" in running.output
    assert f"bash {running.home / 'bot.sh'}" in running.output


def test_doctor_command_on_the_banner_passes(running):
    line = next(line.strip() for line in running.lines if "okta-airflow doctor" in line and "set -a" in line)
    result = subprocess.run(["bash", "-c", line], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 failing" in result.stdout
    env_file = (running.home / "okta.env").read_text()
    assert f"OKTA_ISSUER=http://127.0.0.1:{running.idp_port}/oauth2/default" in env_file
    assert f"AIRFLOW__API__BASE_URL={running.url}" in env_file


def test_example_dags_load_and_a_viewer_sees_them_all(running):
    session, _ = okta_login(running.url, *BOB)

    def dag_ids() -> set[str]:
        return {d["dag_id"] for d in session.get(f"{running.url}/api/v2/dags", timeout=10).json()["dags"]}

    _poll("bob's DAGs", lambda: EXAMPLE_DAGS <= dag_ids())
    errors = session.get(f"{running.url}/api/v2/importErrors", timeout=10).json()
    assert errors["total_entries"] == 0, errors


def test_team_user_sees_only_her_team_dag(running):
    session, final = okta_login(running.url, *ERIN)
    assert final.status_code == 200
    _poll(
        "erin's DAGs",
        lambda: (
            {d["dag_id"] for d in session.get(f"{running.url}/api/v2/dags", timeout=10).json()["dags"]}
            == {"finance_daily"}
        ),
    )
    assert session.get(f"{running.url}/api/v2/dags/marketing_weekly", timeout=10).status_code == 403


def test_bot_script_walks_the_token_path(running):
    def run() -> str:
        result = subprocess.run(
            ["bash", str(running.home / "bot.sh")], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def output_once_the_dag_is_parsed() -> str:
        out = run()
        return out if "finance_daily" in out else ""

    out = _poll("the bot's DAGs", output_once_the_dag_is_parsed)
    assert "2. Airflow token for svc-demo-bot" in out
    assert "marketing_weekly" not in out


def test_the_assistant_on_the_banner_acts_for_erin(running):
    line = next(line.strip() for line in running.lines if "okta_devstack.agent_demo" in line)
    result = subprocess.run(["bash", "-c", line], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    out = result.stdout
    assert "acts for erin.finance@example.com as {'sub': 'airflow-assistant'}, with roles ['team-finance']" in out
    assert "owner=erin.finance@example.com  act=airflow-assistant  GET /api/v2/dags -> 200" in out


def test_sigterm_stops_every_process_and_frees_the_ports(running):
    # Last in the module: it ends the shared demo.
    took = stop_and_check(running, signal.SIGTERM)
    assert took < 20, f"stopping took {took:.1f}s"


def test_sighup_while_starting_stops_everything_too(tmp_path):
    # Mid-start is the harder moment: five processes spawned, none ready, the demo waiting on health checks.
    demo = start_demo(tmp_path / "demo")
    try:
        demo.wait_for("Starting airflow api-server", BANNER_TIMEOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(demo.descendants()) < 5:
            time.sleep(0.1)
        stop_and_check(demo, signal.SIGHUP)
    finally:
        _kill(demo)
    assert "Stop: Ctrl-C" not in demo.output


@pytest.mark.parametrize("which", ["DEMO_IDP_PORT", "DEMO_AIRFLOW_PORT"])
def test_a_port_in_use_stops_the_demo_before_the_banner(tmp_path, which):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        ports = {"idp_port": port} if which == "DEMO_IDP_PORT" else {"airflow_port": port}
        demo = start_demo(tmp_path / "demo", **ports)
        try:
            code = demo.proc.wait(timeout=60)
        finally:
            _kill(demo)
        time.sleep(0.3)  # the reader thread's last line
    assert code != 0
    assert len(demo.lines) == 1, demo.output
    line = demo.lines[0]
    assert f"Port {port} (" in line
    assert f"in use by pid {os.getpid()} (" in line, line
    assert f"kill {os.getpid()}" in line
    assert f"{which}=" in line
    assert "=====" not in demo.output
    assert not (tmp_path / "demo" / "airflow").exists(), "nothing should start before the ports are checked"


def test_a_bad_port_value_is_one_line(tmp_path):
    env = {**os.environ, "DEMO_DIR": str(tmp_path), "DEMO_IDP_PORT": "nine-thousand"}
    result = subprocess.run(
        [sys.executable, "-m", "okta_devstack.demo"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "make demo: DEMO_IDP_PORT='nine-thousand' is not a TCP port (1-65535); unset it or give a number."
    ]
