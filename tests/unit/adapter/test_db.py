"""Tests for okta_security.adapter.db: the link and event-receipt tables on SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from okta_security.adapter import db


@pytest.fixture
def engine(tmp_path):
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'airflow.db'}")
    db.ensure_tables(eng)
    yield eng
    eng.dispose()


def test_ensure_tables_is_idempotent(engine):
    db._ensured.clear()
    db.ensure_tables(engine)
    inspector = sa.inspect(engine)
    assert inspector.has_table("okta_security_user")
    assert inspector.has_table("okta_security_event_receipt")


def test_upsert_link_creates_then_replaces(engine):
    db.upsert_link(engine, 5, db.link_values(username="bob", okta_sub="00u5", groups=["a", "b"]))
    with engine.begin() as conn:
        db.set_deactivated_by(conn, 5, "sync")
        link = db.link_for_user(conn, 5, "bob")
    assert link is not None
    assert link.deactivated_by == "sync"
    assert link.groups == ("a", "b")
    assert link.groups_at is not None
    assert link.groups_at.tzinfo is not None

    db.upsert_link(engine, 5, db.link_values(username="bob", okta_sub="00u5", groups=["c"]))  # a login clears it
    with engine.connect() as conn:
        link = db.link_for_user(conn, 5, "bob")
        assert link.deactivated_by is None
        assert link.groups == ("c",)
        assert [link.user_id for link in db.links_for_sub(conn, "00u5")] == [5]


def test_link_of_a_reused_user_id_is_not_inherited(engine):
    db.upsert_link(engine, 5, db.link_values(username="bob", okta_sub="00u5"))
    with engine.connect() as conn:
        assert db.link_for_user(conn, 5, "mallory") is None


def test_claim_event_is_atomic_once(engine):
    assert db.claim_event(engine, "uuid-1", "user.lifecycle.deactivate") is True
    assert db.claim_event(engine, "uuid-1", "user.lifecycle.deactivate") is False
    assert db.claim_event(engine, "uuid-2", "user.lifecycle.deactivate") is True


def test_old_receipts_are_pruned(engine):
    now = db.utcnow()
    db.claim_event(engine, "old", "t", now=now - db.RECEIPT_RETENTION - timedelta(seconds=1))
    db.claim_event(engine, "new", "t", now=now)
    with engine.begin() as conn:
        assert db.prune_receipts(conn, now=now) == 1
    assert db.claim_event(engine, "new", "t") is False
