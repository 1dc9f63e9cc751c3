"""Tests for okta_security.adapter.universal_logout: the store on SQLite (migrated for real) and each process's view of it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from okta_security.adapter import db
from okta_security.adapter.universal_logout import EngineLogoutStore, SignOuts
from okta_security.lifecycle.universal_logout import LogoutSubject, SignedOutAccount

T0 = datetime(2026, 12, 7, 12, 0, 0, 500_000, tzinfo=timezone.utc)
FUTURE = datetime(2999, 1, 1, tzinfo=timezone.utc)  # a jti kept until then
LATER = T0 + timedelta(minutes=5)


@pytest.fixture
def engine(tmp_path):
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'airflow.db'}")
    db.ensure_tables(eng)  # okta_security's migrations, up to the newest
    with eng.begin() as conn:
        conn.execute(sa.text("CREATE TABLE ab_user (id INTEGER PRIMARY KEY, username TEXT, email TEXT)"))
        conn.execute(sa.text("INSERT INTO ab_user VALUES (7, 'ann', 'Ann@Example.com'), (8, 'bob', 'bob@x.com')"))
    db.upsert_link(eng, 7, db.link_values(username="ann", okta_sub="00uann"))
    yield eng
    eng.dispose()


def test_the_migration_creates_the_tables(engine):
    inspector = sa.inspect(engine)
    assert inspector.has_table("okta_security_sign_out")
    assert inspector.has_table("okta_security_logout_jti")


@pytest.mark.parametrize(
    ("subject", "found"),
    [
        (LogoutSubject("iss_sub", "00uann", iss="https://org"), [SignedOutAccount(7, "ann")]),
        (LogoutSubject("email", "ann@example.COM"), [SignedOutAccount(7, "ann")]),  # any case
        (LogoutSubject("email", "bob@x.com"), []),  # an account no Okta user is linked to
        (LogoutSubject("iss_sub", "00unobody", iss="https://org"), []),
    ],
)
def test_accounts_are_the_okta_linked_ones(engine, subject, found):
    assert EngineLogoutStore(lambda: engine).accounts_for(subject) == found


def test_a_jti_is_taken_once_and_a_refused_replay_changes_nothing(engine):
    store = EngineLogoutStore(lambda: engine)
    ann = [SignedOutAccount(7, "ann")]
    assert store.sign_out(ann, not_before=T0, jti="j1", jti_expires_at=FUTURE)
    assert not store.sign_out(ann, not_before=LATER, jti="j1", jti_expires_at=FUTURE)
    with engine.connect() as conn:
        assert db.not_before(conn, 7, "ann") == T0
        assert db.not_before(conn, 7, "someone-else") is None  # a reused id inherits nothing
    assert store.sign_out(ann, not_before=LATER, jti="j2", jti_expires_at=FUTURE)  # a later request moves it
    with engine.connect() as conn:
        assert db.not_before(conn, 7, "ann") == LATER


def test_used_jtis_are_forgotten_once_expired(engine):
    store = EngineLogoutStore(lambda: engine)
    ann = [SignedOutAccount(7, "ann")]
    store.sign_out(ann, not_before=T0, jti="old", jti_expires_at=datetime(2000, 1, 1, tzinfo=timezone.utc))
    store.sign_out(ann, not_before=T0, jti="new", jti_expires_at=FUTURE)
    with engine.connect() as conn:
        assert set(conn.execute(sa.text("SELECT jti FROM okta_security_logout_jti")).scalars()) == {"new"}
    # A jti whose time is up is still taken by the request that brings it (it was verified a moment ago).
    assert store.sign_out(ann, not_before=T0, jti="late", jti_expires_at=datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert not store.sign_out(ann, not_before=T0, jti="late", jti_expires_at=FUTURE)


def test_each_process_reads_an_account_at_most_once_per_interval(engine):
    reads = []

    def counted():
        reads.append(1)
        return engine

    sign_outs = SignOuts(counted, ttl=3600)
    ann = SimpleNamespace(id=7, username="ann")
    assert not sign_outs.began_before(ann, T0.timestamp(), whole_seconds=False)
    db.sign_out(engine, [(7, "ann")], not_before=T0, jti="j", jti_expires_at=FUTURE)
    assert not sign_outs.began_before(ann, T0.timestamp() - 1, whole_seconds=False)  # the cached "never"
    assert len(reads) == 1
    sign_outs.forget(7)
    assert sign_outs.began_before(ann, T0.timestamp() - 1, whole_seconds=False)
    assert not sign_outs.began_before(ann, T0.timestamp() + 0.1, whole_seconds=False)
    assert sign_outs.began_before(ann, int(T0.timestamp()), whole_seconds=True)  # an iat of the same second
    assert sign_outs.began_before(ann, None, whole_seconds=False)  # a session with no sign-in stamp
    assert len(reads) == 2


def test_a_database_outage_signs_nobody_out(tmp_path):
    broken = sa.create_engine(f"sqlite:///{tmp_path / 'no-tables.db'}")  # the query fails: no such table
    try:
        assert not SignOuts(lambda: broken).began_before(
            SimpleNamespace(id=7, username="ann"), None, whole_seconds=False
        )
    finally:
        broken.dispose()
