"""Run one ``sync-users`` pass on Airflow's configured database (the plan and its guard: :mod:`~okta_security.lifecycle.changes`).

Safe to re-run at any time: every change is applied in its own transaction after re-checking the
row, and an interrupted run leaves each account either changed or untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from okta_security import audit
from okta_security.adapter import audit_log, db, metrics
from okta_security.adapter.account_changes import EngineAccounts, metadata_engine
from okta_security.adapter.airflow_config import okta_options
from okta_security.errors import ConfigError, OktaSecurityError
from okta_security.lifecycle.changes import OktaChanges, UserSyncReport
from okta_security.lifecycle.okta_directory import OktaDirectory
from okta_security.mapping.roles import BUILTIN_ROLES
from okta_security.mapping.store import load_mapping
from okta_security.okta_api.auth import build_groups_client
from okta_security.settings.loader import load_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from okta_security.lifecycle.okta_directory import ProgressFn, Strategy


def load_airflow() -> None:
    """Import Airflow's settings, which configure its logging (towards ``sys.stdout`` as it is now) and ORM."""
    import airflow.settings  # noqa: F401


def run_from_env(
    *,
    dry_run: bool = False,
    force: bool = False,
    max_deactivations: int | None = None,
    strategy: Strategy = "auto",
    environ: Mapping[str, str] | None = None,
    progress: ProgressFn | None = None,
    on_apply: Callable[[int, int], None] | None = None,
) -> UserSyncReport:
    """Run a sync configured from the environment (Airflow's and the OKTA_* settings)."""
    settings = load_settings(environ, okta_options(environ))
    metrics.initialize_outside_the_api_server()
    metrics.install()  # user.* audit events -> okta.user.<change>.sync
    engine = metadata_engine()
    audit.configure(settings.audit_log_handler)
    audit_log.install()
    client = build_groups_client(settings, batch=True)
    if client is None:
        raise ConfigError(
            [
                "sync-users needs Okta Management API access: set OKTA_API_TOKEN (or OKTA_API_TOKEN_FILE), "
                "or OKTA_API_CLIENT_ID with OKTA_API_PRIVATE_KEY(_FILE) for an OAuth service app "
                "(scopes okta.users.read, okta.groups.read) — see docs/user_sync.md"
            ],
            source="okta-airflow sync-users",
        )
    try:
        with engine.connect() as conn:  # role names checked against Airflow's roles
            mapping = load_mapping(settings.role_mapping_file, known_roles=set(db.role_names(conn)) | BUILTIN_ROLES)
        return OktaChanges(EngineAccounts(engine)).sync_users(
            OktaDirectory(client, progress=progress),
            mapping,
            dry_run=dry_run,
            force=force,
            max_deactivations=max_deactivations,
            strategy=strategy,
            on_apply=on_apply,
        )
    finally:
        client.close()


def sync_users(*, dry_run: bool = False, force: bool = False, max_deactivations: int | None = None) -> dict[str, Any]:
    """Run a sync from the environment and return the JSON report (what the example DAG calls)."""
    report = run_from_env(dry_run=dry_run, force=force, max_deactivations=max_deactivations)
    if report.failed:
        raise OktaSecurityError(f"sync-users: {report.failed} change(s) failed: {report.summary()}")
    return report.as_dict()
