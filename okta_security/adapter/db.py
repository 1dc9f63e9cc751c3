"""okta_security's small tables in Airflow's metadata database, and access to them.

FAB's ``ab_user`` has no room for what leaver handling needs, so okta_security keeps it beside:

- ``okta_security_user`` — one row per Airflow user that came from Okta: the Okta ``sub`` (the
  Okta user id, stable across renames of login and email), the groups last seen, whether
  okta_security itself deactivated the account (``deactivated_by``), and the time of the evidence
  behind the account's status and roles (:mod:`okta_security.lifecycle.evidence`). ``sync-users`` and
  the next login may reactivate an account that okta_security deactivated, with evidence at least
  as new as the deactivation's, but never one an Airflow administrator deactivated or changed
  since (:mod:`okta_security.adapter.admin_edits` clears the marker when they do).
  No foreign key to ``ab_user``: deleting a user in FAB's UI must keep working on PostgreSQL;
  rows are matched on ``user_id`` *and* ``username`` so a reused id never inherits a link.
- ``okta_security_sign_out`` and ``okta_security_logout_jti`` — Okta's Universal Logout: each
  account's "not before" time and the request JWTs already used (see
  :mod:`okta_security.adapter.universal_logout`).
- ``okta_security_event_receipt`` — the ids of Okta event-hook events already taken, one
  primary key each: ``INSERT`` is the atomic claim, so with several webserver replicas behind a
  load balancer exactly one of them acts on a redelivered event.

Both are created and upgraded by okta_security's Alembic migrations
(:mod:`okta_security.adapter.migrations`): ``airflow db migrate`` runs them on Airflow 3, and
:func:`ensure_tables` at start-up (Airflow 2.11, or a database nobody migrated). Nothing else in
Airflow's schema is touched.
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

RECEIPT_RETENTION = timedelta(days=7)  # Okta retries a delivery once, within seconds; a week is ample

_ensured: set[str] = set()


def utcnow() -> datetime:
    """Return the current time, timezone-aware UTC."""
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
        """Return the evidence times the account reflects.

        A marker set before these times were recorded counts from the row's last update: the
        deactivation cannot be older than that.
        """
        status_at = self.status_at
        if status_at is None and self.deactivated_by is not None:
            status_at = self.updated_at
        return AccountTimes(status_at=status_at, groups_at=self.groups_at, roles_at=self.roles_at)


def _link(row: RowMapping) -> UserLink:
    raw = row["groups"]
    groups = tuple(json.loads(raw)) if isinstance(raw, str) else None
    return UserLink(
        user_id=int(row["user_id"]),
        username=str(row["username"]),
        okta_sub=str(row["okta_sub"]),
        groups=groups,
        groups_at=_aware(row["groups_at"]),
        deactivated_by=row["deactivated_by"],
        status_at=_aware(row.get("status_at")),
        roles_at=_aware(row.get("roles_at")),
        updated_at=_aware(row["updated_at"]),
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite drops the zone
        return value.replace(tzinfo=timezone.utc)
    return value


def all_links(conn: Connection) -> list[UserLink]:
    """Return every link row."""
    return [_link(r) for r in conn.execute(sa.select(user_link)).mappings()]


def links_for_sub(conn: Connection, sub: str) -> list[UserLink]:
    """Return the link rows of Okta user ``sub`` (usually one)."""
    rows = conn.execute(sa.select(user_link).where(user_link.c.okta_sub == sub)).mappings()
    return [_link(r) for r in rows]


def link_for_user(conn: Connection, user_id: int, username: str) -> UserLink | None:
    """Return the link of Airflow user ``user_id`` if it belongs to ``username``."""
    row = (
        conn.execute(sa.select(user_link).where(user_link.c.user_id == user_id, user_link.c.username == username))
        .mappings()
        .first()
    )
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
    """Return a link row's new values.

    ``groups_at``: the evidence time of ``groups`` (a token's ``iat``, a Groups API reading; default
    now); ``status_at``: the evidence time of a reactivation, when the sign-in made one.
    """
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


def upsert_link(engine: Engine, *, user_id: int, **fields: Any) -> None:
    """Create or replace the link of ``user_id`` (fields as :func:`link_values` takes) in a transaction of its own."""
    upsert_link_values(engine, user_id, link_values(**fields))


def upsert_link_values(engine: Engine, user_id: int, values: dict[str, object]) -> None:
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
    """Record who deactivated ``user_id`` (None after a reactivation) and the evidence times of the change.

    ``status_at``: the evidence behind a deactivation or reactivation; ``roles_cut_at``: the evidence
    behind roles taken away (kept if an earlier change's was newer).
    """
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
    """Record an administrator's edit of ``user_id``: okta_security's marker no longer speaks for the account.

    A change of activity clears the marker (an account an administrator reactivated or deactivated is
    theirs: never reactivated by okta_security) and dates the status; a change of roles dates the
    roles, so only evidence newer than the edit can give back a role it took away. Return whether
    the user is linked to an Okta user at all.
    """
    values: dict[str, object] = {"updated_at": at}
    if status:
        values.update(deactivated_by=None, status_at=at)
    if roles:
        values["roles_at"] = at
    return bool(conn.execute(sa.update(user_link).where(user_link.c.user_id == user_id).values(**values)).rowcount)


def set_groups(conn: Connection, user_id: int, groups: Iterable[str], at: datetime) -> None:
    """Remember ``groups`` as the user's Okta groups as of ``at``."""
    conn.execute(
        sa.update(user_link)
        .where(user_link.c.user_id == user_id)
        .values(groups=json.dumps(sorted(set(groups))), groups_at=at, updated_at=utcnow())
    )


def claim_event(engine: Engine, event_id: str, event_type: str, *, now: datetime | None = None) -> bool:
    """Record ``event_id`` as taken, atomically; return False if it already was (a redelivery)."""
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(event_receipt).values(
                    event_id=event_id[:128], event_type=event_type[:128], received_at=now or utcnow()
                )
            )
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
    """Claim ``jti`` and set the accounts' not-before time in one transaction; return False if ``jti`` was used.

    Either both happen or neither: a refused replay changes nothing, and a failed write leaves the
    ``jti`` free for Okta's retry.
    """
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


