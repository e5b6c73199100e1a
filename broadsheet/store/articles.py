"""Articles in the store."""

from __future__ import annotations

import types
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, and_, bindparam, func, or_, select

from broadsheet.model import Article
from broadsheet.store.schema import articles as table


def _article(row: Row[Any]) -> Article:
    return Article(
        id=row.id,
        guid=row.guid,
        language=row.language,
        title=row.title,
        standfirst=row.standfirst,
        body_html=row.body_html,
        authors=tuple(row.authors),
        section=row.section,
        tags=tuple(row.tags),
        translations=types.MappingProxyType(dict(row.translations)),
        published=row.published,
        updated=row.updated,
        url=row.url,
        image=row.image,
        image_alt=row.image_alt,
        draft=row.draft,
        content_hash=row.content_hash,
        source=row.source,
    )


_LIGHT = (
    table.c.id,
    table.c.guid,
    table.c.language,
    table.c.title,
    table.c.url,
    table.c.authors,
    table.c.section,
    table.c.tags,
    table.c.translations,
    table.c.published,
    table.c.updated,
    table.c.content_hash,
)
"""The columns of a light article: everything but the text and the image."""

PAGE = 500
"""Rows fetched per query when articles are streamed (keyset pagination)."""


def _light_article(row: Row[Any]) -> Article:
    return Article(
        id=row.id,
        guid=row.guid,
        language=row.language,
        title=row.title,
        standfirst="",
        body_html="",
        authors=tuple(row.authors),
        section=row.section,
        tags=tuple(row.tags),
        translations=types.MappingProxyType(dict(row.translations)),
        published=row.published,
        updated=row.updated,
        url=row.url,
        image=None,
        draft=False,
        content_hash=row.content_hash,
    )


def _values(article: Article) -> dict[str, Any]:
    return {
        "language": article.language,
        "title": article.title,
        "standfirst": article.standfirst,
        "body_html": article.body_html,
        "authors": list(article.authors),
        "section": article.section,
        "tags": list(article.tags),
        "translations": dict(article.translations),
        "published": article.published,
        "updated": article.updated,
        "url": article.url,
        "image": article.image,
        "image_alt": article.image_alt,
        "draft": article.draft,
        "content_hash": article.content_hash,
        "source": article.source,
    }


_UPDATE = table.update().where(table.c.id == bindparam("key"))
"""An update of the article whose id is the parameter ``key``; the columns
set are the other keys of the parameters (the same in every row)."""


