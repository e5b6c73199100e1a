"""Several newsletters per address; what comes back; donations and counted links.

- ``subscribers`` holds one row per subscription: an address may take several
  newsletters (language × frequency), so the address alone is no longer
  unique; the address, language and frequency together are. Each row may
  carry the reader's time zone. Every existing row stays as it was: an
  address subscribed before the upgrade holds exactly one subscription.
- ``send_ledger.next_attempt``: when a row deferred by a temporary failure
  is tried again; two indexes, by subscriber (a return path names one) and
  by state and next attempt (the scheduler's due rows).
- ``editions.hold`` and ``hold_reason``: an edition paused by the brake or
  cancelled by ``send --cancel``; existing editions are not held.
- New tables, empty at first: ``subscriber_events`` (consent and history),
  ``inbound_messages`` (what ``inbox`` has acted on), ``suppressions``,
  ``forgotten`` (keyed hashes of erased addresses), ``donations`` and
  ``edition_links`` (counted links).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_subscribers_email"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_subscribers_email_language_frequency"),
            ["email", "language", "frequency"],
        )
    with op.batch_alter_table("send_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_send_ledger_subscriber_id"), ["subscriber_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_send_ledger_state_next_attempt"), ["state", "next_attempt"], unique=False
        )
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hold", sa.String(length=16), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("hold_reason", sa.Text(), server_default="", nullable=False))

    op.create_table(
        "subscriber_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("edition_id", sa.String(length=120), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.Text(), server_default="", nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_events")),
    )
    with op.batch_alter_table("subscriber_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriber_events_email_time"), ["email", "time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subscriber_events_kind_time"), ["kind", "time"], unique=False
        )
    op.create_table(
        "inbound_messages",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("edition_id", sa.String(length=120), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_inbound_messages")),
    )
    op.create_table(
        "suppressions",
        sa.Column("pattern", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("added", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pattern", name=op.f("pk_suppressions")),
    )
    op.create_table(
        "forgotten",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("forgotten", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_forgotten")),
    )
    op.create_table(
        "donations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("given", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("recurring", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("row_key", sa.String(length=64), nullable=False),
        sa.Column("imported", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_donations")),
        sa.UniqueConstraint("row_key", name=op.f("uq_donations_row_key")),
    )
    with op.batch_alter_table("donations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_donations_email_given"), ["email", "given"], unique=False
        )
    op.create_table(
        "edition_links",
        sa.Column("edition_id", sa.String(length=120), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("block", sa.String(length=32), nullable=False),
        sa.Column("variant", sa.String(length=64), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name=op.f("fk_edition_links_edition_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("edition_id", "key", name=op.f("pk_edition_links")),
    )


def downgrade() -> None:
    op.drop_table("edition_links")
    with op.batch_alter_table("donations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_donations_email_given"))
    op.drop_table("donations")
    op.drop_table("forgotten")
    op.drop_table("suppressions")
    op.drop_table("inbound_messages")
    with op.batch_alter_table("subscriber_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriber_events_kind_time"))
        batch_op.drop_index(batch_op.f("ix_subscriber_events_email_time"))
    op.drop_table("subscriber_events")
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("hold_reason")
        batch_op.drop_column("hold")
    with op.batch_alter_table("send_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_send_ledger_state_next_attempt"))
        batch_op.drop_index(batch_op.f("ix_send_ledger_subscriber_id"))
        batch_op.drop_column("next_attempt")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_subscribers_email_language_frequency"), type_="unique"
        )
        batch_op.create_unique_constraint(batch_op.f("uq_subscribers_email"), ["email"])
        batch_op.drop_column("timezone")
