"""Run one ``sync-users`` pass: read Airflow, read Okta in bulk, plan, guard, apply, report.

Safe to re-run at any time: the plan is computed from the current state of both sides, every
change is applied in its own transaction after re-checking the row, and an interrupted run leaves
each account either changed or untouched — the next run finishes the job. Nothing is applied if
Okta cannot be read completely (an outage must never strip access), nor if the plan would
deactivate more accounts than the guard allows (a broken mapping or a wrong org).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from okta_security import audit
from okta_security.adapter import audit_log as audit_airflow
from okta_security.adapter import db, metrics
from okta_security.adapter.accounts import EngineAccounts, load_accounts, metadata_engine
from okta_security.adapter.airflow_config import okta_options
from okta_security.errors import ConfigError, OktaSecurityError, TooManyDeactivations
from okta_security.lifecycle.changes import OktaChanges
from okta_security.lifecycle.okta_directory import OktaDirectory
from okta_security.lifecycle.user_sync import SyncPlan, deactivation_limit, plan_sync
from okta_security.mapping.roles import BUILTIN_ROLES
from okta_security.mapping.store import load_mapping
from okta_security.okta_api.auth import build_groups_client
from okta_security.settings.loader import load_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from sqlalchemy.engine import Engine

    from okta_security.lifecycle.changes import AppliedChange
    from okta_security.lifecycle.okta_directory import ProgressFn, Strategy
    from okta_security.mapping.rules import RoleMapping
    from okta_security.okta_api.client import OktaApiClient
    from okta_security.settings.loader import OktaSettings

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """Everything a run decided and did; ``as_dict()`` is the ``--json`` output."""

    plan: SyncPlan
    dry_run: bool
    okta_calls: int
    seconds: float
    results: list[AppliedChange] = field(default_factory=list)

    @property
    def applied(self) -> int:
        """Return how many changes were written."""
        return sum(1 for r in self.results if r.outcome == "applied")

    @property
    def failed(self) -> int:
        """Return how many changes could not be written (conflicts excluded: a re-run resolves them)."""
        return sum(1 for r in self.results if r.outcome in ("failed", "missing_role"))

    def summary(self) -> dict[str, int]:
        """Return the counts printed at the end of a run."""
        counts = dict(self.plan.counts)
        return {
            "accounts": len(self.plan.entries),
            "unmanaged": self.plan.unmanaged,
            "deactivate": counts.get("deactivate", 0),
            "reactivate": counts.get("reactivate", 0),
            "set_roles": counts.get("set_roles", 0),
            "unchanged": counts.get("unchanged", 0),
            "skipped": counts.get("skip", 0),
            "applied": self.applied,
            "conflicts": sum(1 for r in self.results if r.outcome == "conflict"),
            "failed": self.failed,
            "okta_calls": self.okta_calls,
        }

    def as_dict(self) -> dict[str, Any]:
        """Return the machine-readable report."""
        outcomes = {(r.change.user_id): r for r in self.results}
        entries = []
        for entry in self.plan.entries:
            item = entry.as_dict()
            result = outcomes.get(entry.user_id)
            if result is not None:
                item["outcome"] = result.outcome
                if result.detail:
                    item["detail"] = result.detail
            entries.append(item)
        return {
            "dry_run": self.dry_run,
            "mapping_version": self.plan.mapping_version,
            "seconds": round(self.seconds, 3),
            "summary": self.summary(),
            "entries": entries,
        }


def run_sync(
    engine: Engine,
    directory: OktaDirectory,
    mapping: RoleMapping,
    *,
    dry_run: bool = False,
    force: bool = False,
    max_deactivations: int | None = None,
    strategy: Strategy = "auto",
    on_apply: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Plan against Okta and apply (unless ``dry_run``); raise TooManyDeactivations before writing too much."""
    started = time.monotonic()
    accounts, unmanaged = load_accounts(engine)
    snapshot = directory.snapshot([a.okta_sub for a in accounts], mapping, strategy=strategy)
    plan = plan_sync(accounts, snapshot, mapping, unmanaged=unmanaged)
    report = SyncReport(plan=plan, dry_run=dry_run, okta_calls=directory.calls, seconds=0.0)
    limit = max_deactivations if max_deactivations is not None else deactivation_limit(len(accounts))
    if not dry_run and not force and plan.deactivations > limit:
        report.seconds = time.monotonic() - started
        raise TooManyDeactivations(
            f"the plan deactivates {plan.deactivations} of {len(accounts)} accounts, more than the limit of "
            f"{limit}; nothing was changed. Check the mapping and the Okta org, review with --dry-run, then "
            "re-run with --force (or raise --max-deactivations)"
        )
    if not dry_run:
        changes = OktaChanges(EngineAccounts(engine))
        report.results = changes.apply_plan(plan, trigger="sync", evidence_at=snapshot.read_at, on_apply=on_apply)
    report.seconds = time.monotonic() - started
    log.info("sync-users: %s", report.summary())
    return report


def load_airflow() -> None:
    """Import Airflow's settings, which configure its logging (towards ``sys.stdout`` as it is now) and ORM."""
    import airflow.settings  # noqa: F401


def directory_client(settings: OktaSettings) -> OktaApiClient:
    """Return a Management API client for batch reads; raise ConfigError if none is configured."""
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
    return client


def load_mapping_for_sync(settings: OktaSettings, engine: Engine) -> RoleMapping:
    """Load the mapping file, checking role names against Airflow's roles."""
    with engine.connect() as conn:
        roles = set(db.role_names(conn))
    return load_mapping(settings.role_mapping_file, known_roles=roles | BUILTIN_ROLES)


def run_from_env(
    *,
    dry_run: bool = False,
    force: bool = False,
    max_deactivations: int | None = None,
    strategy: Strategy = "auto",
    environ: Mapping[str, str] | None = None,
    progress: ProgressFn | None = None,
    on_apply: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Run a sync configured from the environment (Airflow's and the OKTA_* settings)."""
    settings = load_settings(environ, okta_options(environ))
    metrics.initialize_outside_the_api_server()
    metrics.install()  # user.* audit events -> okta.user.<change>.sync
    engine = metadata_engine()
    audit.configure(settings.audit_log_handler)
    audit_airflow.install()
    client = directory_client(settings)
    try:
        mapping = load_mapping_for_sync(settings, engine)
        return run_sync(
            engine,
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
