"""The store's tables, as SQLAlchemy Core metadata.

This is the schema as the current release wants it. The migrations in
:mod:`broadsheet.store.migrations` build the same tables step by step, and a
test compares the two so they cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC ``datetime`` on every backend.

    SQLite keeps no offset, so values are stored as naive UTC and given their
    zone back on the way out; PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")  # a bug, not user input
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

articles = Table(
    "articles",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("guid", String(500), nullable=False, unique=True),
    Column("language", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("standfirst", Text, nullable=False),
    Column("body_html", Text, nullable=False),
    Column("authors", JSON, nullable=False),
    Column("section", String(200), nullable=True),
    Column("tags", JSON, nullable=False),
    Column("translations", JSON, nullable=False),
    Column("published", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=True),
    Column("url", Text, nullable=False),
    Column("image", Text, nullable=True),
    Column("image_alt", Text, nullable=False),
    Column("draft", Boolean, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("first_imported", UTCDateTime, nullable=False),
    Column("last_changed", UTCDateTime, nullable=False),
    Index(None, "language", "published"),
    Index(None, "published"),
)

article_views = Table(
    "article_views",
    metadata,
    Column(
        "article_id",
        String(200),
        ForeignKey("articles.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("day", Date, primary_key=True),
    Column("views", Integer, nullable=False),
    Index(None, "day"),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("language", String(16), nullable=False),
    Column("frequency", String(16), nullable=False),
    Column("topics", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("source", String(32), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("changed", UTCDateTime, nullable=False),
    Column("confirmed", UTCDateTime, nullable=True),
    Column("unsubscribed", UTCDateTime, nullable=True),
    Column("bounced", UTCDateTime, nullable=True),
    Column("status_reason", Text, nullable=False),
    Column("welcomed", UTCDateTime, nullable=True),
    Index(None, "status", "language", "frequency"),
)

editions = Table(
    "editions",
    metadata,
    Column("id", String(120), primary_key=True),
    Column("language", String(16), nullable=False),
    Column("frequency", String(16), nullable=False),
    Column("slot", UTCDateTime, nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("until", UTCDateTime, nullable=False),
    Column("new_ids", JSON, nullable=False),
    Column("top_ids", JSON, nullable=False),
    Column("sections", JSON, nullable=False),
    Column("subject", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("built", UTCDateTime, nullable=False),
    Column("extra", JSON, nullable=False),
    Index(None, "language", "frequency", "slot"),
)

send_ledger = Table(
    "send_ledger",
    metadata,
    Column(
        "edition_id",
        String(120),
        ForeignKey("editions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("last_reply", Text, nullable=False),
    Column("claimed_by", String(120), nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("queued", UTCDateTime, nullable=False),
    Column("sent", UTCDateTime, nullable=True),
    Column("changed", UTCDateTime, nullable=False),
    # Senders claim the lowest queued subscriber ids of one edition, and the
    # status command counts rows per state: both walk this index.
    Index(None, "edition_id", "state", "subscriber_id"),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(120), nullable=False),
    Column("slot", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("started", UTCDateTime, nullable=False),
    Column("finished", UTCDateTime, nullable=True),
    Column("duration", Float, nullable=True),
    Column("counts", JSON, nullable=False),
    Column("note", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("host", String(200), nullable=False),
    # One row per job and slot: the last line of defence against running a
    # slot twice, whatever the locks did.
    UniqueConstraint("job", "slot"),
    # The latest failed (or ok) run of a job, found without walking years of
    # feeds builds.
    Index(None, "job", "status", "slot"),
)

websub_pings = Table(
    "websub_pings",
    metadata,
    Column("feed_url", String(1000), primary_key=True),
    Column("since", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
)

rate_limits = Table(
    "rate_limits",
    metadata,
    # Token buckets of `broadsheet serve`'s limits, shared by every process
    # and machine serving one store: "subscribe-client" keyed by client
    # network, "subscribe-inbox" by inbox.
    Column("bucket", String(40), primary_key=True),
    Column("key", String(400), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    # Rows of buckets full again are swept by age.
    Index(None, "bucket", "updated"),
)

import_sources = Table(
    "import_sources",
    metadata,
    # What `broadsheet import` last took from each Markdown file (its path
    # relative to the publication), so an unchanged file is recognised by
    # its size and modification time without being read, or by the digest
    # of its bytes without being parsed.
    Column("source", String(2000), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("raw_hash", String(64), nullable=False),
    # A digest of the settings an import depends on and of the release.
    Column("settings", String(64), nullable=False),
    # The article it gave; a state goes with its article.
    Column(
        "article_id", String(200), ForeignKey("articles.id", ondelete="CASCADE"), nullable=False
    ),
    Column("content_hash", String(64), nullable=False),
    Index(None, "article_id"),
)

TABLES = (
    meta,
    articles,
    article_views,
    subscribers,
    editions,
    send_ledger,
    job_runs,
    websub_pings,
    rate_limits,
    import_sources,
)
