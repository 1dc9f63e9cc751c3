"""The wheel alone installs okta_security: built as ``make dist`` builds it, installed in a fresh venv without Airflow.

The README's install steps are ``make dist``, ``pip install dist/okta_security-*.whl`` and
``okta-airflow init``; this runs them (the venv has no system site-packages, so nothing from the
repository or the dev venv can help), with the runtime dependencies from the package index.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import tomllib

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


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_make_dist_writes_checksums_and_an_sbom_of_the_wheel_s_dependencies(tmp_path):
    dist = tmp_path / "dist"
    _run("make", "-C", REPO, "dist", f"DIST={dist}", timeout=900)
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    (wheel,) = dist.glob("okta_security-*.whl")
    sums = (dist / "SHA256SUMS").read_text().splitlines()
    listed = {line.split()[1] for line in sums}
    assert listed == {p.name for p in dist.iterdir() if p.name != "SHA256SUMS"}
    for line in sums:
        digest, name = line.split()
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest, name

    sbom = json.loads((dist / f"okta_security-{version}.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["specVersion"] == "1.6"
    root = sbom["metadata"]["component"]
    assert (root["name"], root["version"]) == ("okta-security", version)
    components = {c["name"].lower(): c["version"] for c in sbom["components"]}
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    required = {
        _name(line.split(":", 1)[1].strip())
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    assert required == {
        _name(d) for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    assert required <= set(components)  # every direct dependency, and their own (cryptography, urllib3, ...)
    # At the versions the tests ran: the lock file's pins.
    lock = dict(
        re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", (REPO / "requirements" / "airflow3.lock").read_text(), re.M)
    )
    assert {n: lock[n] for n in components} == components
    assert "apache-airflow" not in components  # Airflow is the host, not a dependency of the wheel
