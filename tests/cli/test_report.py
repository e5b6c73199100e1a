"""``broadsheet report``: the figures of editions and subscriptions, and the HTML page.

A real edition is built with counted links and sent to a Maildir; bounces,
complaints and unsubscribes are recorded as the inbox and the pages record
them, links are followed through the store's counter, and the report counts
them. The HTML page is opened in Debian's headless Chromium: its charts are
drawn (each SVG has a size and shapes in it), and it fetches nothing.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broadsheet.config import Settings
from broadsheet.emails import send_edition
from broadsheet.model import EventKind, Frequency, SubscriberEvent
from broadsheet.scheduler.editions import build_edition
from broadsheet.store import Store
from broadsheet.store.reports import edition_figures, weekly_figures
from broadsheet.store.schema import subscribers as subscribers_table
from tests.delivery.helpers import add_subscribers, cli_command, cli_env
from tests.emails.test_browser import ARGS, CHROMIUM

COUNTING = "\n[links]\ncount_clicks = true\n"
NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def _event(tx: Any, subscriber: int, kind: EventKind, when: datetime, edition: str | None) -> None:
    person = tx.subscribers.get(subscriber)
    tx.events.record(
        SubscriberEvent(
            email=person.email,
            kind=kind,
            time=when,
            source="inbox" if kind is not EventKind.UNSUBSCRIBED else "one-click",
            subscriber_id=subscriber,
            edition_id=edition,
        )
    )


@pytest.fixture
def reported(
    make_settings: Callable[..., Settings], publication: Store, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, Store, str, list[int]]]:
    """A sent, counted edition with bounces, a complaint, unsubscribes and clicks."""
    monkeypatch.setenv("BROADSHEET_SECRET", "report-secret")
    settings = make_settings(COUNTING)
    store = publication
    # Six readers from four weeks ago, four from this week, two Russian daily.
    early = add_subscribers(store, 6, now=NOW - timedelta(weeks=4), prefix="early")
    late = add_subscribers(store, 4, now=NOW - timedelta(days=2), prefix="late")
    add_subscribers(
        store, 2, now=NOW - timedelta(weeks=2), language="ru", frequency=Frequency.DAILY
    )
    outcome = build_edition(store, settings, language="en", frequency=Frequency.WEEKLY, now=NOW)
    assert outcome.edition is not None
    edition = outcome.edition.id
    report = send_edition(store, settings, edition, now=NOW, transport="maildir")
    assert report.sent == 10
    later = NOW + timedelta(hours=1)
    with store.write() as tx:
        _event(tx, early[0], EventKind.HARD_BOUNCE, later, edition)
        _event(tx, early[0], EventKind.HARD_BOUNCE, later, edition)  # the same address twice
        _event(tx, early[1], EventKind.COMPLAINT, later, edition)
        # Left within the week of the message, and after it.
        _event(tx, early[2], EventKind.UNSUBSCRIBED, NOW + timedelta(days=3), None)
        _event(tx, early[3], EventKind.UNSUBSCRIBED, NOW + timedelta(days=9), None)
        for who, when in ((early[2], 3), (early[3], 9)):
            tx.conn.execute(
                subscribers_table.update()
                .where(subscribers_table.c.id == who)
                .values(status="unsubscribed", unsubscribed=NOW + timedelta(days=when))
            )
        links = tx.links.of_edition(edition)
        lead = next(link for link in links if link.block == "lead")
        donate = next(link for link in links if link.block == "donation")
        for _ in range(3):
            tx.links.click(edition, lead.key)
        tx.links.click(edition, donate.key)
    yield settings, store, edition, late


def test_the_figures_of_an_edition(reported: tuple[Settings, Store, str, list[int]]) -> None:
    _settings, store, edition, _late = reported
    with store.read() as tx:
        soon = edition_figures(tx, edition, now=NOW + timedelta(days=4))
        after = edition_figures(tx, edition, now=NOW + timedelta(days=20))
        assert edition_figures(tx, "weekly-en-1999-01-04", now=NOW) is None
    assert soon is not None and after is not None
    assert (soon.audience, soon.sent, soon.bounced, soon.complaints) == (10, 10, 1, 1)
    assert soon.unsubscribed == 1 and soon.window_open
    # The second unsubscribe came nine days after the message: not this edition's.
    assert after.unsubscribed == 1 and not after.window_open
    assert soon.counted and soon.clicks["lead"] == 3 and soon.clicks["donation"] == 1
    assert list(soon.clicks)[:2] == ["masthead", "lead"]  # in the message's order
    assert soon.total_clicks == 4
    assert sum(soon.donate_clicks.values()) == 1


def test_subscriptions_week_by_week(reported: tuple[Settings, Store, str, list[int]]) -> None:
    _settings, store, _edition, _late = reported
    with store.read() as tx:
        weeks = weekly_figures(tx, now=NOW + timedelta(days=10), weeks=6)
    assert [week.start.weekday() for week in weeks] == [0] * 6
    by_start = {week.start.isoformat(): week for week in weeks}
    # The week of 2026-10-26 (NOW - 4 weeks is Monday 2026-10-26): six began.
    assert by_start["2026-10-26"].began == 6
    assert by_start["2026-10-26"].active == {("en", "weekly"): 6}
    assert by_start["2026-11-09"].active == {("en", "weekly"): 6, ("ru", "daily"): 2}
    # This week: four began, then one left on day 3 (the next week, one more).
    assert by_start["2026-11-23"].began == 0 or by_start["2026-11-16"].began == 4
    week = by_start["2026-11-23"]
    assert week.ended == 1 and week.active[("en", "weekly")] == 9
    assert week.churn == pytest.approx(1 / 12)
    last = weeks[-1]
    assert last.start.isoformat() == "2026-11-30" and last.ended == 1
    assert last.total == 10 and last.growth == -1


@pytest.mark.slow
def test_report_prints_tables_and_writes_a_page_with_charts(
    reported: tuple[Settings, Store, str, list[int]], tmp_path: Path
) -> None:
    settings, store, edition, _late = reported
    page = tmp_path / "out" / "report.html"
    at = (NOW + timedelta(days=4)).isoformat()
    done = subprocess.run(
        cli_command(
            "--config",
            str(settings.path),
            "report",
            "--at",
            at,
            "--weeks",
            "6",
            "--html",
            str(page),
        ),
        env=cli_env(BROADSHEET_SECRET="report-secret", COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert edition in done.stdout and "Clicks by block" in done.stdout
    assert "Lead story" in done.stdout and "1 (the seven days are not over)" in done.stdout
    assert f"report written to {page}" in done.stdout
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg") == 4  # subscriptions, growth, clicks and donate clicks
    assert "http://" not in html.replace("http://www.w3.org/", "").replace(
        "http://purl.org/", ""
    ).replace("http://creativecommons.org/", "")
    # In Russian, with the same figures.
    from broadsheet.cli.report_page import Names, gather, render_page

    data = gather(store, edition=edition, count=1, weeks=6, now=NOW + timedelta(days=4))
    russian = render_page(data, Names(settings, "ru"))
    assert 'lang="ru"' in russian and "Переходы по блокам" in russian
    assert "Главный материал" in russian and russian.count("<svg") == 4
    # An edition that is not there: one line, exit status 1.
    done = subprocess.run(
        cli_command("--config", str(settings.path), "report", "weekly-en-1999-01-04"),
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: no edition 'weekly-en-1999-01-04'")
    assert "Traceback" not in done.stderr


@pytest.mark.browser
def test_the_page_draws_its_charts_in_chromium(
    reported: tuple[Settings, Store, str, list[int]], tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    from broadsheet.cli.report_page import Names, gather, render_page

    settings, store, _edition, _late = reported
    data = gather(store, edition=None, count=5, weeks=6, now=NOW + timedelta(days=4))
    path = tmp_path / "report.html"
    path.write_text(render_page(data, Names(settings, "en")), encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            fetched: list[str] = []
            page.on("request", lambda request: fetched.append(request.url))
            page.goto(path.as_uri(), wait_until="load")
            charts = page.evaluate(
                """Array.from(document.querySelectorAll('figure svg')).map(svg => {
                    const box = svg.getBoundingClientRect();
                    return {width: box.width, height: box.height,
                            shapes: svg.querySelectorAll('path, rect, use').length,
                            title: svg.querySelector('title') ? svg.querySelector('title').textContent : '',
                            label: svg.getAttribute('aria-label'),
                            caption: svg.closest('figure').querySelector('figcaption').textContent};
                })"""
            )
            assert len(charts) == 4
            for chart in charts:
                assert chart["width"] > 300 and chart["height"] > 80, chart
                assert chart["shapes"] > 5, chart
                assert chart["title"] and chart["label"] == chart["title"]
                assert "table after the chart" in chart["caption"]
            # Every chart has its table: figures a screen reader can read.
            assert page.locator("table").count() >= 5
            assert fetched == [path.as_uri()]
            shot = page.screenshot(full_page=True)
            assert len(shot) > 50_000
        finally:
            browser.close()
