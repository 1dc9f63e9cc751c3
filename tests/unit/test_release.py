"""Release-ready: one version everywhere, a CHANGELOG entry for it, and a valid release workflow."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml

from okta_security import __version__

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "release.yml"
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
PROJECT_VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_the_version_is_semver_and_the_same_everywhere():
    assert SEMVER.match(PROJECT_VERSION), PROJECT_VERSION
    assert __version__ == PROJECT_VERSION


def test_okta_airflow_version_prints_it():
    done = subprocess.run(
        [sys.executable, "-m", "okta_security.cli", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"okta-airflow {PROJECT_VERSION} (okta_security)"


def test_the_changelog_has_a_section_for_the_version():
    sections = re.findall(
        r"^## \[([^\]]+)\] - (\d{4}-\d{2}-\d{2}|Unreleased)$", (REPO / "CHANGELOG.md").read_text(), re.M
    )
    versions = [v for v, _ in sections]
    assert PROJECT_VERSION in versions
    assert all(SEMVER.match(v) for v in versions), versions
    assert versions == sorted(versions, key=lambda v: tuple(int(p) for p in v.split("-")[0].split(".")), reverse=True)


def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def test_the_release_workflow_publishes_with_trusted_publishing():
    data = workflow()
    assert data["on"] == {"push": {"tags": ["v*"]}}
    assert data["permissions"] == {"contents": "read"}  # nothing more unless a job asks
    jobs = data["jobs"]
    assert set(jobs) == {"build", "publish", "github-release"}
    for job in jobs.values():
        assert job["runs-on"] == "ubuntu-latest"
        assert all(("uses" in s) != ("run" in s) for s in job["steps"])  # each step runs or uses, not both
    build_runs = " ".join(s.get("run", "") for s in jobs["build"]["steps"])
    assert "make dist" in build_runs
    assert "sha256sum --check SHA256SUMS" in build_runs
    publish = jobs["publish"]
    assert publish["needs"] == "build"
    assert publish["permissions"] == {"id-token": "write"}  # the OIDC token PyPI trusts; no API token
    assert publish["environment"]["name"] == "pypi"
    assert publish["steps"][-1]["uses"] == "pypa/gh-action-pypi-publish@release/v1"
    assert "with" not in publish["steps"][-1] or "password" not in publish["steps"][-1]["with"]
    # PyPI takes distributions only: the publish job gets the artifact with the wheel and sdist alone.
    (download,) = [s for s in publish["steps"] if s.get("uses", "").startswith("actions/download-artifact")]
    uploads = {
        s["with"]["name"]: s["with"]["path"] for s in jobs["build"]["steps"] if "upload-artifact" in s.get("uses", "")
    }
    assert uploads[download["with"]["name"]].split() == ["dist/*.whl", "dist/*.tar.gz"]
    assert jobs["github-release"]["permissions"] == {"contents": "write"}


def _tag_check(tmp_path: Path, tag: str, changelog: str) -> subprocess.CompletedProcess[str]:
    """Run the workflow's own tag check in a copy of the files it reads."""
    (step,) = [s for s in workflow()["jobs"]["build"]["steps"] if s.get("name", "").startswith("The tag is")]
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    (tmp_path / "CHANGELOG.md").write_text(changelog)
    env = {**os.environ, "GITHUB_REF_NAME": tag}
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("tag", "section", "ok"),
    [
        (f"v{PROJECT_VERSION}", f"## [{PROJECT_VERSION}] - 2027-01-15", True),
        (f"v{PROJECT_VERSION}", f"## [{PROJECT_VERSION}] - Unreleased", False),  # give it its date first
        ("v9.9.9", f"## [{PROJECT_VERSION}] - 2027-01-15", False),  # the tag is not the package's version
    ],
)
def test_the_workflow_s_tag_check(tmp_path, tag, section, ok):
    done = _tag_check(tmp_path, tag, f"# Changelog\n\n{section}\n")
    assert (done.returncode == 0) is ok, done.stdout + done.stderr
