"""The Airflow-native stack: okta_security configured only through Airflow's configuration, metrics on StatsD.

No ``OKTA_*`` variable is set: every setting is ``AIRFLOW__OKTA__*``, the client secret comes from a
command (``AIRFLOW__OKTA__CLIENT_SECRET_CMD``), and ``[metrics]`` points Airflow's StatsD client at a
socket the tests read. The ID token carries no groups, so every login reads them from Okta's
Groups API (the fallback the metrics count).
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest
import yaml

from okta_devstack.airflow import REPO, AirflowServer, free_port
from tests.conftest import CLIENT_ID, CLIENT_SECRET, EVENT_HOOK_SECRET
from tests.integration.statsd_sink import StatsdSink

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from okta_local_idp.server import IdpHandle

OKTA_AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"
API_TOKEN = "00local-dev-api-token"  # config/idp_users.yaml's Management API token


class NativeStack:
    """A running api-server configured through AIRFLOW__OKTA__*, its IdP, its StatsD sink."""

    def __init__(self, airflow: AirflowServer, idp: IdpHandle, statsd: StatsdSink, mapping: Path, secret_file: Path):
        self.airflow = airflow
        self.idp = idp
        self.statsd = statsd
        self.mapping = mapping
        self.secret_file = secret_file
        self.url = airflow.base_url
        self.db_url = airflow.db_url


@pytest.fixture(scope="session")
def native(tmp_path_factory) -> Iterator[NativeStack]:
    from okta_local_idp.server import serve_in_thread

    root = tmp_path_factory.mktemp("native")
    port = free_port()
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    data["server"].update(groups_claim=False, api_token=API_TOKEN)  # tokens and userinfo carry no groups
    for client in data["clients"]:
        if client["client_id"] == CLIENT_ID:
            client["redirect_uris"] = [f"http://127.0.0.1:{port}/auth/oauth-authorized/okta"]
            client["post_logout_redirect_uris"] = [f"http://127.0.0.1:{port}/auth/login/"]
    idp_config = root / "idp_users.yaml"
    idp_config.write_text(yaml.safe_dump(data, sort_keys=False))
    idp = serve_in_thread(str(idp_config))
    mapping = root / "okta_role_mapping.yaml"
    shutil.copy(REPO / "config" / "role_mapping.yaml", mapping)
    secret_file = root / "client-secret"  # what a secrets tool would print; read by the _CMD
    secret_file.write_text(CLIENT_SECRET + "\n")
    statsd = StatsdSink()
    airflow = AirflowServer(
        root / "airflow",
        port=port,
        okta_env={},
        auth_manager=OKTA_AUTH_MANAGER,
        airflow_env={
            "AIRFLOW__OKTA__ISSUER": idp.issuer,
            "AIRFLOW__OKTA__CLIENT_ID": CLIENT_ID,
            "AIRFLOW__OKTA__CLIENT_SECRET_CMD": f"cat {secret_file}",
            "AIRFLOW__OKTA__ROLE_MAPPING_FILE": str(mapping),
            "AIRFLOW__OKTA__API_TOKEN": API_TOKEN,
            "AIRFLOW__OKTA__EVENT_HOOK_SECRET": EVENT_HOOK_SECRET,
            # Accounts made before Okta wait for `okta-airflow relink` (test_account_pinning); a boolean option.
            "AIRFLOW__OKTA__ADOPT_UNLINKED_ACCOUNTS": "False",
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
            "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        },
    )
    try:
        airflow.prepare()
        airflow.start()
        yield NativeStack(airflow, idp, statsd, mapping, secret_file)
    finally:
        airflow.stop()
        idp.shutdown()
        statsd.close()
