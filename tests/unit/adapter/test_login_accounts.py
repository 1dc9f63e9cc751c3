"""A refused sign-in's account clean-up never turns the refusal into an error."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import sqlalchemy as sa

from okta_security.adapter.account_changes import EngineAccounts
from okta_security.adapter.login_accounts import FabAccounts
from okta_security.lifecycle.changes import OktaChanges
from okta_security.lifecycle.evidence import SignInEvidence
from okta_security.mapping.rules import parse_mapping
from okta_security.oidc.identity import OktaIdentity

CAROL = OktaIdentity(
    sub="00unobody00000000003",
    username="carol.nobody@example.com",
    first_name="Carol",
    last_name="Nobody",
    email="carol.nobody@example.com",
    groups=("marketing",),
    groups_source="id_token",
)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_database_that_does_not_answer_is_logged_and_the_refusal_stands(tmp_path) -> None:
    unreachable = sa.create_engine(f"sqlite:///{tmp_path}/no/such/dir/airflow.db")
    mapping = parse_mapping("default_role: null\nmappings:\n  airflow-admins: [Admin]\n", source="mapping.yaml")
    # On the module's own logger: importing Airflow's models reconfigures the root logger's handlers.
    logger, seen = logging.getLogger("okta_security.adapter.login_accounts"), Records()
    logger.addHandler(seen)
    try:
        changes = OktaChanges(EngineAccounts(unreachable))
        accounts = FabAccounts(SimpleNamespace(okta_engine=unreachable, okta_changes=changes))  # type: ignore[arg-type]
        outcomes = accounts.deactivate_unmapped(CAROL, mapping, SignInEvidence.from_iat(0))
    finally:
        logger.removeHandler(seen)

    assert outcomes == ["failed"]
    [record] = [r for r in seen.records if r.levelno == logging.ERROR]
    assert "carol.nobody@example.com" in record.getMessage()
    assert "no_mapped_role" in record.getMessage()


def test_a_token_exchanged_again_writes_no_link_row_but_newer_groups_do():
    from datetime import datetime, timezone

    from okta_security.lifecycle.evidence import AccountTimes
    from okta_security.login.account_plan import AccountPlan, LinkSnapshot, link_changes

    at = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
    link = LinkSnapshot(CAROL.sub, None, AccountTimes(groups_at=at), CAROL.groups)
    plan = AccountPlan("update", 7, CAROL.username, "C", "N", CAROL.email, ("Viewer",), link=link)
    same = SignInEvidence(issued_at=at, groups_at=at)
    assert not link_changes(plan, CAROL, same)
    assert link_changes(plan, CAROL, SignInEvidence(issued_at=at, groups_at=at.replace(minute=1)))
    assert link_changes(AccountPlan("update", 7, CAROL.username, "C", "N", CAROL.email, ("Viewer",)), CAROL, same)
    marked = AccountPlan(
        "update", 7, CAROL.username, "C", "N", CAROL.email, ("Viewer",), link=LinkSnapshot(CAROL.sub, "sync")
    )
    assert link_changes(marked, CAROL, same)
