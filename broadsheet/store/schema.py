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
    # One row per subscription: an address and one newsletter (language and
    # frequency). An address may hold several, each with its own status.
    Column("email", String(320), nullable=False),
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
    # The reader's IANA time zone (for local send times); none: the site's.
    Column("timezone", String(64), nullable=True),
    UniqueConstraint("email", "language", "frequency"),
    Index(None, "status", "language", "frequency"),
    # Local send times: the distinct zones of a newsletter's readers, one
    # index seek per zone (Ledger.reader_zones).
    Index(None, "status", "language", "frequency", "timezone"),
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
    # "" while it may be sent; "paused" by the brake (``send`` resumes it);
    # "cancelled" for good by ``send --cancel``. The reason says why.
    Column("hold", String(16), nullable=False, server_default=""),
    Column("hold_reason", Text, nullable=False, server_default=""),
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
    # A row deferred by a temporary failure (4xx) waits for this time.
    Column("next_attempt", UTCDateTime, nullable=True),
    # Senders claim the lowest queued subscriber ids of one edition, and the
    # status command counts rows per state: both walk this index.
    Index(None, "edition_id", "state", "subscriber_id"),
    # A bounce's return path names a subscriber; its rows are found by it.
    Index(None, "subscriber_id"),
    # Scheduler ticks look for deferred rows that are due.
    Index(None, "state", "next_attempt"),
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

subscriber_events = Table(
    "subscriber_events",
    metadata,
    # What happened to an address, oldest first: consent (requested,
    # confirmed, imported, added by command, with the wording version and
    # the client network truncated), preference changes, unsubscribes,
    # bounces, complaints, suppressions. `subscribers show` prints them;
    # `subscribers export` writes them; `subscribers forget` deletes them.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    # The subscription concerned, when the event concerns one.
    Column("subscriber_id", Integer, nullable=True),
    Column("edition_id", String(120), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("time", UTCDateTime, nullable=False),
    # form, import, command, one-click, preferences, inbox, scheduler…
    Column("source", String(32), nullable=False),
    # The Message-ID of the mail that reported the event (inbox).
    Column("message_id", Text, nullable=False, server_default=""),
    Column("detail", JSON, nullable=False),
    Index(None, "email", "time"),
    Index(None, "kind", "time"),
)

inbound_messages = Table(
    "inbound_messages",
    metadata,
    # Every message `broadsheet inbox` has acted on, keyed by its Message-ID
    # (or a digest of its bytes when it has none), so reading the same mail
    # twice changes nothing. Holds no address.
    Column("key", String(200), primary_key=True),
    Column("outcome", String(32), nullable=False),
    Column("edition_id", String(120), nullable=True),
    Column("time", UTCDateTime, nullable=False),
)

suppressions = Table(
    "suppressions",
    metadata,
    # Addresses ("reader@mail.example") and whole domains ("@mail.example")
    # that are never subscribed, imported or sent to.
    Column("pattern", String(320), primary_key=True),
    Column("reason", String(32), nullable=False),
    Column("source", Text, nullable=False),
    Column("added", UTCDateTime, nullable=False),
)

forgotten = Table(
    "forgotten",
    metadata,
    # Addresses erased by `subscribers forget`, as HMAC-SHA256 keyed by the
    # publication's secret: enough to refuse a re-import, not to recover one.
    Column("digest", String(64), primary_key=True),
    Column("forgotten", UTCDateTime, nullable=False),
)

donations = Table(
    "donations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("given", UTCDateTime, nullable=False),
    # In the currency's minor unit (cents), as ISO 4217 counts them.
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("recurring", Boolean, nullable=False),
    # The file it was imported from.
    Column("source", Text, nullable=False),
    # A digest of the processor's transaction id (or of the row), so a
    # re-import counts nothing twice.
    Column("row_key", String(64), nullable=False, unique=True),
    Column("imported", UTCDateTime, nullable=False),
    Index(None, "email", "given"),
)

edition_links = Table(
    "edition_links",
    metadata,
    # The links an edition carried, for counted redirects (`/r/TOKEN`): only
    # these may be redirected to. Counts are per edition and link, never
    # per reader.
    Column(
        "edition_id",
        String(120),
        ForeignKey("editions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    # The block of the message it sits in (new, top, donation, footer…) and
    # the appeal variant it belongs to ("" for none).
    Column("block", String(32), nullable=False),
    Column("variant", String(64), nullable=False),
    Column("clicks", BigInteger, nullable=False),
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
    subscriber_events,
    inbound_messages,
    suppressions,
    forgotten,
    donations,
    edition_links,
)
