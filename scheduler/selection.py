"""What goes into an edition: pure functions over values, the clock passed in.

Nothing here reads the store or the clock. :func:`select` takes what
:mod:`broadsheet.scheduler.editions` gathered and returns a :class:`Selection`:

- **new**: live articles in the edition's language published after the
  previous edition of the same language and frequency (the first edition
  looks back one period), newest first, capped;
- **top reads**: the most viewed live articles in that language over a window
  of days, the new ones left out, ties broken by id;
- **read also**: earlier live articles sharing tags or the section with the
  lead story, most shared tags first, then the most recent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from broadsheet.model import Article, Frequency

PERIODS: Mapping[Frequency, timedelta] = {
    Frequency.DAILY: timedelta(days=1),
    Frequency.WEEKLY: timedelta(days=7),
}
"""How far back the first edition of each frequency looks."""


def window_start(
    previous_until: datetime | None, frequency: Frequency, until: datetime
) -> datetime:
    """Start of the new-articles window.

    Args:
        previous_until: the cutoff of the previous edition of the same language
            and frequency, or ``None`` for the first edition.
        frequency: the edition's frequency.
        until: the edition's own cutoff.

    Returns:
        ``previous_until``, or one period before ``until`` for a first edition.
    """
    if previous_until is not None and previous_until < until:
        return previous_until
    return until - PERIODS[frequency]


def views_window(until: datetime, days: int, tz: tzinfo) -> tuple[date, date]:
    """The first and last day (inclusive) of a views window of ``days`` days.

    The window ends on the local date of ``until``: view counts are daily
    figures in the publication's time zone.
    """
    last = until.astimezone(tz).date()
    return last - timedelta(days=max(days, 1) - 1), last


def new_articles(
    candidates: Iterable[Article],
    *,
    language: str,
    since: datetime,
    until: datetime,
    limit: int,
) -> list[Article]:
    """Live articles in ``language`` published in ``(since, until]``.

    Returns:
        At most ``limit`` articles, newest first, ties by id.
    """
    chosen = [
        article
        for article in candidates
        if article.language == language and not article.draft and since < article.published <= until
    ]
    chosen.sort(key=lambda a: (-a.published.timestamp(), a.id))
    return chosen[: max(limit, 0)]


def top_reads(
    views: Mapping[str, int],
    *,
    exclude: Set[str],
    limit: int,
    eligible: Set[str] | None = None,
) -> list[str]:
    """Article ids ordered by views, most read first; ties by id.

    Args:
        views: article id -> views over the window.
        exclude: ids left out (the edition's new articles).
        limit: most ids returned.
        eligible: when given, only these ids may appear (live, right language).
    """
    ranked = [
        (count, article_id)
        for article_id, count in views.items()
        if count > 0 and article_id not in exclude and (eligible is None or article_id in eligible)
    ]
    ranked.sort(key=lambda pair: (-pair[0], pair[1]))
    return [article_id for _, article_id in ranked[: max(limit, 0)]]


def read_also(
    lead: Article,
    candidates: Iterable[Article],
    *,
    now: datetime,
    exclude: Set[str],
    limit: int,
) -> list[Article]:
    """Earlier articles related to ``lead``, as the magazine's article pages list them.

    An article qualifies when it is live at ``now``, in the lead's language,
    published before the lead, not in ``exclude``, and shares at least one tag
    or the section with the lead.

    Returns:
        At most ``limit`` articles: most shared tags first, then newest, then id.
    """
    tags = {tag.casefold() for tag in lead.tags}
    section = lead.section.casefold() if lead.section else None
    scored: list[tuple[int, float, str, Article]] = []
    for article in candidates:
        if (
            article.id == lead.id
            or article.id in exclude
            or article.language != lead.language
            or not article.is_live(now)
            or article.published >= lead.published
        ):
            continue
        shared = len(tags & {tag.casefold() for tag in article.tags})
        same_section = section is not None and (article.section or "").casefold() == section
        if shared == 0 and not same_section:
            continue
        scored.append((-shared, -article.published.timestamp(), article.id, article))
    scored.sort(key=lambda row: row[:3])
    return [row[3] for row in scored[: max(limit, 0)]]


@dataclass(frozen=True, slots=True)
class Selection:
    """The articles of one edition, block by block.

    Attributes:
        since: new articles were published after this.
        until: ...and at or before this.
        new: the new articles, newest first; the first is the lead story.
        top: the top reads, most read first.
        read_also: articles related to the lead story.
        window: first and last day of the views that ranked the top reads.
    """

    since: datetime
    until: datetime
    new: tuple[Article, ...]
    top: tuple[Article, ...]
    read_also: tuple[Article, ...]
    window: tuple[date, date]

    @property
    def lead(self) -> Article | None:
        """The lead story, or ``None`` when nothing is new."""
        return self.new[0] if self.new else None

    @property
    def empty(self) -> bool:
        """Whether nothing new was published."""
        return not self.new


def select(
    *,
    language: str,
    since: datetime,
    until: datetime,
    published: Iterable[Article],
    live: Sequence[Article],
    views: Mapping[str, int],
    window: tuple[date, date],
    max_articles: int,
    top_count: int,
    read_also_count: int,
) -> Selection:
    """Every block of one edition.

    Args:
        language: the edition's language.
        since: start of the new-articles window (see :func:`window_start`).
        until: the edition's cutoff (its "now").
        published: candidates for the new block (may hold other articles).
        live: every live article in the edition's language, for the other blocks.
        views: article id -> views over ``window``.
        window: the days ``views`` covers.
        max_articles: most new articles.
        top_count: entries in Top reads.
        read_also_count: entries in Read also.
    """
    new = new_articles(published, language=language, since=since, until=until, limit=max_articles)
    new_ids = {article.id for article in new}
    by_id = {
        article.id: article
        for article in live
        if article.language == language and article.is_live(until)
    }
    top_ids = top_reads(views, exclude=new_ids, limit=top_count, eligible=by_id.keys())
    top = tuple(by_id[article_id] for article_id in top_ids)
    related: list[Article] = []
    if new:
        related = read_also(
            new[0],
            by_id.values(),
            now=until,
            exclude=new_ids | set(top_ids),
            limit=read_also_count,
        )
    return Selection(
        since=since,
        until=until,
        new=tuple(new),
        top=top,
        read_also=tuple(related),
        window=window,
    )
