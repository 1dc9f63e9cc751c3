"""Account changes and the event hook worker on FAB's real tables (SQLite, no server): conflicts, stale events."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from okta_security import audit
from okta_security.adapter import db
from okta_security.adapter.account_changes import EngineAccounts
from okta_security.lifecycle.changes import OktaChanges
from okta_security.lifecycle.event_hooks import classify
from okta_security.lifecycle.hook_worker import EventHookWorker
from okta_security.lifecycle.okta_directory import OktaDirectory
from okta_security.lifecycle.user_sync import OktaSnapshot, plan_account
from okta_security.mapping.store import MappingStore
from okta_security.settings.loader import OktaSettings, Secret

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from okta_security.okta_api.client import OktaApiClient

SUB = "00uviewer00000000002"
CLIENT_ID = "airflow-local"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    from airflow.providers.fab.auth_manager.models import Role, User, model_metadata

    eng = sa.create_engine(f"sqlite:///{tmp_path / 'airflow.db'}")
    model_metadata.create_all(eng, tables=[t for t in model_metadata.sorted_tables if t.name.startswith("ab_")])
    db.ensure_tables(eng)
    with Session(eng) as s, s.begin():
        roles = {name: Role(name=name) for name in ("Admin", "Op", "Viewer")}
        s.add_all(roles.values())
        s.add(
            User(
                username="bob",
                first_name="Bob",
                last_name="V",
                email="bob@example.com",
                active=True,
                roles=[roles["Op"], roles["Viewer"]],
            )
        )
        s.add(User(username="local", first_name="L", last_name="L", email="l@example.com", active=True))
    db.upsert_link(
        eng, 1, db.link_values(username="bob", okta_sub=SUB, groups=["airflow-ops", "airflow-viewers", "Everyone"])
    )
    yield eng
    eng.dispose()


@pytest.fixture
def events() -> Iterator[list[audit.AuditRecord]]:
    seen: list[audit.AuditRecord] = []
    audit.register_sink("test", seen.append)
    yield seen
    audit.unregister_sink("test")


@pytest.fixture
def worker(engine: sa.Engine, tmp_path: Path) -> EventHookWorker:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "default_role: null\nmappings:\n  airflow-admins: [Admin]\n  airflow-ops: [Op]\n  airflow-viewers: [Viewer]\n"
    )
    settings = OktaSettings(
        issuer="http://127.0.0.1:1/oauth2/default",
        client_id=CLIENT_ID,
        client_secret=Secret(lambda: "x"),
        role_mapping_file=str(mapping),
    )
    changes = OktaChanges(EngineAccounts(engine), groups_filter=settings.groups_filter)
    return EventHookWorker(db.EngineReceipts(engine), changes, MappingStore(mapping).current)


def state(engine: sa.Engine) -> tuple[bool, set[str], str | None]:
    [account] = EngineAccounts(engine).linked_to(SUB)
    return account.active, set(account.roles), account.deactivated_by


def hook_event(event_type: str, *targets: dict, uuid: str = "e1", published: str = "2999-01-01T00:00:00.000Z"):
    raw = {
        "uuid": uuid,
        "eventType": event_type,
        "published": published,
        "target": [{"id": SUB, "type": "User", "alternateId": "bob@example.com"}, *targets],
    }
    return classify(raw, client_id=CLIENT_ID)


def group(name: str) -> dict:
    return {"type": "UserGroup", "displayName": name, "id": "00g" + name}


def test_load_accounts_counts_unlinked_users_as_unmanaged(engine: sa.Engine):
    accounts, unmanaged = EngineAccounts(engine).all_linked()
    assert [(a.username, a.okta_sub, a.roles) for a in accounts] == [("bob", SUB, frozenset({"Op", "Viewer"}))]
    assert unmanaged == 1


def test_deactivation_is_recorded_and_audited(engine: sa.Engine, events: list[audit.AuditRecord]):
    [account] = EngineAccounts(engine).linked_to(SUB)
    change = plan_account(account, OktaSnapshot(statuses={SUB: "SUSPENDED"}, groups={}), worker_mapping())
    assert EngineAccounts(engine).apply(change, trigger="sync").outcome == "applied"
    assert state(engine) == (False, {"Op", "Viewer"}, "sync")
    [record] = events
    assert (record.event, record.owner, record.fields["reason"]) == ("user.deactivated", "bob", "okta_suspended")


def test_a_change_made_meanwhile_is_a_conflict_and_nothing_is_written(
    engine: sa.Engine, events: list[audit.AuditRecord]
):
    [account] = EngineAccounts(engine).linked_to(SUB)
    change = plan_account(
        account, OktaSnapshot(statuses={SUB: "ACTIVE"}, groups={SUB: frozenset({"airflow-admins"})}), worker_mapping()
    )
    stale = replace(change, roles_before=("Viewer",))  # the plan saw other roles than the row has now
    assert EngineAccounts(engine).apply(stale, trigger="sync").outcome == "conflict"
    assert state(engine) == (True, {"Op", "Viewer"}, None)
    assert events == []


def test_a_role_missing_in_airflow_is_reported_not_half_applied(engine: sa.Engine):
    [account] = EngineAccounts(engine).linked_to(SUB)
    change = plan_account(
        account, OktaSnapshot(statuses={SUB: "ACTIVE"}, groups={SUB: frozenset({"airflow-ops"})}), worker_mapping()
    )
    result = EngineAccounts(engine).apply(
        replace(change, action="set_roles", roles_after=("Op", "Ghost")), trigger="sync"
    )
    assert (result.outcome, result.detail) == ("missing_role", "roles not in Airflow: Ghost")
    assert state(engine) == (True, {"Op", "Viewer"}, None)


def test_worker_applies_removals_and_defers_additions_without_the_api(worker: EventHookWorker, engine: sa.Engine):
    with engine.connect() as conn:
        seen_at = db.link_for_user(conn, 1, "bob").groups_at
    assert worker.process(hook_event("group.user_membership.remove", group("airflow-ops"), uuid="a")) == "applied"
    assert state(engine) == (True, {"Viewer"}, None)
    # Anyone holding the hook secret could send this: it waits for Okta's own word (login, sync-users).
    assert worker.process(hook_event("group.user_membership.add", group("airflow-admins"), uuid="b")) == "deferred"
    assert state(engine) == (True, {"Viewer"}, None)
    with engine.connect() as conn:
        link = db.link_for_user(conn, 1, "bob")
    assert set(link.groups) == {"airflow-viewers", "Everyone"}
    assert link.groups_at == seen_at  # an event (here published in 2999) never moves "seen at"


def test_an_event_without_uuid_is_claimed_by_its_content(worker: EventHookWorker, engine: sa.Engine):
    bare = hook_event("user.lifecycle.suspend", uuid="")
    assert worker.process(bare) == "applied"
    with Session(engine) as s, s.begin():
        s.execute(sa.text("UPDATE ab_user SET active = 1 WHERE username = 'bob'"))
    assert worker.process(bare) == "duplicate"
    assert state(engine)[0] is True


def test_worker_ignores_duplicates_and_stale_events(worker: EventHookWorker, engine: sa.Engine):
    first = hook_event("group.user_membership.remove", group("airflow-ops"), uuid="same")
    assert worker.process(first) == "applied"
    assert worker.process(first) == "duplicate"
    old = hook_event(
        "group.user_membership.add", group("airflow-ops"), uuid="old", published="2000-01-01T00:00:00.000Z"
    )
    assert worker.process(old) == "stale"  # Okta published it before the groups we hold were seen
    assert state(engine) == (True, {"Viewer"}, None)


def test_worker_deactivates_on_lifecycle_events_and_only_for_our_app(worker: EventHookWorker, engine: sa.Engine):
    other = hook_event("application.user_membership.remove", {"type": "AppInstance", "id": "0oaOther"}, uuid="x")
    assert worker.process(other) == "ignored"
    assert state(engine)[0] is True
    assert worker.process(hook_event("user.lifecycle.suspend", uuid="y")) == "applied"
    assert state(engine) == (False, {"Op", "Viewer"}, "event_hook")


def test_worker_without_api_never_reactivates(worker: EventHookWorker, engine: sa.Engine):
    worker.process(hook_event("user.lifecycle.suspend", uuid="s"))
    assert worker.process(hook_event("group.user_membership.add", group("airflow-admins"), uuid="g")) == "deferred"
    assert worker.process(hook_event("group.user_membership.remove", group("Everyone"), uuid="h")) == "unchanged"
    assert state(engine)[0] is False


def test_worker_prunes_old_receipts(worker: EventHookWorker, engine: sa.Engine):
    db.claim_event(engine, "ancient", "t", now=db.utcnow() - db.RECEIPT_RETENTION - timedelta(days=1))
    worker.process(hook_event("user.lifecycle.suspend", uuid="new"))
    assert db.claim_event(engine, "ancient", "t") is True  # forgotten, so claimable again


def worker_mapping():
    from okta_security.mapping.rules import parse_mapping

    return parse_mapping(
        "default_role: null\nmappings:\n  airflow-admins: [Admin]\n  airflow-ops: [Op]\n  airflow-viewers: [Viewer]\n",
        source="m.yaml",
    )


@pytest.fixture
def okta(tmp_path: Path) -> Iterator[tuple[str, OktaApiClient]]:
    """The local IdP (in a thread) with bob, and a Management API client for it."""
    import yaml

    from okta_local_idp.server import serve_in_thread
    from okta_security.okta_api.auth import SswsAuth
    from okta_security.okta_api.client import HttpPolicy, OktaApiClient, OktaHttp

    config = tmp_path / "idp.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"api_token": "tok"},
                "clients": [{"client_id": CLIENT_ID, "client_secret": "s", "redirect_uris": ["http://127.0.0.1:1/cb"]}],
                "users": [{"id": SUB, "login": "bob@example.com", "password": "p", "groups": ["airflow-viewers"]}],
            }
        )
    )
    with serve_in_thread(config) as idp:
        client = OktaApiClient(idp.base_url, SswsAuth(lambda: "tok"), OktaHttp(HttpPolicy()))
        yield idp.base_url, client
        client.close()


def test_worker_with_api_reads_fresh_groups_and_reactivates_returners(
    worker: EventHookWorker, engine: sa.Engine, okta: tuple[str, OktaApiClient]
):
    import requests

    base_url, client = okta
    worker.changes.directory = OktaDirectory(client)
    # The event names airflow-admins, but Okta's current answer (viewers only) is what counts.
    assert worker.process(hook_event("group.user_membership.add", group("airflow-admins"), uuid="1")) == "applied"
    assert state(engine) == (True, {"Viewer"}, None)

    auth = {"Authorization": "SSWS tok"}
    requests.post(f"{base_url}/api/v1/users/{SUB}/lifecycle/suspend", headers=auth, timeout=10)
    worker.process(hook_event("user.lifecycle.suspend", uuid="2"))
    assert state(engine) == (False, {"Viewer"}, "event_hook")
    # Still suspended in Okta: a membership event must not bring the account back.
    assert worker.process(hook_event("group.user_membership.add", group("airflow-ops"), uuid="3")) == "unchanged"
    requests.post(f"{base_url}/api/v1/users/{SUB}/lifecycle/unsuspend", headers=auth, timeout=10)
    assert worker.process(hook_event("group.user_membership.add", group("airflow-ops"), uuid="4")) == "applied"
    assert state(engine) == (True, {"Viewer"}, None)
