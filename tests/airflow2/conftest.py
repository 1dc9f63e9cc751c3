"""Airflow 2.11 (FAB provider 1.5): a real ``airflow webserver`` from ``.venv-airflow2`` beside the local IdP.

The tests run in the main venv and drive the webserver as a subprocess of the other venv, with the
very same ``webserver_config.py``. The venv is built by ``make airflow2`` (``make test`` does it);
without it these tests fail, they never skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from okta_devstack.airflow import REPO, AirflowServer, free_port
from okta_security.airflow_layout import AIRFLOW_2

if TYPE_CHECKING:
    from collections.abc import Iterator

CLIENT_ID = "airflow-local"
CLIENT_SECRET = "airflow-local-secret"
AIRFLOW2_VENV = Path(os.environ.get("OKTA_AIRFLOW2_VENV", REPO / ".venv-airflow2"))


def airflow2_bin() -> Path:
    """Return the 2.11 venv's bin folder, or fail the test saying how to create it."""
    bin_dir = AIRFLOW2_VENV / "bin"
    if not (bin_dir / "airflow").exists():
        pytest.fail(
            f"The Airflow 2.11 environment is missing ({AIRFLOW2_VENV}). Create it with `make airflow2` "
            "(about a minute; `make test` does it first), or point OKTA_AIRFLOW2_VENV at one.",
            pytrace=False,
        )
    return bin_dir


class Stack2:
    """What a test needs: URLs, the editable files, the database URL, the 2.11 venv."""

    def __init__(self, airflow: AirflowServer, issuer: str, mapping: Path, idp_config: Path) -> None:
        self.airflow = airflow
        self.url = airflow.base_url
        self.issuer = issuer
        self.mapping = mapping
        self.idp_config = idp_config
        self.db_url = airflow.db_url
        self.original_mapping = mapping.read_text()

    def reset_files(self) -> None:
        from tests.integration.helpers import rewrite

        if self.mapping.read_text() != self.original_mapping:
            rewrite(self.mapping, self.original_mapping)


@pytest.fixture(scope="session")
def af2_stack(tmp_path_factory) -> Iterator[Stack2]:
    from okta_local_idp.server import serve_in_thread

    bin_dir = airflow2_bin()
    root = tmp_path_factory.mktemp("airflow2")
    port = free_port()
    idp_config = root / "idp_users.yaml"
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    for client in data["clients"]:
        if client["client_id"] == CLIENT_ID:  # Airflow 2: FAB's views sit at the root, not under /auth
            client["redirect_uris"] = [f"http://127.0.0.1:{port}{AIRFLOW_2.callback_path}"]
            client["post_logout_redirect_uris"] = [f"http://127.0.0.1:{port}{AIRFLOW_2.login_path}"]
    idp_config.write_text(yaml.safe_dump(data, sort_keys=False))
    idp = serve_in_thread(str(idp_config), host="127.0.0.1", port=0)
    mapping = root / "okta_role_mapping.yaml"
    shutil.copy(REPO / "config" / "role_mapping.yaml", mapping)
    airflow = AirflowServer(
        root / "airflow",
        port=port,
        bin_dir=bin_dir,
        okta_env={
            "OKTA_ISSUER": idp.issuer,
            "OKTA_CLIENT_ID": CLIENT_ID,
            "OKTA_CLIENT_SECRET": CLIENT_SECRET,
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
        },
    )
    assert airflow.layout is AIRFLOW_2, f"{bin_dir} does not hold Airflow 2"
    try:
        airflow.prepare()
        airflow.start()
        yield Stack2(airflow, idp.issuer, mapping, idp_config)
    finally:
        airflow.stop()
        idp.shutdown()


@pytest.fixture
def af2(af2_stack: Stack2) -> Iterator[Stack2]:
    """The running 2.11 stack, with the mapping restored after each test."""
    yield af2_stack
    af2_stack.reset_files()
