"""okta_security's tables, created if missing; the columns a table made by older code lacks, added.

Revision ID: 5d0c3f8a91b2
Revises: (none: the first)

Databases made before the migrations existed have the tables, perhaps without ``status_at`` and
``roles_at``, and no version: this revision runs on them too (nothing is stamped over it), creates
only what is missing and keeps every row. The schema is written out here, frozen: later changes to
``okta_security.adapter.db`` come as later revisions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5d0c3f8a91b2"
down_revision = None
branch_labels = None
depends_on = None

_schema = sa.MetaData()
_user = sa.Table(
    "okta_security_user",
    _schema,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("username", sa.String(512), nullable=False),
    sa.Column("okta_sub", sa.String(128), nullable=False, index=True),
    sa.Column("groups", sa.Text, nullable=True),
    sa.Column("groups_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("deactivated_by", sa.String(32), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("roles_at", sa.DateTime(timezone=True), nullable=True),
)
_receipt = sa.Table(
    "okta_security_event_receipt",
    _schema,
    sa.Column("event_id", sa.String(128), primary_key=True),
    sa.Column("event_type", sa.String(128), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
_ADDED_LATER = ("status_at", "roles_at")  # nullable: an older table takes them with ALTER TABLE ... ADD COLUMN


def upgrade() -> None:
    bind = op.get_bind()
    _schema.create_all(bind, checkfirst=True)
    have = {c["name"] for c in sa.inspect(bind).get_columns(_user.name)}
    for name in _ADDED_LATER:
        if name not in have:
            op.add_column(_user.name, sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    _schema.drop_all(op.get_bind(), checkfirst=True)
