"""Subscribers: when the welcome message was sent.

``subscribers.welcomed`` is set when an address that has just confirmed is
sent its welcome message, so it is never sent twice. Nothing to move:
addresses confirmed before the upgrade were never welcomed and stay so
(no welcome is sent to them afterwards: only confirming sends one).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("welcomed", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("welcomed")