class Articles:
    """Repository of :class:`~broadsheet.model.Article` bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, article_id: str) -> Article | None:
        """The article with this id, draft or not."""
        row = self.conn.execute(select(table).where(table.c.id == article_id)).one_or_none()
        return _article(row) if row else None

    def many(self, ids: Iterable[str]) -> dict[str, Article]:
        """Articles by id; unknown ids are left out."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Article] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self.conn.execute(select(table).where(table.c.id.in_(chunk)))
            found.update((row.id, _article(row)) for row in rows)
        return found

    def live(self, now: datetime, *, language: str | None = None) -> list[Article]:
        """Articles readers may see at ``now``, newest first (ties by id)."""
        query = select(table).where(table.c.draft.is_(False), table.c.published <= now)
        if language is not None:
            query = query.where(table.c.language == language)
        query = query.order_by(table.c.published.desc(), table.c.id)
        return [_article(row) for row in self.conn.execute(query)]

    def _live_query(self, now: datetime, columns: Sequence[Any]) -> Select[Any]:
        return select(*columns).where(table.c.draft.is_(False), table.c.published <= now)

    def _pages(self, query: Select[Any], *, newest_first: bool, batch: int) -> Iterator[Row[Any]]:
        """The rows of ``query`` in feed order, ``batch`` at a time (keyset pagination).

        Each page is one short query, so nothing holds more than ``batch``
        rows, on PostgreSQL as on SQLite, and other queries may run between
        pages in the same transaction.
        """
        published, key = table.c.published, table.c.id
        if newest_first:
            ordered = query.order_by(published.desc(), key)
        else:
            ordered = query.order_by(published, key.desc())
        last: tuple[datetime, str] | None = None
        while True:
            page = ordered
            if last is not None:
                when, ident = last
                if newest_first:
                    after = or_(published < when, and_(published == when, key > ident))
                else:
                    after = or_(published > when, and_(published == when, key < ident))
                page = page.where(after)
            rows = self.conn.execute(page.limit(batch)).all()
            yield from rows
            if len(rows) < batch:
                return
            last = (rows[-1].published, rows[-1].id)

    def iter_live(
        self,
        now: datetime,
        *,
        language: str | None = None,
        section: str | None = None,
        newest_first: bool = True,
        bodies: bool = True,
        batch: int = PAGE,
    ) -> Iterator[Article]:
        """Articles readers may see at ``now``, in feed order, ``batch`` rows per query.

        The streaming counterpart of :meth:`live`: memory does not grow with
        the archive.

        Args:
            now: the moment that decides what is live.
            language: only articles in this language.
            section: only articles of this section.
            newest_first: newest first (ties by id), or exactly the reverse.
            bodies: load every field; when off, ``standfirst``,
                ``body_html``, ``image``, ``image_alt`` and ``source`` are
                left empty (what feed sets and fingerprints need, without the text).
            batch: rows per query.
        """
        query = self._live_query(now, [table] if bodies else _LIGHT)
        if language is not None:
            query = query.where(table.c.language == language)
        if section is not None:
            query = query.where(table.c.section == section)
        make = _article if bodies else _light_article
        for row in self._pages(query, newest_first=newest_first, batch=batch):
            yield make(row)

    def live_fingerprints(
        self, now: datetime, *, batch: int = 5000
    ) -> Iterator[tuple[str, str, str]]:
        """``(id, guid, content_hash)`` of each live article, newest first (ties by id).

        What decides whether anything a build depends on has changed, read
        without loading a single body: one query, its rows fetched ``batch``
        at a time (a server-side cursor on PostgreSQL).
        """
        query = self._live_query(now, [table.c.id, table.c.guid, table.c.content_hash])
        query = query.order_by(table.c.published.desc(), table.c.id)
        result = self.conn.execution_options(yield_per=batch).execute(query)
        for row in result:
            yield row[0], row[1], row[2]

    def live_counts(self, now: datetime) -> dict[str, int]:
        """Number of articles live at ``now``, per language."""
        query = self._live_query(now, [table.c.language, func.count()]).group_by(table.c.language)
        return {row[0]: int(row[1]) for row in self.conn.execute(query)}

    def live_light(self, ids: Iterable[str], now: datetime) -> dict[str, Article]:
        """Those of ``ids`` live at ``now``, as light articles (see :meth:`iter_live`)."""
        wanted = sorted(set(ids))
        found: dict[str, Article] = {}
        for start in range(0, len(wanted), PAGE):
            query = self._live_query(now, _LIGHT).where(
                table.c.id.in_(wanted[start : start + PAGE])
            )
            found.update((row.id, _light_article(row)) for row in self.conn.execute(query))
        return found

    def published_between(self, language: str, since: datetime, until: datetime) -> list[Article]:
        """Live articles in ``language`` published in ``(since, until]``, newest first."""
        query = (
            select(table)
            .where(
                table.c.language == language,
                table.c.draft.is_(False),
                table.c.published > since,
                table.c.published <= until,
            )
            .order_by(table.c.published.desc(), table.c.id)
        )
        return [_article(row) for row in self.conn.execute(query)]

    def all(self) -> list[Article]:
        """Every article, drafts included, newest first."""
        query = select(table).order_by(table.c.published.desc(), table.c.id)
        return [_article(row) for row in self.conn.execute(query)]

    def fingerprints(self) -> dict[str, tuple[str, str]]:
        """id -> (source, content_hash) of every stored article, for import decisions."""
        rows = self.conn.execute(select(table.c.id, table.c.source, table.c.content_hash))
        return {row.id: (row.source, row.content_hash) for row in rows}

    def fingerprints_of(self, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """id -> (source, content_hash) of those of ``ids`` that are stored."""
        wanted = sorted(set(ids))
        found: dict[str, tuple[str, str]] = {}
        for start in range(0, len(wanted), PAGE):
            query = select(table.c.id, table.c.source, table.c.content_hash).where(
                table.c.id.in_(wanted[start : start + PAGE])
            )
            found.update(
                (row.id, (row.source, row.content_hash)) for row in self.conn.execute(query)
            )
        return found

    def owners_of(self, guids: Iterable[str]) -> dict[str, str]:
        """guid -> id of those of ``guids`` that stored articles have."""
        wanted = sorted(set(guids))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), PAGE):
            query = select(table.c.guid, table.c.id).where(
                table.c.guid.in_(wanted[start : start + PAGE])
            )
            found.update((row.guid, row.id) for row in self.conn.execute(query))
        return found

    def guid_owners(self) -> dict[str, str]:
        """guid -> id of every stored article."""
        rows = self.conn.execute(select(table.c.guid, table.c.id))
        return {row.guid: row.id for row in rows}

    def ids_by_path(self) -> dict[str, str]:
        """URL path -> id, for resolving view counts given by path."""
        from urllib.parse import urlsplit

        rows = self.conn.execute(select(table.c.id, table.c.url))
        return {urlsplit(row.url).path: row.id for row in rows}

    def save(self, article: Article, *, now: datetime) -> str:
        """Insert or update ``article``; returns ``"added"``, ``"updated"`` or ``"unchanged"``.

        An existing article keeps its ``guid`` whatever the new value says:
        a feed entry's id never changes once published.
        """
        return self.save_many([article], now=now)[0]

    def save_many(self, articles: Sequence[Article], *, now: datetime) -> list[str]:
        """:meth:`save` each of ``articles`` (all of different ids); their outcomes, in order.

        A batch costs one query per :data:`PAGE` ids to find what is stored,
        then one statement, compiled once and executed for every row, per
        kind of change (added, updated, moved), rather than a statement
        built and compiled per article.
        """
        ids = [article.id for article in articles]
        if len(set(ids)) != len(ids):
            raise ValueError("save_many: the same article id twice")  # a bug, not user input
        current: dict[str, tuple[str, str]] = {}
        for start in range(0, len(ids), PAGE):
            query = select(table.c.id, table.c.content_hash, table.c.source).where(
                table.c.id.in_(ids[start : start + PAGE])
            )
            current.update((row[0], (row[1], row[2])) for row in self.conn.execute(query))
        outcomes: list[str] = []
        added: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        moved: list[dict[str, Any]] = []
        for article in articles:
            found = current.get(article.id)
            if found is None:
                row = {"id": article.id, "guid": article.guid, "first_imported": now}
                row.update(last_changed=now, **_values(article))
                added.append(row)
                outcomes.append("added")
            elif found[0] == article.content_hash:
                if found[1] != article.source:
                    # The same article from a moved file: remember where it is now.
                    moved.append({"key": article.id, "source": article.source})
                outcomes.append("unchanged")
            else:
                updated.append({"key": article.id, "last_changed": now, **_values(article)})
                outcomes.append("updated")
        if added:
            self.conn.execute(table.insert(), added)
        if updated:
            self.conn.execute(_UPDATE, updated)
        if moved:
            self.conn.execute(_UPDATE, moved)
        return outcomes

    def add_many(self, articles: Iterable[Article], *, now: datetime) -> int:
        """Insert new articles in one statement (a bulk load); returns how many.

        Unlike :meth:`save` nothing is compared: every id and guid must be new
        (the store's constraints refuse a duplicate, and the transaction with it).
        """
        rows = [
            {"id": a.id, "guid": a.guid, "first_imported": now, "last_changed": now, **_values(a)}
            for a in articles
        ]
        if rows:
            self.conn.execute(table.insert(), rows)
        return len(rows)

    def languages(self) -> Mapping[str, int]:
        """Number of stored articles per language."""
        from sqlalchemy import func

        rows = self.conn.execute(select(table.c.language, func.count()).group_by(table.c.language))
        return {row[0]: row[1] for row in rows}

    def count(self) -> int:
        """Number of stored articles, drafts included."""
        from sqlalchemy import func

        return int(self.conn.execute(select(func.count()).select_from(table)).scalar_one())

    def delete(self, ids: Sequence[str]) -> None:
        """Remove articles (and their views)."""
        self.conn.execute(table.delete().where(table.c.id.in_(list(ids))))

    def languages_of(self, ids: Iterable[str]) -> dict[str, str]:
        """id -> language of those of ``ids`` that are stored."""
        wanted = sorted(set(ids))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            rows = self.conn.execute(
                select(table.c.id, table.c.language).where(
                    table.c.id.in_(wanted[start : start + 500])
                )
            )
            found.update({row.id: row.language for row in rows})
        return found

    def all_sections(self) -> list[str]:
        """The sections of published (non-draft) articles in any language, by name."""
        query = (
            select(table.c.section)
            .where(table.c.section.is_not(None), table.c.draft.is_(False))
            .distinct()
            .order_by(table.c.section)
        )
        return [name for name in self.conn.execute(query).scalars() if name]

    def sections(self, language: str) -> list[str]:
        """The sections of published (non-draft) articles in ``language``, by name."""
        query = (
            select(table.c.section)
            .where(
                table.c.language == language,
                table.c.section.is_not(None),
                table.c.draft.is_(False),
            )
            .distinct()
            .order_by(table.c.section)
        )
        return [name for name in self.conn.execute(query).scalars() if name]
