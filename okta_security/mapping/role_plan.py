"""Plan a roles-as-code sync: the exact permissions of each declared role, and the diff to apply.

Pure logic over names: role specs (:mod:`okta_security.mapping.roles`), DAG ids and the roles
already in the database in, permission sets and :class:`RoleChange` out. The FAB adapter that
reads and writes the database is :mod:`okta_security.adapter.role_sync`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from okta_security.errors import RoleSyncError
from okta_security.mapping.roles import ALL_DAGS_PERMISSIONS, PRIVILEGED_ROLES, Permission, RoleSpec, based_on_chain

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping


def privileged_declared_roles(specs: Iterable[RoleSpec]) -> dict[str, str]:
    """Return declared roles that inherit Admin or Op: ``{role: privileged ancestor}``."""
    by_name = {spec.name: spec for spec in specs}
    roots = {name: based_on_chain(name, by_name)[-1] for name in by_name}
    return {name: root for name, root in roots.items() if root in PRIVILEGED_ROLES}


def desired_permissions(
    specs: Iterable[RoleSpec], dag_ids: Iterable[str], existing: Mapping[str, Collection[Permission]]
) -> dict[str, frozenset[Permission]]:
    """Return every declared role's exact permissions; raise RoleSyncError if a ``based_on`` role is missing.

    ``existing`` (the roles in the database) supplies the ``based_on`` roles the file does not declare.
    """
    by_name = {spec.name: spec for spec in specs}
    ids = sorted(set(dag_ids))
    result: dict[str, frozenset[Permission]] = {}
    missing: list[str] = []

    def build(name: str) -> frozenset[Permission]:
        if name in result:
            return result[name]
        spec = by_name[name]
        inherited: frozenset[Permission] = frozenset()
        if spec.based_on is not None:
            if spec.based_on in by_name:
                inherited = build(spec.based_on)
            elif spec.based_on in existing:
                inherited = frozenset(existing[spec.based_on])
            else:
                missing.append(
                    f"role {name!r} (line {spec.line}) is based on {spec.based_on!r}, which is not in Airflow's "
                    "database — start Airflow's API server once (it creates the built-in roles), or create the role"
                )
        result[name] = (inherited - ALL_DAGS_PERMISSIONS) | spec.own_permissions(ids)
        return result[name]

    for name in by_name:
        build(name)
    if missing:
        raise RoleSyncError(missing)
    return result


@dataclass(frozen=True)
class RoleChange:
    """What a sync does to one declared role."""

    role: str
    create: bool
    add: frozenset[Permission]
    remove: frozenset[Permission]

    @property
    def changed(self) -> bool:
        return self.create or bool(self.add) or bool(self.remove)


def plan_changes(
    desired: Mapping[str, frozenset[Permission]], existing: Mapping[str, Collection[Permission]]
) -> list[RoleChange]:
    """Return, per declared role (sorted by name), what must be created, added and removed."""
    have = {role: frozenset(existing.get(role, ())) for role in desired}
    return [
        RoleChange(role=role, create=role not in existing, add=want - have[role], remove=have[role] - want)
        for role, want in sorted(desired.items())
    ]
