"""What ``broadsheet report`` shows, in the editors' words: the terminal tables and the HTML page.

:func:`gather` reads the figures from the store (:mod:`broadsheet.store.reports`)
into a :class:`ReportData`; :func:`print_report` prints it as rich tables and
:func:`render_page` as one self-contained HTML page with inline SVG charts
(:mod:`broadsheet.cli.charts`). The words come from the ``report`` messages
of the catalogs (docs/translations.md), in the report's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from broadsheet.config import Settings
from broadsheet.errors import BroadsheetError
from broadsheet.store import Store
from broadsheet.store.reports import (
    EditionFigures,
    WeekFigures,
    edition_figures,
    edition_ids,
    newsletters,
    weekly_figures,
)

GROUP = "report"


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows.

    Attributes:
        now: the time the figures are as of (UTC).
        editions: per edition, newest first.
        weeks: subscriptions week by week, oldest first.
        newsletters: the ``(language, frequency)`` pairs in ``weeks``.
    """

    now: datetime
    editions: list[EditionFigures]
    weeks: list[WeekFigures]
    newsletters: list[tuple[str, str]]


def gather(
    store: Store, *, edition: str | None, count: int, weeks: int, now: datetime
) -> ReportData:
    """Read the report's figures: ``edition`` alone, or the newest ``count`` editions.

    Raises:
        BroadsheetError: ``edition`` is not in the store.
    """
    with store.read() as tx:
        ids = [edition] if edition else edition_ids(tx, limit=count)
        found = [edition_figures(tx, identifier, now=now) for identifier in ids]
        by_week = weekly_figures(tx, now=now, weeks=weeks)
    if edition and found[0] is None:
        raise BroadsheetError(
            f"no edition {edition!r} in the store; `broadsheet report` without an "
            "edition lists the newest ones"
        )
    return ReportData(
        now=now,
        editions=[figures for figures in found if figures is not None],
        weeks=by_week,
        newsletters=newsletters(by_week),
    )


class Names:
    """The report's words in one language, and the names of what it counts."""

    def __init__(self, settings: Settings, language: str) -> None:
        self.settings = settings
        self.language = language
        self.t: Mapping[str, str] = settings.words.table(GROUP, language)

    def __getitem__(self, key: str) -> str:
        return self.t[key]

    def block(self, name: str) -> str:
        return self.t.get(f"block_{name}", name)

    def variant(self, name: str) -> str:
        return self.t.get(f"variant_{name}", name)

    def frequency(self, name: str) -> str:
        return self.t.get(name, name)

    def newsletter(self, key: tuple[str, str]) -> str:
        return f"{key[0]} · {self.frequency(key[1])}"

    def day(self, moment: datetime) -> str:
        return moment.astimezone(self.settings.site.tz).date().isoformat()

    def as_of(self, now: datetime) -> str:
        local = now.astimezone(self.settings.site.tz)
        return self.t["as_of"].format(time=f"{local:%Y-%m-%d %H:%M %Z}")

    def unsubscribed(self, figures: EditionFigures) -> str:
        if figures.window_open:
            return self.t["still_counting"].format(count=figures.unsubscribed)
        return str(figures.unsubscribed)

    def kind(self, figures: EditionFigures) -> str:
        return self.t["campaign"] if figures.campaign else self.frequency(figures.frequency)


def churn(value: float) -> str:
    """Churn as a percentage with one decimal."""
    return f"{100 * value:.1f}%"


# --- the terminal -------------------------------------------------------------


