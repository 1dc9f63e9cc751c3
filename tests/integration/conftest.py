"""The Airflow-native stack: okta_security configured only through Airflow's configuration, metrics on StatsD.

No ``OKTA_*`` variable is set: every setting is ``AIRFLOW__OKTA__*``, the client secret comes from a
command (``AIRFLOW__OKTA__CLIENT_SECRET_CMD``), and ``[metrics]`` points Airflow's StatsD client at a
socket the tests read. The ID token carries no groups, so every login reads them from Okta's
Groups API (the fallback the metrics count).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.conftest import CLIENT_SECRET, EVENT_HOOK_SECRET
from tests.integration.statsd_sink import StatsdSink
from tests.stacks import Stack, StackSpec, running_stack

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

OKTA_AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"
API_TOKEN = "00local-dev-api-token"  # config/idp_users.yaml's Management API token


class NativeStack(Stack):
    """A running api-server configured through AIRFLOW__OKTA__*, its IdP, its StatsD sink."""

    def __init__(self, base: Stack, statsd: StatsdSink, secret_file: Path) -> None:
        super().__init__(base.airflow, base.idp, base.mapping, base.idp_config)
        self.statsd = statsd
        self.secret_file = secret_file


ULO_PERSON = "ulo.person@example.com"  # signed out by test_universal_logout only, so no other test's session ends
ULO_PASSWORD = "Ulo-pass-1"


def _no_groups_in_tokens(data: dict, airflow_url: str) -> None:
    data["server"].update(groups_claim=False, api_token=API_TOKEN)  # tokens and userinfo carry no groups
    # Okta's Universal Logout to Airflow's endpoint (test_universal_logout), for a person of its own.
    for client in data["clients"]:
        if client["client_id"] == "airflow-local":
            client["universal_logout"] = {"url": f"{airflow_url}/auth/okta/global-token-revocation"}
    data["users"].append(
        {
            "id": "00uulo0000000000001a",
            "login": ULO_PERSON,
            "password": ULO_PASSWORD,
            "email": ULO_PERSON,
            "groups": ["airflow-ops", "Everyone"],
        }
    )


@pytest.fixture(scope="session")
def native(tmp_path_factory) -> Iterator[NativeStack]:
    root = tmp_path_factory.mktemp("native")
    secret_file = root / "client-secret"  # what a secrets tool would print; read by the _CMD
    secret_file.write_text(CLIENT_SECRET + "\n")
    statsd = StatsdSink()
    spec = StackSpec(
        okta_in_airflow_config=True,
        auth_manager=OKTA_AUTH_MANAGER,
        edit_idp=_no_groups_in_tokens,
        airflow_settings={
            "AIRFLOW__OKTA__CLIENT_SECRET_CMD": f"cat {secret_file}",
            "AIRFLOW__OKTA__API_TOKEN": API_TOKEN,
            "AIRFLOW__OKTA__EVENT_HOOK_SECRET": EVENT_HOOK_SECRET,
            "AIRFLOW__OKTA__UNIVERSAL_LOGOUT_ENDPOINT": "{airflow_url}/auth/okta/global-token-revocation",
            # Accounts made before Okta wait for `okta-airflow relink` (test_account_pinning); a boolean option.
            "AIRFLOW__OKTA__ADOPT_UNLINKED_ACCOUNTS": "False",
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
            "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        },
    )
    try:
        with running_stack(spec, root) as built:
            yield NativeStack(built, statsd, secret_file)
    finally:
        statsd.close()
