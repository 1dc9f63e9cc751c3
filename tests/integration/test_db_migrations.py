"""okta_security's tables upgraded by its Alembic migrations, rows kept, on SQLite and PostgreSQL.

A database made by older code has the tables (created with ``create_all``, the evidence columns
``status_at``/``roles_at`` added later by ``ALTER TABLE``, or not yet) and no version of ours. Both
doors must upgrade it without losing a row: ``airflow db migrate`` (Airflow 3 runs the provider's
database manager) and start-up (``ensure_tables``, all Airflow 2.11 has).
"""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from okta_devstack.airflow import AirflowServer
from okta_security.adapter import db, migrations
from tests.conftest import postgres_database

# The schema as c7be8c8's code created it; the first release's lacked the two evidence columns.
_OLD_USER = """CREATE TABLE okta_security_user (
    user_id INTEGER NOT NULL PRIMARY KEY, username VARCHAR(512) NOT NULL, okta_sub VARCHAR(128) NOT NULL,
    groups TEXT, groups_at {ts}, deactivated_by VARCHAR(32), updated_at {ts} NOT NULL{evidence})"""
_OLD_RECEIPT = """CREATE TABLE okta_security_event_receipt (
    event_id VARCHAR(128) NOT NULL PRIMARY KEY, event_type VARCHAR(128) NOT NULL, received_at {ts} NOT NULL)"""
_OLD_INDEXES = (
    "CREATE INDEX ix_okta_security_user_okta_sub ON okta_security_user (okta_sub)",
    "CREATE INDEX ix_okta_security_event_receipt_received_at ON okta_security_event_receipt (received_at)",
)
_T1, _T2 = "2026-11-02 10:00:00", "2026-11-03 11:30:00"
_USERS = [
    {"user_id": 1, "username": "ada", "okta_sub": "00u1", "groups": '["eng", "ops"]', "groups_at": _T1,
     "deactivated_by": None, "updated_at": _T1},
    {"user_id": 7, "username": "bob", "okta_sub": "00u7", "groups": None, "groups_at": None,
     "deactivated_by": "event_hook", "updated_at": _T2},
]  # fmt: skip
_T2_AT = datetime.fromisoformat(_T2)
_RECEIPTS = [{"event_id": "evt1", "event_type": "user.lifecycle.deactivate", "received_at": _T2}]


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'airflow.db'}"
    else:
        yield from postgres_database()


def _make_old_tables(engine: sa.Engine, *, evidence: bool) -> None:
    """Create okta_security's tables as older code did, with rows in them."""
    ts = "TIMESTAMP WITH TIME ZONE" if engine.dialect.name == "postgresql" else "DATETIME"
    extra = f", status_at {ts}, roles_at {ts}" if evidence else ""
    with engine.begin() as conn:
        conn.execute(sa.text(_OLD_USER.format(ts=ts, evidence=extra)))
        conn.execute(sa.text(_OLD_RECEIPT.format(ts=ts)))
        for statement in _OLD_INDEXES:
            conn.execute(sa.text(statement))
        columns = ", ".join(_USERS[0])
        conn.execute(
            sa.text(f"INSERT INTO okta_security_user ({columns}) VALUES ({', '.join(':' + c for c in _USERS[0])})"),
            _USERS,
        )
        if evidence:
            conn.execute(
                sa.text("UPDATE okta_security_user SET status_at = :t, roles_at = :t WHERE user_id = 7"), {"t": _T2}
            )
        conn.execute(
            sa.text("INSERT INTO okta_security_event_receipt VALUES (:event_id, :event_type, :received_at)"), _RECEIPTS
        )


def _naive(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=None) if value is not None else None


def _assert_rows_kept(engine: sa.Engine, *, evidence: bool) -> None:
    with engine.connect() as conn:
        assert migrations.current(conn) == migrations.head()
        links = {link.user_id: link for link in db.all_links(conn)}
        receipts = conn.execute(sa.select(db.event_receipt)).mappings().all()
    assert sorted(links) == [1, 7]
    ada, bob = links[1], links[7]
    assert (ada.username, ada.okta_sub, ada.groups, ada.deactivated_by) == ("ada", "00u1", ("eng", "ops"), None)
    assert (bob.username, bob.okta_sub, bob.groups, bob.deactivated_by) == ("bob", "00u7", None, "event_hook")
    assert (_naive(ada.groups_at), _naive(ada.updated_at)) == (datetime.fromisoformat(_T1),) * 2
    expected = datetime.fromisoformat(_T2) if evidence else None
    assert (_naive(bob.status_at), _naive(bob.roles_at), _naive(bob.updated_at)) == (expected, expected, _T2_AT)
    assert (ada.status_at, ada.roles_at) == (None, None)
    assert [(r["event_id"], r["event_type"]) for r in receipts] == [("evt1", "user.lifecycle.deactivate")]
    columns = {c["name"] for c in sa.inspect(engine).get_columns("okta_security_user")}
    assert {"status_at", "roles_at"} <= columns


@pytest.mark.parametrize("evidence", [True, False], ids=["c7be8c8", "before-evidence-times"])
def test_start_up_upgrades_an_older_database_keeping_its_rows(db_url, evidence):
    engine = sa.create_engine(db_url)
    try:
        _make_old_tables(engine, evidence=evidence)
        db._ensured.discard(str(engine.url))
        db.ensure_tables(engine)
        _assert_rows_kept(engine, evidence=evidence)
        migrations.upgrade(engine)  # at head: nothing to do, nothing lost
        _assert_rows_kept(engine, evidence=evidence)

        migrations.downgrade(engine, "base")  # the first revision's downgrade drops the tables and the version
        inspector = sa.inspect(engine)
        assert not inspector.has_table("okta_security_user")
        assert not inspector.has_table("okta_security_event_receipt")
        with engine.connect() as conn:
            assert migrations.current(conn) is None
    finally:
        db._ensured.discard(str(engine.url))
        engine.dispose()


def test_airflow_db_migrate_upgrades_an_older_database_and_reset_recreates(db_url, tmp_path):
    server = AirflowServer(tmp_path / "home", okta_env={}, db_url=db_url)
    server.prepare(migrate=False)
    server.migrate()  # Airflow's and FAB's tables, and ours through the provider's database manager
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert migrations.current(conn) == migrations.head()
        # Now make it a database older code left: our tables as it made them, with rows, no version of ours.
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {migrations.VERSION_TABLE}"))
            conn.execute(sa.text("DROP TABLE okta_security_user"))
            conn.execute(sa.text("DROP TABLE okta_security_event_receipt"))
        _make_old_tables(engine, evidence=False)

        server.migrate()
        _assert_rows_kept(engine, evidence=False)
        assert server.airflow("db", "check-migrations", "-t", "0").returncode == 0

        server.airflow("db", "reset", "--yes")  # drops ours with Airflow's, then creates them again
        with engine.connect() as conn:
            assert migrations.current(conn) == migrations.head()
            assert conn.execute(sa.text("SELECT count(*) FROM okta_security_user")).scalar() == 0
    finally:
        engine.dispose()
