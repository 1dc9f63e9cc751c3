"""Write declared roles (roles-as-code) into Airflow's FAB tables, through any FAB security manager.

The webserver's own, or ``ApplessAirflowSecurityManager`` for the CLI. DAG-level permissions
(``DAG:<dag_id>``, ``DAG Run:<dag_id>``) are created when missing, as ``sync_perm_for_dag`` does.
Only declared roles are written, never a built-in one, none deleted; one sync commits together,
retried if another replica raced it, and a failed sync leaves the roles as they were. When DAG
globs re-expand: docs/mapping-cookbook.md.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from okta_security.adapter import db
from okta_security.audit import audit_event
from okta_security.errors import RoleSyncError
from okta_security.mapping.role_plan import RoleChange, desired_permissions, plan_changes
from okta_security.mapping.roles import BUILTIN_ROLES, DAG_RESOURCES, Permission, RoleSpec
from okta_security.mapping.rules import parse_mapping

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Mapping

    from airflow.providers.fab.auth_manager.security_manager.override import (
        FabAirflowSecurityManagerOverride as FabSecurity,
    )

    from okta_security.mapping.rules import RoleMapping

log = logging.getLogger(__name__)

ATTEMPTS = 3  # a replica racing us on the same rows makes a commit fail; re-plan and retry


@dataclass(frozen=True)
class Catalog:
    """What the Airflow database knows: role names and DAG ids."""

    roles: frozenset[str]
    dag_ids: frozenset[str]


def read_catalog(url: str, *, timeout: float = 5.0) -> Catalog:
    """Read role names and DAG ids with plain SQL; raise RoleSyncError naming the cause (never the URL)."""
    connect_args: dict[str, Any] = {}
    if url.startswith(("postgresql", "postgres")):
        connect_args["connect_timeout"] = int(timeout)
    elif url.startswith("sqlite"):
        connect_args["timeout"] = timeout
    try:
        engine = sa.create_engine(url, connect_args=connect_args)
    except (sa.exc.ArgumentError, ImportError) as e:
        raise RoleSyncError([f"cannot use the database URL ({type(e).__name__}: {e})"]) from e
    try:
        with engine.connect() as conn:
            return Catalog(roles=db.role_names(conn), dag_ids=db.dag_ids(conn))
    except sa.exc.SQLAlchemyError as e:
        first = str(getattr(e, "orig", None) or e).strip().splitlines()[0]  # the driver's complaint, not the URL
        raise RoleSyncError([f"cannot read Airflow's database: {first}"]) from e
    finally:
        engine.dispose()


def airflow_database_url() -> str:
    """Return Airflow's ``[database] sql_alchemy_conn`` (imports Airflow's configuration)."""
    from airflow.configuration import conf

    return conf.get("database", "sql_alchemy_conn", fallback="") or ""


def existing_roles(sm: FabSecurity) -> dict[str, frozenset[Permission]]:
    """Return every role in the database with its (action, resource) permissions."""
    return {
        role.name: frozenset(
            (perm.action.name, perm.resource.name) for perm in role.permissions if perm.action and perm.resource
        )
        for role in sm.get_all_roles()
    }


def _all_permissions(sm: FabSecurity) -> dict[Permission, Any]:
    """Return every FAB permission object keyed by (action, resource), in one query."""
    rows = sm.session.scalars(sa.select(sm.permission_model)).unique().all()
    return {(p.action.name, p.resource.name): p for p in rows if p.action is not None and p.resource is not None}


@dataclass(frozen=True)
class RoleSyncReport:
    """What one sync found and did."""

    changes: tuple[RoleChange, ...]
    dag_count: int
    applied: bool  # False for a dry run or when nothing needed writing
    dag_fingerprint: str = field(default="", compare=False)

    @property
    def changed(self) -> tuple[RoleChange, ...]:
        return tuple(change for change in self.changes if change.changed)

    def summary(self) -> str:
        if not self.changed:
            return f"{len(self.changes)} declared role(s) already in sync ({self.dag_count} DAGs)"
        parts = [
            f"{c.role}: {'created, ' if c.create else ''}+{len(c.add)} -{len(c.remove)} permissions"
            for c in self.changed
        ]
        return f"{'synced' if self.applied else 'would sync'} {'; '.join(parts)} ({self.dag_count} DAGs)"


def fingerprint(dag_ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(dag_ids)).encode()).hexdigest()[:16]


def sync_roles(sm: FabSecurity, specs: Collection[RoleSpec], *, dry_run: bool = False) -> RoleSyncReport:
    """Create or update the declared roles; raise RoleSyncError (after rolling back) if it can't."""
    session = sm.session
    for attempt in range(1, ATTEMPTS + 1):
        ids = db.dag_ids(session)
        existing = existing_roles(sm)
        desired = desired_permissions(specs, ids, existing)
        changes = tuple(plan_changes(desired, existing))
        report = RoleSyncReport(changes, len(ids), applied=False, dag_fingerprint=fingerprint(ids))
        if dry_run or not report.changed:
            return report
        _check_declared_permissions(sm, specs)
        try:
            _apply(sm, report.changed, desired)
        except sa.exc.DBAPIError as e:  # IntegrityError, deadlock, serialization failure...
            session.rollback()
            if attempt == ATTEMPTS:
                first = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
                raise RoleSyncError([f"the database refused the role changes {ATTEMPTS} times: {first}"]) from e
            log.info("Declared roles changed under us (another replica?); re-planning the sync (%s)", type(e).__name__)
            continue
        return RoleSyncReport(changes, len(ids), applied=True, dag_fingerprint=report.dag_fingerprint)
    raise AssertionError("unreachable")  # pragma: no cover


