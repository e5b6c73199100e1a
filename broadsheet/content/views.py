"""``broadsheet views import``: daily page views from CSV.

Columns ``article,date,views``: the article by id or by the path of its URL
(a full URL works too; query strings are ignored), the day as ``YYYY-MM-DD``,
and a non-negative whole number. Rows for the same article and day within
one file are added up (analytics exports often split a page by query
string); importing a day again replaces that day's figure.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from broadsheet.content.csvfile import read_csv
from broadsheet.errors import ContentError
from broadsheet.model import DailyViews
from broadsheet.store import Store


@dataclass
class ViewsReport:
    """What a views import did."""

    written: int = 0
    rejected: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no row was rejected."""
        return not self.rejected


MAX_VIEWS = 2**31 - 1
"""The most views one row may give an article in a day (a 32-bit integer column)."""


def import_views(store: Store, path: Path, *, source: str | None = None) -> ViewsReport:
    """Import a views CSV; bad rows are reported and the rest stored."""
    shown = source or str(path)
    report = ViewsReport()
    with store.read() as tx:
        ids = set(tx.articles.fingerprints())
        by_path = tx.articles.ids_by_path()
    totals: dict[tuple[str, date], int] = defaultdict(int)
    try:
        for line, row in read_csv(path, shown, required=("article", "date", "views")):
            if isinstance(row, ContentError):
                report.rejected.append(str(row))
                continue
            try:
                key = _row(row, ids, by_path, shown, line)
            except ContentError as exc:
                report.rejected.append(str(exc))
                continue
            totals[key[:2]] += key[2]
    except ContentError as exc:
        report.rejected.append(str(exc))
    with store.write() as tx:
        report.written = tx.views.put(
            DailyViews(article_id=a, day=d, views=v) for (a, d), v in sorted(totals.items())
        )
    return report


def _row(
    row: dict[str, str], ids: set[str], by_path: dict[str, str], source: str, line: int
) -> tuple[str, date, int]:
    ref = row["article"]
    if not ref:
        raise ContentError(source, "missing", line=line, field="article")
    article = ref if ref in ids else by_path.get(urlsplit(ref).path or ref)
    if article is None:
        path = urlsplit(ref).path
        article = by_path.get(path.rstrip("/") + "/") or by_path.get(path.rstrip("/"))
    if article is None:
        raise ContentError(
            source, f"no article with id or URL path {ref!r}", line=line, field="article"
        )
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", row["date"]):
            raise ValueError(row["date"])
        day = date.fromisoformat(row["date"])
    except ValueError:
        raise ContentError(
            source, f"expected a day as YYYY-MM-DD, got {row['date']!r}", line=line, field="date"
        ) from None
    text = row["views"].replace("_", "")
    if not re.fullmatch(r"[0-9]+", text):
        raise ContentError(
            source,
            f"expected a whole number of 0 or more, got {row['views']!r}",
            line=line,
            field="views",
        )
    views = int(text)
    if views > MAX_VIEWS:
        raise ContentError(
            source,
            f"{views:,} views in a day is more than the {MAX_VIEWS:,} a row may hold",
            line=line,
            field="views",
        )
    return article, day, views
