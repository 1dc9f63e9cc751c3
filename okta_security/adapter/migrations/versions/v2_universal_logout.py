"""Universal Logout: each account's "not before" time, and the request JWTs already used.

Revision ID: 8e4b2a7c1d3f
Revises: 5d0c3f8a91b2

- ``okta_security_sign_out`` — one row per Airflow account Okta signed out everywhere: sessions
  and tokens that began before ``not_before`` are refused, on every replica.
- ``okta_security_logout_jti`` — the ``jti`` of every accepted request JWT (primary key: the
  ``INSERT`` is the atomic claim), kept until the JWT has expired anyway.

The schema is written out here, frozen, as in the first revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "8e4b2a7c1d3f"
down_revision = "5d0c3f8a91b2"
branch_labels = None
depends_on = None

_schema = sa.MetaData()
_sign_out = sa.Table(
    "okta_security_sign_out",
    _schema,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("username", sa.String(512), nullable=False),
    sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
    sa.Column("jti", sa.String(128), nullable=False),
)
_jti = sa.Table(
    "okta_security_logout_jti",
    _schema,
    sa.Column("jti", sa.String(128), primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


def upgrade() -> None:
    _schema.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    _schema.drop_all(op.get_bind(), checkfirst=True)
