"""The wheel alone installs okta_security: built as ``make dist`` builds it, installed in a fresh venv without Airflow.

The README's install steps are ``make dist``, ``pip install dist/okta_security-*.whl`` and
``okta-airflow init``; this runs them (the venv has no system site-packages, so nothing from the
repository or the dev venv can help), with the runtime dependencies from the package index.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = {
    "webserver_config.py": REPO / "webserver_config.py",
    "okta_role_mapping.yaml": REPO / "config" / "role_mapping.yaml",
}


def _run(*argv: str | Path, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "AIRFLOW_HOME")}
    result = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=timeout, env=env, cwd="/", check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{argv} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def test_dist_builds_a_wheel_that_installs_alone_and_inits_an_airflow_home(tmp_path):
    dist = tmp_path / "dist"
    build = _run(sys.executable, "-m", "build", "--outdir", dist, REPO)  # sdist, then the wheel from the sdist
    log = build.stdout + build.stderr
    assert "SetuptoolsDeprecationWarning" not in log, log[-3000:]
    assert "project.license" not in log, log[-3000:]
    (wheel,) = dist.glob("okta_security-*.whl")
    assert len(list(dist.glob("okta_security-*.tar.gz"))) == 1

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        for name, source in TEMPLATES.items():
            assert archive.read(f"okta_security/templates/{name}").decode() == source.read_text()
    assert "License-Expression: Apache-2.0" in metadata
    assert not [n for n in names if n.startswith(("okta_devstack/", "okta_local_idp/", "tests/"))]

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python, okta_airflow = venv / "bin" / "python", venv / "bin" / "okta-airflow"
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel)
    assert _run(python, "-c", "import airflow", check=False).returncode != 0, "the fresh venv must not have Airflow"

    home = tmp_path / "airflow-home"
    first = _run(okta_airflow, "init", "--airflow-home", home)
    for name, source in TEMPLATES.items():
        assert (home / name).read_text() == source.read_text()
    assert "Next steps:" in first.stdout

    again = _run(okta_airflow, "init", "--airflow-home", home, check=False)
    assert again.returncode == 1
    assert "--force" in again.stderr
    assert _run(okta_airflow, "init", "--airflow-home", home, "--force").returncode == 0
    assert "check-mapping" in _run(okta_airflow, "--help").stdout