class _UsedJti(Exception):
    """The request JWT's ``jti`` is in ``okta_security_logout_jti`` already."""


def not_before(conn: Connection, user_id: int, username: str) -> datetime | None:
    """Return the time before which Okta signed out Airflow user ``user_id`` (if it is still ``username``)."""
    value = conn.execute(
        sa.select(sign_out_table.c.not_before).where(
            sign_out_table.c.user_id == user_id, sign_out_table.c.username == username
        )
    ).scalar()
    return _aware(value)


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


# ---------------------------------------------------------------------------------------------
# Airflow's own tables, read and written with plain SQL where FAB's models are not loaded (the CLI,
# doctor, sync-users, declared roles): every such statement of okta_security is here, once.

_ROLE_NAMES = sa.text("SELECT name FROM ab_role")
_DAG_IDS = sa.text("SELECT dag_id FROM dag")
_USER_BY_NAME = sa.text("SELECT id, username, email, active FROM ab_user WHERE username = :u")
_USER_BY_NAME_CI = sa.text("SELECT id, username, email, active FROM ab_user WHERE lower(username) = lower(:u)")
_USER_ROLE_NAMES = sa.text(
    "SELECT r.name FROM ab_user_role ur JOIN ab_role r ON r.id = ur.role_id WHERE ur.user_id = :id ORDER BY r.name"
)
_LEGACY_USERS = sa.text("SELECT id, username, email FROM ab_user WHERE username LIKE 'okta\\_%' ESCAPE '\\'")
_ALL_USERS = sa.text("SELECT id, username FROM ab_user")
_RENAME_USER = sa.text("UPDATE ab_user SET username = :new WHERE id = :id AND username = :old")


def role_names(conn: Connection | Session) -> frozenset[str]:
    """Return the names of Airflow's roles."""
    return frozenset(conn.execute(_ROLE_NAMES).scalars())


def dag_ids(conn: Connection | Session) -> frozenset[str]:
    """Return the ids of every DAG in Airflow's ``dag`` table (paused, stale or not)."""
    return frozenset(conn.execute(_DAG_IDS).scalars())


def users_named(conn: Connection, username: str) -> list[Any]:
    """Return the accounts called ``username`` exactly, else those that match it case-insensitively."""
    return list(
        conn.execute(_USER_BY_NAME, {"u": username}).all() or conn.execute(_USER_BY_NAME_CI, {"u": username}).all()
    )


def user_role_names(conn: Connection, user_id: int) -> tuple[str, ...]:
    """Return the names of the roles of Airflow user ``user_id``, sorted."""
    return tuple(conn.execute(_USER_ROLE_NAMES, {"id": user_id}).scalars())


def legacy_and_all_users(conn: Connection) -> tuple[list[Any], list[Any]]:
    """Return (FAB's ``okta_…`` accounts with their emails, every account's id and name)."""
    return list(conn.execute(_LEGACY_USERS)), list(conn.execute(_ALL_USERS))


def rename_user(conn: Connection, user_id: int, old: str, new: str) -> bool:
    """Rename ``old`` to ``new`` if the account still has the old name; return whether it did."""
    return bool(conn.execute(_RENAME_USER, {"new": new, "id": user_id, "old": old}).rowcount)


class FabModels(Protocol):
    """What :func:`find_user` reads of FAB's security manager: its session and its user and role models."""

    user_model: Any
    role_model: Any

    @property
    def session(self) -> Session:
        """Return FAB's (scoped) session."""
        ...


def find_user(sm: FabModels, *, username: str | None = None, email: str | None = None) -> Any:
    """Return FAB's user by username (any case) or email, as ``find_user`` does, its roles without their permissions.

    A sign-in or a token exchange needs the roles' names only; FAB's model loads every permission of
    every role with the user (hundreds for Admin), the largest cost of a login. They load if asked for.
    """
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