def sync_roles_from_file(raw: bytes, path: str, *, dry_run: bool) -> tuple[RoleMapping, RoleSyncReport]:
    """Validate a mapping file as the webserver does and sync its roles with FAB's appless security manager (CLI)."""
    try:
        from airflow import settings

        try:  # Airflow 3 (FAB provider 3.x)
            from airflow.providers.fab.www.security_appless import ApplessAirflowSecurityManager
        except ImportError:  # Airflow 2.11 (FAB provider 1.5)
            from airflow.www.security_appless import ApplessAirflowSecurityManager  # type: ignore[no-redef]
    except ImportError as e:
        raise RoleSyncError([f"sync-roles needs Airflow and its FAB provider installed here ({e})"]) from e
    if settings.Session is None:  # pragma: no cover - Airflow configures its ORM at import
        settings.configure_orm()
    session = settings.Session()  # type: ignore[misc]
    try:
        sm = ApplessAirflowSecurityManager(session=session)
        known = {role.name for role in sm.get_all_roles()} | BUILTIN_ROLES
        mapping = parse_mapping(raw, source=path, known_roles=known)  # exactly the webserver's validation
        return mapping, sync_roles(sm, mapping.roles, dry_run=dry_run)
    finally:
        session.close()


def _check_declared_permissions(sm: FabSecurity, specs: Iterable[RoleSpec]) -> None:
    """Refuse permissions on actions or resources Airflow does not have (as [fab] custom_roles does)."""
    problems = []
    for spec in specs:
        for action, resource in sorted(spec.permissions):
            if sm.get_action(action) is None:
                problems.append(f"role {spec.name!r} (line {spec.line}): Airflow has no action {action!r}")
            if sm.get_resource(resource) is None:
                problems.append(f"role {spec.name!r} (line {spec.line}): Airflow has no resource {resource!r}")
    if problems:
        raise RoleSyncError(problems)