def print_report(console: Any, data: ReportData, names: Names) -> None:
    """Print ``data`` as rich tables on ``console``."""
    from rich.table import Table

    console.print(f"[bold]{names['title']}[/bold] · {names.settings.site.title}")
    console.print(names.as_of(data.now))
    if not data.editions:
        console.print(names["no_editions"])
    else:
        table = Table(title=names["editions"], title_justify="left")
        table.add_column(names["edition"])
        table.add_column(names["date"])
        for key in ("audience", "sent", "bounced", "complaints", "unsubscribed", "clicks"):
            table.add_column(names[key], justify="right")
        for figures in data.editions:
            table.add_row(
                figures.id,
                names.day(figures.slot),
                str(figures.audience),
                str(figures.sent),
                str(figures.bounced),
                str(figures.complaints),
                names.unsubscribed(figures),
                str(figures.total_clicks) if figures.counted else "–",
            )
        console.print(table)
    for figures in data.editions:
        if not figures.counted or not figures.clicks:
            continue
        blocks = Table(title=f"{names['clicks_by_block']} · {figures.id}", title_justify="left")
        blocks.add_column(names["block"])
        blocks.add_column(names["clicks"], justify="right")
        for block, clicks in figures.clicks.items():
            blocks.add_row(names.block(block), str(clicks))
        console.print(blocks)
        if figures.donate_clicks:
            variants = Table(
                title=f"{names['donate_by_variant']} · {figures.id}", title_justify="left"
            )
            variants.add_column(names["variant"])
            variants.add_column(names["clicks"], justify="right")
            for variant, clicks in figures.donate_clicks.items():
                variants.add_row(names.variant(variant), str(clicks))
            console.print(variants)
    weekly = Table(title=names["over_time"], title_justify="left")
    weekly.add_column(names["week"])
    for pair in data.newsletters:
        weekly.add_column(names.newsletter(pair), justify="right")
    for key in ("total", "began", "ended", "growth", "churn"):
        weekly.add_column(names[key], justify="right")
    for week in data.weeks:
        weekly.add_row(
            week.start.isoformat(),
            *(str(week.active.get(pair, 0)) for pair in data.newsletters),
            str(week.total),
            str(week.began),
            str(week.ended),
            f"{week.growth:+d}",
            churn(week.churn),
        )
    console.print(weekly)


# --- the page -----------------------------------------------------------------


def _anchor(edition_id: str) -> str:
    return "edition-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in edition_id)


def render_page(data: ReportData, names: Names) -> str:
    """The report as one self-contained HTML page with its charts inline.

    Raises:
        BroadsheetError: matplotlib is not installed.
        RenderError: the page's template failed.
    """
    from broadsheet.cli import charts
    from broadsheet.emails.edition.labels import text_direction
    from broadsheet.emails.edition.render import render

    days = [week.start for week in data.weeks]
    drawn: dict[str, Markup] = {
        "subscriptions": Markup(
            charts.lines(
                days,
                {
                    names.newsletter(key): [week.active.get(key, 0) for week in data.weeks]
                    for key in data.newsletters
                },
                title=names["chart_subscriptions"],
                ylabel=names["active"],
            )
        ),
        "growth": Markup(
            charts.growth(
                days,
                [week.began for week in data.weeks],
                [week.ended for week in data.weeks],
                [week.churn for week in data.weeks],
                title=names["chart_growth"],
                labels={key: names[key] for key in ("began", "ended", "churn")},
            )
        ),
    }
    editions = []
    for figures in data.editions:
        anchor = _anchor(figures.id)
        blocks = [(names.block(block), clicks) for block, clicks in figures.clicks.items()]
        variants = [
            (names.variant(variant), clicks) for variant, clicks in figures.donate_clicks.items()
        ]
        if figures.counted and blocks:
            drawn[f"{anchor}-clicks"] = Markup(
                charts.bars(
                    [name for name, _ in blocks],
                    [clicks for _, clicks in blocks],
                    title=f"{names['chart_clicks']} — {figures.id}",
                    xlabel=names["clicks"],
                )
            )
        if figures.counted and variants:
            drawn[f"{anchor}-donate"] = Markup(
                charts.bars(
                    [name for name, _ in variants],
                    [clicks for _, clicks in variants],
                    title=f"{names['chart_donate']} — {figures.id}",
                    xlabel=names["clicks"],
                )
            )
        editions.append(
            {
                "id": figures.id,
                "anchor": anchor,
                "subject": figures.subject,
                "kind": names.kind(figures),
                "language": figures.language,
                "date": names.day(figures.slot),
                "audience": figures.audience,
                "sent": figures.sent,
                "waiting": figures.waiting,
                "bounced": figures.bounced,
                "complaints": figures.complaints,
                "unsubscribed": names.unsubscribed(figures),
                "clicks": figures.total_clicks if figures.counted else "–",
                "counted": figures.counted,
                "blocks": blocks,
                "variants": variants,
            }
        )
    weeks = [
        {
            "date": week.start.isoformat(),
            "active": [week.active.get(key, 0) for key in data.newsletters],
            "total": week.total,
            "began": week.began,
            "ended": week.ended,
            "growth": f"{week.growth:+d}",
            "churn": churn(week.churn),
        }
        for week in data.weeks
    ]
    settings = names.settings
    return render(
        "report/report.html.j2",
        {
            "lang": names.language,
            "dir": text_direction(names.language),
            "t": names.t,
            "site_title": settings.site.title_in(names.language),
            "as_of": names.as_of(data.now),
            "editions": editions,
            "weeks": weeks,
            "newsletters": [names.newsletter(key) for key in data.newsletters],
            "charts": drawn,
        },
    )
