"""The demo's children: stopping one stops its whole process group, and none outlives a killed demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from okta_devstack.processes import Children

# A parent that starts a grandchild and ignores SIGTERM for itself (like a slow server), printing both pids.
STUBBORN = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(os.getpid(), child.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pids: list[int], timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def test_stop_all_terminates_then_kills_whole_groups(tmp_path):
    children = Children()
    log = tmp_path / "stubborn.log"
    quick = children.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])
    stubborn = children.spawn("stubborn", [sys.executable, "-c", STUBBORN], log_path=log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not log.read_text().strip():
        time.sleep(0.05)
    parent, grandchild = (int(p) for p in log.read_text().split())
    started = time.monotonic()
    killed = children.stop_all(grace=1.0)
    assert killed == ["stubborn"]
    assert time.monotonic() - started < 8
    assert not _wait_gone([quick.pid, parent, grandchild])
    assert quick.proc.returncode == -signal.SIGTERM
    assert stubborn.proc.returncode == -signal.SIGKILL


def test_children_die_with_a_killed_parent(tmp_path):
    # The demo itself killed with SIGKILL can clean nothing up: the kernel's parent-death signal does it.
    script = f"""
import sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from okta_devstack.processes import Children
child = Children().spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
"""
    demo = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child_pid = int(demo.stdout.readline())
        assert _alive(child_pid)
    finally:
        os.kill(demo.pid, signal.SIGKILL)
        demo.wait(timeout=10)
    assert not _wait_gone([child_pid]), "the child outlived its killed parent"
