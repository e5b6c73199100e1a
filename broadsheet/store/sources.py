"""What ``broadsheet import`` last took from each Markdown file.

One row per imported Markdown file: its size, modification time and the
digest of its bytes when it was last read, the digest of the settings the
import depended on, and the article it gave. A re-import reads these a
batch at a time to tell which files it need not read, or not parse.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import Connection, select

from broadsheet.store.schema import import_sources as table

BATCH = 500
"""Sources looked up or written per statement."""


class SourceState(NamedTuple):
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


class Sources:
    """Repository of :class:`SourceState` bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lookup(self, sources: Sequence[str]) -> dict[str, SourceState]:
        """The states of those of ``sources`` that have one.

        A state always describes its article as stored: it is written with
        the article, dropped with it (a foreign key), and dropped when
        another source gives the article (:meth:`put`, :meth:`forget`).
        """
        found: dict[str, SourceState] = {}
        for start in range(0, len(sources), BATCH):
            chunk = list(sources[start : start + BATCH])
            query = select(*table.c).where(table.c.source.in_(chunk))
            for row in self.conn.execute(query).all():
                # One plain tuple per row: a re-import of an unchanged
                # archive is mostly this loop.
                state = SourceState(*row)
                found[state.source] = state
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

    def forget(self, article_ids: Sequence[str]) -> None:
        """Drop the states of sources that gave these articles (now given by another source)."""
        for start in range(0, len(article_ids), BATCH):
            chunk = list(article_ids[start : start + BATCH])
            self.conn.execute(table.delete().where(table.c.article_id.in_(chunk)))

    def count(self) -> int:
        """Number of sources with a state."""
        from sqlalchemy import func

        return int(self.conn.execute(select(func.count()).select_from(table)).scalar_one())
