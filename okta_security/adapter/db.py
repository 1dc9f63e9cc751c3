"""okta_security's tables in Airflow's metadata database, and every statement of ours on Airflow's.

- ``okta_security_user``: one row per Airflow user that came from Okta: the Okta ``sub`` (stable
  across renames), the groups last seen, who deactivated the account (``deactivated_by``: only
  okta_security's own deactivations are ever undone) and the evidence times of
  :mod:`okta_security.lifecycle.evidence`. No foreign key to ``ab_user`` (deleting a user in FAB's
  UI must keep working on PostgreSQL): rows match on ``user_id`` *and* ``username``.
- ``okta_security_sign_out`` and ``okta_security_logout_jti``: Okta's Universal Logout, each
  account's "not before" time and the request JWTs already used (:mod:`okta_security.adapter.universal_logout`).
- ``okta_security_grant_jti`` and ``okta_security_agent_cut``: the ID-JAGs AI agents have spent, and when
  Okta unassigned a person from an agent's app (:mod:`okta_security.adapter.agents`).
- ``okta_security_event_receipt``: ids of Okta events taken; the ``INSERT`` is the atomic claim
  across replicas.

Created and upgraded by the Alembic migrations (:mod:`okta_security.adapter.migrations`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from okta_security.lifecycle.evidence import AccountTimes
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy.engine import Connection, Engine, RowMapping
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

metadata = sa.MetaData()

user_link = sa.Table(
    "okta_security_user",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),  # ab_user.id
    sa.Column("username", sa.String(512), nullable=False),
    sa.Column("okta_sub", sa.String(128), nullable=False, index=True),
    sa.Column("groups", sa.Text, nullable=True),  # JSON list of the Okta groups last seen
    sa.Column("groups_at", sa.DateTime(timezone=True), nullable=True),  # the evidence time of ``groups``
    sa.Column("deactivated_by", sa.String(32), nullable=True),  # "sync" | "event_hook" | "login" | None
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # Evidence times (okta_security.lifecycle.evidence): behind the account's status, and the newest
    # change that took roles away or an administrator's edit.
    sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("roles_at", sa.DateTime(timezone=True), nullable=True),
)

event_receipt = sa.Table(
    "okta_security_event_receipt",
    metadata,
    sa.Column("event_id", sa.String(128), primary_key=True),
    sa.Column("event_type", sa.String(128), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

# Okta's Universal Logout (okta_security.lifecycle.universal_logout): per account, the time before which
# every session and token is refused; and the request JWTs already used, until they expire.
sign_out_table = sa.Table(
    "okta_security_sign_out",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),  # ab_user.id
    sa.Column("username", sa.String(512), nullable=False),  # a reused id never inherits a sign-out
    sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
    sa.Column("jti", sa.String(128), nullable=False),  # the request that set it (audit trail's key)
)

logout_jti = sa.Table(
    "okta_security_logout_jti",
    metadata,
    sa.Column("jti", sa.String(128), primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

# AI agents' ID-JAGs (okta_security.login.delegation): each spent once, remembered until it expires.
grant_jti = sa.Table(
    "okta_security_grant_jti",
    metadata,
    sa.Column("jti", sa.String(128), primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

# Per account and agent: Okta unassigned the person from the agent's app at ``not_before``.
agent_cut = sa.Table(
    "okta_security_agent_cut",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),  # ab_user.id
    sa.Column("agent", sa.String(128), primary_key=True),
    sa.Column("username", sa.String(512), nullable=False),  # a reused id never inherits a cut
    sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
)

RECEIPT_RETENTION = timedelta(days=7)  # Okta retries a delivery once, within seconds; a week is ample

_ensured: set[str] = set()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def ensure_tables(engine: Engine) -> None:
    """Bring okta_security's tables to the newest migration (once per process and database; safe to race)."""
    key = str(engine.url)
    if key in _ensured:
        return
    from okta_security.adapter import migrations

    migrations.upgrade(engine)
    _ensured.add(key)


