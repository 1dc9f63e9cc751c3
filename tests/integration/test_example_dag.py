"""The example DAG parses in Airflow and its task function runs a real sync against the stack."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

from okta_devstack.airflow import REPO
from tests.integration.helpers import okta_login

if TYPE_CHECKING:
    from tests.conftest import Stack

DAG_FILE = REPO / "examples" / "dags" / "okta_sync_users.py"
API_TOKEN = "00local-dev-api-token"

PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.get_dag("okta_sync_users")
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "tasks": sorted(t.task_id for t in dag.tasks) if dag else None,
                  "schedule": str(getattr(dag, "schedule", None)) if dag else None}))
"""

RUN = """
import json
from okta_security.adapter.user_sync_runner import sync_users
print("REPORT" + json.dumps(sync_users(dry_run=True)))
"""


def test_example_dag_parses(af: Stack):
    env = af.airflow.env()
    proc = subprocess.run(
        [sys.executable, "-c", PARSE, str(DAG_FILE.parent)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert result["tasks"] == ["apply", "plan"]
    assert result["schedule"] in ("0 0 * * *", "@daily", "At 00:00")


def test_example_dag_task_function_runs_a_sync(af: Stack):
    okta_login(af.url, "alice.admin@example.com", "Admin-pass-1")
    env = {**af.airflow.env(), "OKTA_API_TOKEN": API_TOKEN}
    proc = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(text for text in proc.stdout.splitlines() if text.startswith("REPORT"))
    report = json.loads(line[len("REPORT") :])
    assert report["dry_run"] is True
    assert report["summary"]["accounts"] >= 1
    assert report["summary"]["okta_calls"] >= 3