def _apply(sm: FabSecurity, changes: Iterable[RoleChange], desired: Mapping[str, frozenset[Permission]]) -> None:
    """Write the changed roles in one transaction (only new permission rows are committed before, by FAB)."""
    perms = _all_permissions(sm)
    targets = []
    for change in changes:
        if change.role in BUILTIN_ROLES:  # roles_as_code refuses these already; never write one
            raise RoleSyncError([f"refusing to change built-in role {change.role!r}"])
        role = sm.find_role(change.role)
        if role is None:  # created in the same transaction as its permissions (sm.add_role would commit)
            role = sm.role_model()
            role.name = change.role
            sm.session.add(role)
        wanted = []
        for key in sorted(desired[change.role]):
            perm = perms.get(key)
            if perm is None:
                _check_dag_action(key)
                perm = sm.create_permission(*key)
                if perm is None:
                    raise RoleSyncError([f"role {change.role!r}: could not create permission {key[0]} on {key[1]}"])
                perms[key] = perm
            wanted.append(perm)
        targets.append((role, wanted))
    for role, wanted in targets:
        role.permissions = wanted
    sm.session.commit()


def _check_dag_action(key: Permission) -> None:
    """Guard: only DAG-level permissions may be created on the fly (their resources are per DAG)."""
    action, resource = key
    for name, spec in DAG_RESOURCES.items():
        if resource == name or resource.startswith(spec.prefix):
            if action in spec.actions:
                return
    raise RoleSyncError([f"permission {action} on {resource} does not exist in Airflow"])


class RoleSyncer:
    """Keeps the declared roles in step with the mapping file and the DAGs, for one webserver process."""

    def __init__(
        self,
        security_manager: FabSecurity,
        *,
        clock: Callable[[], float] = time.monotonic,
        check_interval: float,  # seconds between looks at the DAG list from the login path
    ) -> None:
        self._sm = security_manager
        self._clock = clock
        self._check_interval = check_interval
        self._lock = threading.Lock()
        self._synced: tuple[str, str] | None = None  # (mapping digest, DAG fingerprint) last synced
        self._attempted: str | None = None  # mapping digest of the last attempt, successful or not
        self._last_check = float("-inf")

    def sync(self, mapping: RoleMapping, *, reason: str) -> RoleSyncReport | None:
        """Sync now; on failure log, audit and keep the roles as they were (never raise)."""
        with self._lock:
            return self._sync(mapping, reason)

    def maybe_resync(self, mapping: RoleMapping) -> None:
        """From the login path: re-sync if the mapping or the DAG ids changed, looking at most every ``check_interval``."""
        if not mapping.roles:
            return
        now = self._clock()
        if self._attempted == mapping.digest and now - self._last_check < self._check_interval:
            return
        if not self._lock.acquire(blocking=False):
            return  # another request is syncing right now
        try:
            self._last_check = now
            self._attempted = mapping.digest
            try:
                dags = fingerprint(db.dag_ids(self._sm.session))
            except Exception:
                log.exception("Could not read the DAG list to check declared roles; will retry")
                self._sm.session.rollback()
                return
            if self._synced != (mapping.digest, dags):
                reason = "the DAGs or the mapping changed" if self._synced else "first login since start"
                self._sync(mapping, reason)
        finally:
            self._lock.release()

    def _sync(self, mapping: RoleMapping, reason: str) -> RoleSyncReport | None:
        self._attempted = mapping.digest
        self._last_check = self._clock()
        if not mapping.roles:
            return None
        about = {"owner": None, "file": mapping.source, "version": mapping.digest[:12], "reason": reason}
        try:
            report = sync_roles(self._sm, mapping.roles)
        except Exception as e:
            try:
                self._sm.session.rollback()
            except Exception:  # pragma: no cover - a broken session: nothing more to do here
                log.debug("rollback after a failed role sync failed too", exc_info=True)
            log.error(
                "Declared roles from %s (version %s) NOT synced (%s); Airflow's roles are unchanged: %s",
                mapping.source,
                mapping.digest[:12],
                reason,
                e,
            )
            audit_event("roles.sync_failed", **about, error=str(e))
            return None
        self._synced = (mapping.digest, report.dag_fingerprint)
        log.info("Declared roles from %s (%s): %s", mapping.source, reason, report.summary())
        if report.applied:
            changes = {
                c.role: {"created": c.create, "added": len(c.add), "removed": len(c.remove)} for c in report.changed
            }
            audit_event("roles.synced", **about, dags=report.dag_count, changes=changes)
        return report
