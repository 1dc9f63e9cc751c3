"""A refused sign-in's account clean-up never turns the refusal into an error."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import sqlalchemy as sa

from okta_security.adapter.login_accounts import FabAccounts
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
        accounts = FabAccounts(SimpleNamespace(okta_engine=unreachable))  # type: ignore[arg-type]
        outcomes = accounts.retire_unmapped(CAROL, mapping, SignInEvidence.from_iat(0))
    finally:
        logger.removeHandler(seen)

    assert outcomes == ["failed"]
    [record] = [r for r in seen.records if r.levelno == logging.ERROR]
    assert "carol.nobody@example.com" in record.getMessage()
    assert "no_mapped_role" in record.getMessage()
