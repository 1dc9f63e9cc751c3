"""AI agents: the ID-JAGs already spent, and the delegations Okta ended.

Revision ID: 3c9d5e1f7a20
Revises: 8e4b2a7c1d3f

- ``okta_security_grant_jti`` — the ``jti`` of every ID-JAG an agent presented (primary key: the
  ``INSERT`` is the atomic claim, so a grant is spent once across replicas), kept until it has
  expired anyway.
- ``okta_security_agent_cut`` — per account and agent, the time Okta unassigned the person from the
  agent's app: that agent's delegated tokens for them, vouched for before it, are refused.

The schema is written out here, frozen, as in the first revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "3c9d5e1f7a20"
down_revision = "8e4b2a7c1d3f"
branch_labels = None
depends_on = None

_schema = sa.MetaData()
_grant_jti = sa.Table(
    "okta_security_grant_jti",
    _schema,
    sa.Column("jti", sa.String(128), primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

_agent_cut = sa.Table(
    "okta_security_agent_cut",
    _schema,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("agent", sa.String(128), primary_key=True),
    sa.Column("username", sa.String(512), nullable=False),
    sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
)


def upgrade() -> None:
    _schema.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    _schema.drop_all(op.get_bind(), checkfirst=True)
