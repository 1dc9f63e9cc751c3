"""Airflow 2.11: the provider registers, [okta] shows in airflow config, and a login works from AIRFLOW__OKTA__* alone.

What 2.11 cannot do (no ``airflow okta``, no health endpoint) is named in docs/provider.md.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest
import yaml

from okta_devstack.airflow import REPO, AirflowServer, free_port
from okta_security.airflow_layout import AIRFLOW_2
from tests.airflow2.conftest import CLIENT_ID, CLIENT_SECRET, airflow2_bin
from tests.airflow2.test_login import ALICE, okta_login
from tests.integration.helpers import user_roles

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def af2_native(tmp_path_factory) -> Iterator[AirflowServer]:
    from okta_local_idp.server import serve_in_thread

    root = tmp_path_factory.mktemp("airflow2-native")
    port = free_port()
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    for client in data["clients"]:
        if client["client_id"] == CLIENT_ID:
            client["redirect_uris"] = [f"http://127.0.0.1:{port}{AIRFLOW_2.callback_path}"]
            client["post_logout_redirect_uris"] = [f"http://127.0.0.1:{port}{AIRFLOW_2.login_path}"]
    idp_config = root / "idp_users.yaml"
    idp_config.write_text(yaml.safe_dump(data, sort_keys=False))
    idp = serve_in_thread(str(idp_config))
    mapping = root / "okta_role_mapping.yaml"
    shutil.copy(REPO / "config" / "role_mapping.yaml", mapping)
    secret_file = root / "client-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    airflow = AirflowServer(
        root / "airflow",
        port=port,
        bin_dir=airflow2_bin(),
        okta_env={},
        airflow_env={
            "AIRFLOW__OKTA__ISSUER": idp.issuer,
            "AIRFLOW__OKTA__CLIENT_ID": CLIENT_ID,
            "AIRFLOW__OKTA__CLIENT_SECRET_CMD": f"cat {secret_file}",
            "AIRFLOW__OKTA__ROLE_MAPPING_FILE": str(mapping),
        },
    )
    try:
        airflow.prepare()
        airflow.start()
        yield airflow
    finally:
        airflow.stop()
        idp.shutdown()


def test_the_provider_and_its_okta_section_are_listed(af2_native: AirflowServer):
    assert "okta-security" in af2_native.airflow("providers", "list").stdout
    listed = af2_native.airflow("config", "list", "--section", "okta").stdout
    assert "issuer" in listed
    assert "client_secret" in listed


def test_a_login_works_with_only_airflow_configuration(af2_native: AirflowServer):
    assert not [name for name in af2_native.env() if name.startswith("OKTA_")]
    _, final = okta_login(af2_native.base_url, *ALICE)
    assert final.status_code == 200, final.text[:500]
    assert user_roles(af2_native.db_url, ALICE[0]) == {"Admin"}
