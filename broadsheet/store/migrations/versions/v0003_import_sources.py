"""Import sources: what `broadsheet import` last took from each Markdown file.

Size, modification time and a digest of the bytes of each imported file,
with a digest of the settings the import depended on, so a re-import
recognises an unchanged file without reading or parsing it. Nothing to
move: the table starts empty, and the first import after the upgrade
fills it (reading and parsing every file once, as before).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_sources",
        sa.Column("source", sa.String(length=2000), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("raw_hash", sa.String(length=64), nullable=False),
        sa.Column("settings", sa.String(length=64), nullable=False),
        sa.Column("article_id", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_import_sources_article_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_import_sources")),
    )
    with op.batch_alter_table("import_sources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_import_sources_article_id"), ["article_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("import_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_sources_article_id"))
    op.drop_table("import_sources")
