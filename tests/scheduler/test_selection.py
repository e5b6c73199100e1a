"""Selection: pure functions over small tables, the clock passed in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from broadsheet.model import Article, Frequency
from broadsheet.scheduler.selection import (
    new_articles,
    read_also,
    select,
    top_reads,
    views_window,
    window_start,
)
from tests.conftest import make_article

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def ids(articles: list[Article] | tuple[Article, ...]) -> list[str]:
    return [a.id for a in articles]


# --- the window ------------------------------------------------------------------


def test_first_weekly_edition_looks_back_seven_days() -> None:
    assert window_start(None, Frequency.WEEKLY, NOW) == NOW - 7 * DAY


def test_first_daily_edition_looks_back_one_day() -> None:
    assert window_start(None, Frequency.DAILY, NOW) == NOW - DAY


def test_later_edition_starts_at_the_previous_cutoff() -> None:
    previous = NOW - 3 * DAY
    assert window_start(previous, Frequency.WEEKLY, NOW) == previous


def test_a_previous_cutoff_in_the_future_is_ignored() -> None:
    assert window_start(NOW + HOUR, Frequency.DAILY, NOW) == NOW - DAY


def test_views_window_ends_on_the_local_date() -> None:
    # 22:30 UTC on the 22nd is already the 23rd in Moscow.
    late = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)
    first, last = views_window(late, 30, ZoneInfo("Europe/Moscow"))
    assert last == date(2026, 11, 23)
    assert first == date(2026, 10, 25)
    assert (last - first).days == 29


# --- new articles --------------------------------------------------------------------


def table() -> list[Article]:
    return [
        make_article(id="a", published=NOW - 1 * HOUR),
        make_article(id="b", published=NOW - 30 * HOUR),
        make_article(id="c", published=NOW - 30 * HOUR),
        make_article(id="d", published=NOW - 8 * DAY),
        make_article(id="e", published=NOW + HOUR),
        make_article(id="f", published=NOW - 2 * HOUR, draft=True),
        make_article(id="g", published=NOW - 2 * HOUR, language="ru"),
        make_article(id="h", published=NOW - 7 * DAY),
    ]


def test_new_articles_newest_first_ties_by_id() -> None:
    found = new_articles(table(), language="en", since=NOW - 7 * DAY, until=NOW, limit=10)
    assert ids(found) == ["a", "b", "c"]


def test_new_articles_exclude_drafts_future_other_language_and_the_start() -> None:
    found = new_articles(table(), language="en", since=NOW - 7 * DAY, until=NOW, limit=10)
    assert {"d", "e", "f", "g", "h"}.isdisjoint(ids(found))


def test_new_articles_include_the_cutoff_itself() -> None:
    exact = make_article(id="exact", published=NOW)
    assert ids(new_articles([exact], language="en", since=NOW - DAY, until=NOW, limit=5)) == [
        "exact"
    ]


def test_new_articles_are_capped() -> None:
    found = new_articles(table(), language="en", since=NOW - 7 * DAY, until=NOW, limit=2)
    assert ids(found) == ["a", "b"]


def test_new_articles_in_russian() -> None:
    found = new_articles(table(), language="ru", since=NOW - DAY, until=NOW, limit=5)
    assert ids(found) == ["g"]


# --- top reads -------------------------------------------------------------------


def test_top_reads_by_views_ties_by_id() -> None:
    views = {"x": 10, "b": 50, "a": 50, "c": 7}
    assert top_reads(views, exclude=set(), limit=3) == ["a", "b", "x"]


def test_top_reads_leave_out_new_articles_and_unseen_ones() -> None:
    views = {"x": 10, "new": 500, "zero": 0, "y": 3}
    assert top_reads(views, exclude={"new"}, limit=5) == ["x", "y"]


def test_top_reads_only_eligible_ids() -> None:
    views = {"en-1": 5, "ru-1": 900, "gone": 800}
    assert top_reads(views, exclude=set(), limit=5, eligible={"en-1"}) == ["en-1"]


def test_top_reads_limit_zero() -> None:
    assert top_reads({"a": 1}, exclude=set(), limit=0) == []


# --- read also ---------------------------------------------------------------------


def lead() -> Article:
    return make_article(
        id="lead",
        published=NOW - HOUR,
        section="Foreign policy",
        tags=("Serbia", "Russia - World"),
    )


def related() -> list[Article]:
    return [
        make_article(id="two-tags", published=NOW - 20 * DAY, tags=("Serbia", "Russia - World")),
        make_article(id="one-tag-new", published=NOW - 2 * DAY, tags=("serbia",), section="X"),
        make_article(id="one-tag-old", published=NOW - 9 * DAY, tags=("Serbia",), section="X"),
        make_article(id="section-only", published=NOW - DAY, tags=("China",)),
        make_article(id="unrelated", published=NOW - DAY, tags=("China",), section="Economy"),
        make_article(id="later", published=NOW - HOUR / 2, tags=("Serbia",)),
        make_article(id="russian", published=NOW - DAY, tags=("Serbia",), language="ru"),
        make_article(id="draft", published=NOW - DAY, tags=("Serbia",), draft=True),
    ]


def test_read_also_most_shared_tags_then_newest() -> None:
    found = read_also(lead(), related(), now=NOW, exclude=set(), limit=10)
    assert ids(found) == ["two-tags", "one-tag-new", "one-tag-old", "section-only"]


def test_read_also_is_capped_and_honours_exclude() -> None:
    found = read_also(lead(), related(), now=NOW, exclude={"two-tags"}, limit=2)
    assert ids(found) == ["one-tag-new", "one-tag-old"]


def test_read_also_never_lists_the_lead_itself() -> None:
    found = read_also(lead(), [lead(), *related()], now=NOW, exclude=set(), limit=10)
    assert "lead" not in ids(found)


def test_read_also_without_tags_or_section_is_empty() -> None:
    bare = make_article(id="bare", published=NOW, tags=(), section=None)
    assert read_also(bare, related(), now=NOW, exclude=set(), limit=3) == []


# --- the whole selection ----------------------------------------------------------


def test_select_builds_every_block() -> None:
    articles = [
        lead(),
        make_article(id="n2", published=NOW - 2 * DAY, section="Economy", tags=("Budget",)),
        make_article(id="n3", published=NOW - 3 * DAY, section="Economy", tags=("Budget",)),
        make_article(id="old1", published=NOW - 10 * DAY, tags=("Serbia",)),
        make_article(id="old2", published=NOW - 20 * DAY, tags=("Serbia", "Russia - World")),
        make_article(id="popular", published=NOW - 15 * DAY, tags=("Serbia",)),
        make_article(id="ru-art", published=NOW - DAY, tags=("Serbia",), language="ru"),
    ]
    live = [a for a in articles if a.language == "en"]
    window = (date(2026, 10, 25), date(2026, 11, 23))
    chosen = select(
        language="en",
        since=NOW - 7 * DAY,
        until=NOW,
        published=articles,
        live=live,
        views={"popular": 900, "lead": 1000, "ru-art": 5000, "old2": 10, "n3": 999},
        window=window,
        max_articles=2,
        top_count=2,
        read_also_count=3,
    )
    assert ids(chosen.new) == ["lead", "n2"]
    assert chosen.lead is not None and chosen.lead.id == "lead"
    # n3 fell outside the cap, so it may be a top read; the lead may not.
    assert ids(chosen.top) == ["n3", "popular"]
    # Read also repeats neither the new articles nor the top reads.
    assert ids(chosen.read_also) == ["old2", "old1"]
    assert chosen.window == window
    assert not chosen.empty


def test_select_nothing_new() -> None:
    chosen = select(
        language="en",
        since=NOW - DAY,
        until=NOW,
        published=[],
        live=[make_article(id="old", published=NOW - 9 * DAY)],
        views={"old": 3},
        window=(date(2026, 11, 1), date(2026, 11, 23)),
        max_articles=5,
        top_count=5,
        read_also_count=3,
    )
    assert chosen.empty and chosen.lead is None
    assert ids(chosen.top) == ["old"]
    assert chosen.read_also == ()
