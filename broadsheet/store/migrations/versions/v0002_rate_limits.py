"""Rate limits: the token buckets of `broadsheet serve`, shared through the store.

With a PostgreSQL store, every process and machine serving one publication
takes its subscription limits (per client network, per inbox) from this
table, so starting more servers does not multiply them. Nothing to move:
the table starts empty.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("bucket", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "key", name=op.f("pk_rate_limits")),
    )
    with op.batch_alter_table("rate_limits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rate_limits_bucket_updated"), ["bucket", "updated"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("rate_limits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limits_bucket_updated"))
    op.drop_table("rate_limits")
