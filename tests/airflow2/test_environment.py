"""The Airflow 2.11 environment is what requirements/airflow2.lock pins, and compat's 2.x layout is real there."""

from __future__ import annotations

import subprocess

import yaml

from okta_devstack.airflow import REPO
from okta_security.airflow_layout import AIRFLOW_2
from tests.airflow2.conftest import airflow2_bin

FIELDS = ("config_file", "base_url", "enable_proxy_fix", "secret_key", "ssl_cert")


def test_pins_are_installed_and_consistent():
    bin_dir = airflow2_bin()
    check = subprocess.run([str(bin_dir / "python"), "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    freeze = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "freeze"], capture_output=True, text=True, timeout=120
    ).stdout
    installed = {line.split("==")[0].lower(): line for line in freeze.splitlines() if "==" in line}
    lock = (REPO / "requirements" / "airflow2.lock").read_text().splitlines()
    pins = [line.split()[0] for line in lock if "==" in line and not line.startswith((" ", "#"))]
    assert len(pins) > 100, "requirements/airflow2.lock should pin every package of the environment"
    for pin in pins:
        name = pin.split("==")[0].lower().replace("_", "-")
        got = {k.replace("_", "-"): v for k, v in installed.items()}.get(name, "")
        assert got.lower().replace("_", "-") == pin.lower().replace("_", "-"), (
            f"{pin} locked, {got or 'nothing'} installed: run `make airflow2`"
        )
    # Airflow 2.11 sets an attribute on MultiFernet, which cryptography 51 refuses (500 on every encrypted write).
    assert int(installed["cryptography"].split("==")[1].split(".")[0]) < 51


def test_airflow_2_layout_names_real_airflow_2_11_options():
    bin_dir = airflow2_bin()
    script = (
        "import importlib.util, pathlib, yaml\n"
        "root = pathlib.Path(next(iter(importlib.util.find_spec('airflow').submodule_search_locations)))\n"
        "print(yaml.safe_dump(yaml.safe_load((root / 'config_templates' / 'config.yml').read_text())))\n"
    )
    out = subprocess.run(
        [str(bin_dir / "python"), "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    config = yaml.safe_load(out)
    for field in FIELDS:
        section, key = getattr(AIRFLOW_2, field)
        assert key in (config.get(section, {}).get("options") or {}), f"[{section}] {key} is not an Airflow 2.11 option"
