"""One way to build a test stack: the local Okta-compatible IdP and a real Airflow api-server, from a small declaration.

A :class:`StackSpec` says only how a stack differs from the sample one (``config/idp_users.yaml``,
``config/role_mapping.yaml``, the ``airflow-local`` client): its settings, its mapping text, edits
to the IdP's users, groups and clients, the database kind, what to do to the Airflow home before
the server starts. :func:`running_stack` builds it in a folder and points every web client's
redirect URIs at this Airflow, so no test patches them by hand.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import pytest
import sqlalchemy as sa
import yaml

from okta_devstack.airflow import FAB_AUTH_MANAGER, REPO, AirflowServer, free_port
from okta_devstack.demo_files import point_agents_at_airflow
from tests.warm_cli import WarmCli

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from okta_local_idp.server import IdpHandle

CLIENT_ID = "airflow-local"
CLIENT_SECRET = "airflow-local-secret"
CALLBACK = "/auth/oauth-authorized/okta"
PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"

Database = Literal["sqlite", "postgres"]

# Timers every stack sets shorter than production's, through the ordinary settings, so tests wait
# for them briefly instead of for seconds. A mapping edit is seen by the first login
# MAPPING_CHECK_SECONDS after it: a test waits MAPPING_SETTLE_SECONDS (the margin covers the
# clock's resolution). A flood's count lands in the Audit Log within AUDIT_COUNT_WRITE_SECONDS.
MAPPING_CHECK_SECONDS = 0.2
MAPPING_SETTLE_SECONDS = MAPPING_CHECK_SECONDS + 0.1
AUDIT_COUNT_WRITE_SECONDS = 0.5
TEST_TIMERS = {
    "ROLE_MAPPING_CHECK_SECONDS": str(MAPPING_CHECK_SECONDS),
    "AUDIT_COUNT_WRITE_SECONDS": str(AUDIT_COUNT_WRITE_SECONDS),
}
# What okta-airflow's commands import when they run (Airflow, FAB, the adapter), imported once by a
# stack's warm process (tests.warm_cli) instead of by every command; and Airflow's own command line.
CLI_IMPORTS = (
    "okta_security.cli.doctor",
    "okta_security.cli.mapping",
    "okta_security.cli.relink",
    "okta_security.cli.sync_users",
    "okta_security.cli.migrate_usernames",
    "okta_security.adapter.account_admin",
    "okta_security.adapter.account_changes",
    "okta_security.adapter.user_sync_runner",
    "okta_security.adapter.role_sync",
    "okta_security.adapter.security_manager",
    "airflow.providers.fab.www.security_appless",
    "airflow.cli.cli_parser",
)
_warm: dict[int, WarmCli] = {}  # by id() of the AirflowServer: a stack and a subclass wrapping it share one


@dataclass(frozen=True)
class StackSpec:
    """How a stack differs from the sample one."""

    database: Database = "sqlite"
    # OKTA_* settings on top of the issuer, the client and the mapping file (Airflow-native stacks:
    # okta_in_airflow_config=True puts those three in AIRFLOW__OKTA__* and sets no OKTA_* at all).
    # In both, "{airflow_url}" stands for Airflow's URL (its port is picked when the stack starts).
    settings: Mapping[str, str] = field(default_factory=dict)
    airflow_settings: Mapping[str, str] = field(default_factory=dict)  # more AIRFLOW__* settings
    okta_in_airflow_config: bool = False
    client_secret: str | None = CLIENT_SECRET  # OKTA_CLIENT_SECRET; None: the settings give the credential
    mapping: str | None = None  # the role mapping file's text; None: config/role_mapping.yaml
    # Changes to the IdP's YAML data (users, groups, clients, server options), given Airflow's base URL.
    edit_idp: Callable[[dict, str], None] | None = None
    auth_manager: str = FAB_AUTH_MANAGER
    before_start: Callable[[AirflowServer], None] | None = None  # DAG files, database users ...


class Stack:
    """A running stack: the URLs, the in-process IdP, the editable files, the database URL."""

    def __init__(self, airflow: AirflowServer, idp: IdpHandle, mapping: Path, idp_config: Path) -> None:
        self.airflow = airflow
        self.idp = idp  # runtime faults (set_faults/clear_faults), key rotation
        self.url = airflow.base_url
        self.issuer = idp.issuer
        self.token_endpoint = f"{idp.issuer}/v1/token"
        self.mapping = mapping
        self.idp_config = idp_config
        self.db_url = airflow.db_url
        self.original_mapping = mapping.read_text()
        self.original_idp = idp_config.read_text()

    def reset_files(self) -> None:
        """Restore the mapping and IdP files a test edited, and let the server see the mapping's restore."""
        from tests.integration.helpers import rewrite

        if self.mapping.read_text() != self.original_mapping:
            rewrite(self.mapping, self.original_mapping)
            time.sleep(MAPPING_SETTLE_SECONDS)
        if self.idp_config.read_text() != self.original_idp:
            rewrite(self.idp_config, self.original_idp)

    def okta_airflow(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run ``okta-airflow <args>`` with this Airflow's environment (``env``: one differing only in OKTA_*).

        Each command is a process of its own, forked from the stack's warm process (:func:`warm_cli`).
        """
        return warm_cli(self.airflow).run(*args, env=self.airflow.env() if env is None else env, timeout=timeout)

    def airflow_command(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` in this Airflow's home, as :meth:`AirflowServer.airflow` does, forked the same way."""
        return airflow_command(self.airflow, *args, check=check, timeout=timeout)


def warm_cli(airflow: AirflowServer) -> WarmCli:
    """Return the warm process for ``airflow``'s commands, started with its environment at the first call.

    :func:`running_stack` stops it with the server.
    """
    if airflow.bin_dir is not None:
        raise ValueError("the warm process runs this venv's okta-airflow: not another venv's Airflow")
    cli = _warm.get(id(airflow))
    if cli is None:
        cli = _warm[id(airflow)] = WarmCli(airflow.env(), airflow.home.parent / "warm-cli", preload=CLI_IMPORTS)
    return cli


def airflow_command(
    airflow: AirflowServer, *args: str, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``airflow <args>`` in ``airflow``'s home with its environment; with ``check``, raise RuntimeError if it fails."""
    done = warm_cli(airflow).run(*args, program="airflow", env=airflow.env(), cwd=airflow.home, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} exited with {done.returncode}:\n{done.stderr[-3000:]}")
    return done


def _stop_warm_cli(airflow: AirflowServer) -> None:
    cli = _warm.pop(id(airflow), None)
    if cli is not None:
        cli.close()


def postgres_database() -> Iterator[str]:
    """Create an empty PostgreSQL database for one stack; drop it when resumed (a generator for fixtures)."""
    name = f"okta_it_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as e:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required for the integration tests: {e}")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def idp_data(airflow_url: str, *more_urls: str, edit: Callable[[dict, str], None] | None = None) -> dict:
    """Return the sample IdP's YAML data pointed at the Airflow URLs given, then ``edit``.

    Airflow's web clients get their redirect URIs there; agents (Cross App Access) may ask for ID-JAGs naming it.
    """
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    urls = (airflow_url, *more_urls)
    point_agents_at_airflow(data, *urls)
    for client in data["clients"]:
        # An Airflow web app; not the CLI (it signs in by device code) nor an agent (its callback is its own).
        if "redirect_uris" in client and "cross_app_access" not in client:
            client["redirect_uris"] = [f"{url}{CALLBACK}" for url in urls]
            client["post_logout_redirect_uris"] = [f"{url}/auth/login/" for url in urls]
            client["initiate_login_uri"] = f"{airflow_url}/auth/login/okta"  # the IdP dashboard's tile
    if edit is not None:
        edit(data, airflow_url)
    return data


@contextlib.contextmanager
def running_stack(spec: StackSpec, root: Path) -> Iterator[Stack]:
    """Build ``spec`` in ``root``, start the IdP and Airflow, yield the stack; stop both afterwards."""
    from okta_local_idp.server import serve_in_thread

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    spec_settings = {k: v.replace("{airflow_url}", url) for k, v in spec.settings.items()}
    spec_airflow_settings = {k: v.replace("{airflow_url}", url) for k, v in spec.airflow_settings.items()}
    idp_config = root / "idp_users.yaml"
    idp_config.write_text(yaml.safe_dump(idp_data(url, edit=spec.edit_idp), sort_keys=False))
    mapping = root / "okta_role_mapping.yaml"
    if spec.mapping is None:
        shutil.copy(REPO / "config" / "role_mapping.yaml", mapping)
    else:
        mapping.write_text(spec.mapping)
    with contextlib.ExitStack() as cleanup:
        idp = serve_in_thread(str(idp_config), host="127.0.0.1", port=0)
        cleanup.callback(idp.shutdown)
        db_url = (
            cleanup.enter_context(contextlib.contextmanager(postgres_database)())
            if spec.database == "postgres"
            else None
        )
        basics = {"ISSUER": idp.issuer, "CLIENT_ID": CLIENT_ID, "ROLE_MAPPING_FILE": str(mapping), **TEST_TIMERS}
        if spec.okta_in_airflow_config:
            okta_env: dict[str, str] = {}
            airflow_env = {**{f"AIRFLOW__OKTA__{k}": v for k, v in basics.items()}, **spec_airflow_settings}
        else:
            okta_env = {f"OKTA_{k}": v for k, v in basics.items()}
            if spec.client_secret is not None:
                okta_env["OKTA_CLIENT_SECRET"] = spec.client_secret
            airflow_env = dict(spec_airflow_settings)
        airflow = AirflowServer(
            root / "airflow",
            port=port,
            db_url=db_url,
            auth_manager=spec.auth_manager,
            okta_env={**okta_env, **spec_settings},
            airflow_env=airflow_env,
        )
        cleanup.callback(airflow.stop)
        cleanup.callback(_stop_warm_cli, airflow)
        airflow.prepare()
        if spec.before_start is not None:
            spec.before_start(airflow)
        airflow.start()
        yield Stack(airflow, idp, mapping, idp_config)