@dataclass(frozen=True)
class UserLink:
    """What okta_security remembers about one Airflow user that came from Okta."""

    user_id: int
    username: str
    okta_sub: str
    groups: tuple[str, ...] | None
    groups_at: datetime | None
    deactivated_by: str | None
    status_at: datetime | None = None
    roles_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def times(self) -> AccountTimes:
        """Return the evidence times the account reflects (an undated marker counts from the row's last update)."""
        status_at = self.status_at
        if status_at is None and self.deactivated_by is not None:
            status_at = self.updated_at
        return AccountTimes(status_at=status_at, groups_at=self.groups_at, roles_at=self.roles_at)


def _link(row: RowMapping) -> UserLink:
    values: dict[str, Any] = {**row}
    values["groups"] = tuple(json.loads(row["groups"])) if isinstance(row["groups"], str) else None
    for name in ("groups_at", "status_at", "roles_at", "updated_at"):
        values[name] = _aware(values[name])
    return UserLink(**values)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite drops the zone
        return value.replace(tzinfo=timezone.utc)
    return value


def all_links(conn: Connection) -> list[UserLink]:
    return [_link(r) for r in conn.execute(sa.select(user_link)).mappings()]


def links_for_sub(conn: Connection, sub: str) -> list[UserLink]:
    """Return the link rows of Okta user ``sub`` (usually one)."""
    rows = conn.execute(sa.select(user_link).where(user_link.c.okta_sub == sub)).mappings()
    return [_link(r) for r in rows]


def link_for_user(conn: Connection, user_id: int, username: str) -> UserLink | None:
    """Return the link of Airflow user ``user_id`` if it belongs to ``username``."""
    query = sa.select(user_link).where(user_link.c.user_id == user_id, user_link.c.username == username)
    row = conn.execute(query).mappings().first()
    return _link(row) if row else None


def link_values(
    *,
    username: str,
    okta_sub: str,
    groups: Sequence[str] | None = None,
    groups_at: datetime | None = None,
    status_at: datetime | None = None,
    deactivated_by: str | None = None,
    now: datetime | None = None,
) -> dict[str, object]:
    """Return a link row's new values; ``groups_at`` (default now) and ``status_at`` are evidence times."""
    now = now or utcnow()
    values: dict[str, object] = {
        "username": username,
        "okta_sub": okta_sub,
        "deactivated_by": deactivated_by,
        "updated_at": now,
    }
    if groups is not None:
        values.update(groups=json.dumps(list(groups)), groups_at=groups_at or now)
    if status_at is not None:
        values.update(status_at=status_at)
    return values


def update_link(conn: Connection, user_id: int, values: dict[str, object]) -> bool:
    """Replace the link of ``user_id`` in the caller's transaction; return False if it has none yet."""
    return bool(conn.execute(sa.update(user_link).where(user_link.c.user_id == user_id).values(**values)).rowcount)


def upsert_link(engine: Engine, user_id: int, values: dict[str, object]) -> None:
    """Create or replace the link of ``user_id`` with :func:`link_values`' values, in a transaction of its own."""
    with engine.begin() as conn:
        if update_link(conn, user_id, values):
            return
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(user_link).values(user_id=user_id, **values))
    except sa.exc.IntegrityError:  # a concurrent login of the same user inserted first
        with engine.begin() as conn:
            update_link(conn, user_id, values)


def set_deactivated_by(
    conn: Connection | Session,
    user_id: int,
    by: str | None,
    *,
    status_at: datetime | None = None,
    roles_cut_at: datetime | None = None,
) -> None:
    """Record who deactivated ``user_id`` (None: reactivated) and the evidence times (a newer ``roles_at`` is kept)."""
    values: dict[str, object] = {"deactivated_by": by, "updated_at": utcnow()}
    if status_at is not None:
        values["status_at"] = status_at
    if roles_cut_at is not None:
        values["roles_at"] = sa.case(
            (user_link.c.roles_at.is_(None), roles_cut_at),
            (user_link.c.roles_at < roles_cut_at, roles_cut_at),
            else_=user_link.c.roles_at,
        )
    conn.execute(sa.update(user_link).where(user_link.c.user_id == user_id).values(**values))


