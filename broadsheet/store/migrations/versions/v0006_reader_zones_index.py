"""Subscribers: an index that lists the readers' time zones without reading every row.

With ``[newsletters.FREQUENCY] local_time`` on, each scheduler tick asks
which distinct zones the active readers of each newsletter live in. The
index on ``(status, language, frequency, timezone)`` lets the store walk
from one zone to the next (one index seek per distinct zone) instead of
reading every subscription. Nothing to move.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscribers_status_language_frequency_timezone"),
            ["status", "language", "frequency", "timezone"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscribers_status_language_frequency_timezone"))
