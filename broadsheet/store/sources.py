"""What ``broadsheet import`` last took from each source file.

One row per imported Markdown file: its size, modification time and the
digest of its bytes when it was last read, the digest of the settings the
import depended on, and the article it gave. A re-import reads these a
batch at a time to tell which files it need not read, or not parse.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from broadsheet.store.schema import articles
from broadsheet.store.schema import import_sources as table

BATCH = 500
"""Sources looked up or written per statement."""


@dataclass(frozen=True)
class SourceState:
    """What an import last took from one source file.

    Attributes:
        source: the file, relative to the publication's folder (POSIX style)
            or absolute, as articles keep it.
        size: its size in bytes when it was read.
        mtime_ns: its modification time (nanoseconds) when it was read;
            ``-1`` when it was too recent to trust (see the importer).
        raw_hash: the SHA-256 of its bytes.
        settings: the digest of the import's settings and release.
        article_id: the article it gave.
        content_hash: that article's content hash.
    """

    source: str
    size: int
    mtime_ns: int
    raw_hash: str
    settings: str
    article_id: str
    content_hash: str


@dataclass(frozen=True)
class Known:
    """A source's stored state, and whether the store still holds its article as it left it."""

    state: SourceState
    current: bool


class Sources:
    """Repository of :class:`SourceState` bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lookup(self, sources: Sequence[str]) -> dict[str, Known]:
        """The states of those of ``sources`` that have one.

        ``current`` tells whether the article the source gave is still
        stored with the same content hash and still attributed to this source.
        """
        found: dict[str, Known] = {}
        joined = table.outerjoin(articles, articles.c.id == table.c.article_id)
        for start in range(0, len(sources), BATCH):
            chunk = list(sources[start : start + BATCH])
            query = (
                select(
                    table,
                    articles.c.content_hash.label("stored_hash"),
                    articles.c.source.label("stored_source"),
                )
                .select_from(joined)
                .where(table.c.source.in_(chunk))
            )
            for row in self.conn.execute(query):
                state = SourceState(
                    source=row.source,
                    size=row.size,
                    mtime_ns=row.mtime_ns,
                    raw_hash=row.raw_hash,
                    settings=row.settings,
                    article_id=row.article_id,
                    content_hash=row.content_hash,
                )
                current = row.stored_hash == row.content_hash and row.stored_source == row.source
                found[row.source] = Known(state, current)
        return found

    def put(self, states: Iterable[SourceState]) -> None:
        """Record ``states``, replacing what was kept for the same sources.

        Rows of other sources that gave the same articles (a file moved or
        renamed) are dropped: an article comes from one file.
        """
        rows = list(states)
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            gone = [s.source for s in chunk]
            self.conn.execute(table.delete().where(table.c.source.in_(gone)))
            ids = [s.article_id for s in chunk]
            self.conn.execute(table.delete().where(table.c.article_id.in_(ids)))
            self.conn.execute(
                table.insert(),
                [
                    {
                        "source": s.source,
                        "size": s.size,
                        "mtime_ns": s.mtime_ns,
                        "raw_hash": s.raw_hash,
                        "settings": s.settings,
                        "article_id": s.article_id,
                        "content_hash": s.content_hash,
                    }
                    for s in chunk
                ],
            )

    def count(self) -> int:
        """Number of sources with a state."""
        from sqlalchemy import func

        return int(self.conn.execute(select(func.count()).select_from(table)).scalar_one())