def admin_changed(conn: Connection, user_id: int, *, status: bool, roles: bool, at: datetime) -> bool:
    """Record an administrator's edit (a status change clears the marker); return whether the user is linked at all."""
    values: dict[str, object] = {"updated_at": at}
    if status:
        values.update(deactivated_by=None, status_at=at)
    if roles:
        values["roles_at"] = at
    return update_link(conn, user_id, values)


def set_groups(conn: Connection, user_id: int, groups: Iterable[str], at: datetime) -> None:
    """Remember ``groups`` as the user's Okta groups as of ``at``."""
    update_link(conn, user_id, {"groups": json.dumps(sorted(set(groups))), "groups_at": at, "updated_at": utcnow()})


def claim_event(engine: Engine, event_id: str, event_type: str, *, now: datetime | None = None) -> bool:
    """Record ``event_id`` as taken, atomically; return False if it already was (a redelivery)."""
    try:
        with engine.begin() as conn:
            values = {"event_id": event_id[:128], "event_type": event_type[:128], "received_at": now or utcnow()}
            conn.execute(sa.insert(event_receipt).values(**values))
    except sa.exc.IntegrityError:
        return False
    return True


def prune_receipts(conn: Connection, *, now: datetime | None = None) -> int:
    """Forget event ids older than RECEIPT_RETENTION; return how many were dropped."""
    cutoff = (now or utcnow()) - RECEIPT_RETENTION
    return conn.execute(sa.delete(event_receipt).where(event_receipt.c.received_at < cutoff)).rowcount or 0


def sign_out(
    engine: Engine,
    accounts: Iterable[tuple[int, str]],
    *,
    not_before: datetime,
    jti: str,
    jti_expires_at: datetime,
) -> bool:
    """Claim ``jti`` and set the accounts' not-before time, both or neither; return False if ``jti`` was used."""
    rows = [{"user_id": uid, "username": name, "not_before": not_before, "jti": jti} for uid, name in accounts]
    for attempt in (1, 2):
        try:
            with engine.begin() as conn:
                try:
                    conn.execute(sa.insert(logout_jti).values(jti=jti, expires_at=jti_expires_at))
                except sa.exc.IntegrityError as e:
                    raise _UsedJti from e  # leaves the block: the transaction rolls back
                conn.execute(
                    sa.delete(sign_out_table).where(sign_out_table.c.user_id.in_([r["user_id"] for r in rows]))
                )
                conn.execute(sa.insert(sign_out_table), rows)
                expired = sa.and_(logout_jti.c.expires_at < utcnow(), logout_jti.c.jti != jti)
                conn.execute(sa.delete(logout_jti).where(expired))  # JWTs refused by exp alone by now
            return True
        except _UsedJti:
            return False
        except sa.exc.IntegrityError:  # another replica signed one of these accounts out at the same moment
            if attempt == 2:
                raise
    return False


def claim_grant(engine: Engine, jti: str, expires_at: datetime) -> bool:
    """Record an ID-JAG's ``jti`` as spent, atomically; return False if it already was. Forget expired ones."""
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(grant_jti).values(jti=jti, expires_at=expires_at))
            conn.execute(sa.delete(grant_jti).where(grant_jti.c.expires_at < utcnow()))  # refused by exp alone now
    except sa.exc.IntegrityError:
        return False
    return True


def end_delegation(engine: Engine, accounts: Iterable[tuple[int, str]], agent: str, not_before: datetime) -> None:
    """Record that ``agent`` may no longer act for these accounts with anything Okta vouched for before ``not_before``."""
    rows = [{"user_id": uid, "agent": agent, "username": name, "not_before": not_before} for uid, name in accounts]
    with engine.begin() as conn:
        table = agent_cut.c
        for row in rows:
            current = _aware(
                conn.execute(
                    sa.select(table.not_before).where(table.user_id == row["user_id"], table.agent == agent)
                ).scalar()
            )
            if current is None:
                conn.execute(sa.insert(agent_cut).values(**row))
            elif current < not_before:  # events may arrive out of order: the latest cut holds
                where = sa.and_(table.user_id == row["user_id"], table.agent == agent)
                conn.execute(sa.update(agent_cut).where(where).values(username=row["username"], not_before=not_before))


def delegation_cut(conn: Connection, user_id: int, username: str, agent: str) -> datetime | None:
    """Return when Okta unassigned Airflow user ``user_id`` (still ``username``) from ``agent``'s app, if it did."""
    table = agent_cut.c
    query = sa.select(table.not_before).where(
        table.user_id == user_id, table.agent == agent, table.username == username
    )
    return _aware(conn.execute(query).scalar())


class _UsedJti(Exception):
    """The request JWT's ``jti`` is in ``okta_security_logout_jti`` already."""


def not_before(conn: Connection, user_id: int, username: str) -> datetime | None:
    """Return the time before which Okta signed out Airflow user ``user_id`` (if it is still ``username``)."""
    table = sign_out_table.c
    return _aware(
        conn.execute(sa.select(table.not_before).where(table.user_id == user_id, table.username == username)).scalar()
    )


_LINKED_BY_EMAIL = sa.text(
    "SELECT u.id, u.username FROM ab_user u JOIN okta_security_user l ON l.user_id = u.id AND l.username = u.username "
    "WHERE lower(u.email) = lower(:email)"
)


def linked_accounts(
    conn: Connection, *, okta_sub: str | None = None, email: str | None = None
) -> list[tuple[int, str]]:
    """Return (id, username) of the Airflow accounts linked to Okta user ``okta_sub``, or linked and with ``email``."""
    if okta_sub is not None:
        return [(link.user_id, link.username) for link in links_for_sub(conn, okta_sub)]
    return [(int(r[0]), str(r[1])) for r in conn.execute(_LINKED_BY_EMAIL, {"email": email or ""})]


@dataclass(frozen=True)
class EngineReceipts:
    """The event-hook worker's :class:`okta_security.lifecycle.hook_worker.Receipts` in ``okta_security_event_receipt``."""

    engine: Engine

    def claim(self, event_id: str, event_type: str) -> bool:
        return claim_event(self.engine, event_id, event_type)

    def prune(self) -> int:
        with self.engine.begin() as conn:
            return prune_receipts(conn)


# Airflow's own tables, read with plain SQL where FAB's models are not loaded (the CLI, doctor, declared roles).


def role_names(conn: Connection | Session) -> frozenset[str]:
    """Return the names of Airflow's roles."""
    return frozenset(conn.execute(sa.text("SELECT name FROM ab_role")).scalars())


def dag_ids(conn: Connection | Session) -> frozenset[str]:
    """Return the ids of every DAG in Airflow's ``dag`` table (paused, stale or not)."""
    return frozenset(conn.execute(sa.text("SELECT dag_id FROM dag")).scalars())


def user_role_names(conn: Connection, user_id: int) -> tuple[str, ...]:
    """Return the names of the roles of Airflow user ``user_id``, sorted."""
    query = (
        "SELECT r.name FROM ab_user_role ur JOIN ab_role r ON r.id = ur.role_id WHERE ur.user_id = :id ORDER BY r.name"
    )
    return tuple(conn.execute(sa.text(query), {"id": user_id}).scalars())


class FabModels(Protocol):
    """What :func:`find_user` reads of FAB's security manager: its session and its user and role models."""

    user_model: Any
    role_model: Any

    @property
    def session(self) -> Session: ...


def find_user(sm: FabModels, *, username: str | None = None, email: str | None = None) -> Any:
    """Return FAB's user by username (any case) or email, its roles' permissions loaded only if asked for (FAB loads all)."""
    User, Role = sm.user_model, sm.role_model
    query = sa.select(User).options(selectinload(User.roles).lazyload(Role.permissions))
    if username:
        query = query.where(sa.func.lower(User.username) == sa.func.lower(username))
    elif email:
        query = query.where(User.email == email)
    else:
        return None
    try:
        return sm.session.scalars(query).unique().one_or_none()
    except sa.exc.MultipleResultsFound:
        log.error("More than one Airflow user is %s", loggable(username or email))
        return None
