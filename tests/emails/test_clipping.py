"""The clipping guard: an edition's email stays under ``emails.clip_limit`` or is refused."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.emails.edition import appeals, clip
from broadsheet.emails.edition.context import EditionContent, EditionContext, build_context
from broadsheet.emails.edition.personalize import fill_html
from broadsheet.model import DailyViews, Frequency, SubscriberDetails
from broadsheet.scheduler.editions import build_edition
from broadsheet.scheduler.jobs import jobs_from_settings
from broadsheet.scheduler.runner import run_due
from broadsheet.store import Store
from tests.conftest import DEMO_NOW, make_article

WEEKLY = "[newsletters.weekly]\nsend_time = '08:00'\nweekday = 'monday'\nmax_articles = 200\n"
LONG = (
    "A long standfirst that goes on, as standfirsts of long reads do, about what the "
    "piece argues, who it quotes and why it matters now. "
) * 5


def add_articles(store: Store, count: int, *, now: datetime, standfirst: str = LONG) -> None:
    articles = [
        make_article(
            id=f"long-read-{number:03d}",
            title=f"Long read number {number}: what the week meant for the people in it",
            standfirst=standfirst,
            body_html="<p>" + "A paragraph of the body. " * 400 + "</p>",
            authors=("Ann Author", "Boris Writer"),
            tags=("Sanctions", f"tag-{number % 7}"),
            published=now - timedelta(hours=1 + number),
        )
        for number in range(count)
    ]
    with store.write() as tx:
        for article in articles:
            tx.articles.save(article, now=now)
        tx.views.put(
            DailyViews(a.id, (now - timedelta(days=1)).date(), 1000 - i)
            for i, a in enumerate(articles)
        )


def test_150_long_articles_fit_with_the_appeal_and_the_footer(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(WEEKLY)
    store = Store.open(settings.store.url)
    try:
        add_articles(store, 150, now=DEMO_NOW)
        with caplog.at_level(logging.WARNING):
            outcome = build_edition(
                store, settings, language="en", frequency=Frequency.WEEKLY, now=DEMO_NOW
            )
    finally:
        store.close()
    record = outcome.edition
    assert record is not None and len(record.new_ids) == 150
    summary = record.extra["clip"]
    assert isinstance(summary, dict)
    assert summary["fits"] and summary["size"] <= settings.emails.clip_limit == 100_000
    assert summary["dropped"] == ["standfirsts", "older_items"]  # no top reads: all are new
    assert 0 < len(summary["left_out"]) < 149
    assert summary["left_out"] == list(record.new_ids[-len(summary["left_out"]) :])  # oldest

    personal = clip.longest_personal(settings, "en")
    html = fill_html(record.html, personal)
    # The size is the largest message's: the stored HTML (the plain appeal)
    # with the longest wording of the donation block in its place.
    kept = record.extra["donation"]
    assert isinstance(kept, dict)
    blocks = appeals.Blocks.from_json(kept["html"], record.html)
    assert blocks is not None
    largest = fill_html(appeals.largest(record.html, blocks), personal)
    assert len(largest.encode("utf-8")) == summary["size"]
    appeal = settings.donation["en"]
    for kept in (appeal.heading, appeal.url, appeal.button_label, personal.unsubscribe_url):
        assert kept in html
    assert personal.preferences_url in html and settings.sender.postal_address in html
    assert "More in this edition&#39;s web copy" in html or "More in this edition's web" in html
    assert html.index(appeal.heading) < html.index(personal.unsubscribe_url)
    assert record.new_ids[0] in html and summary["left_out"][0] not in html
    assert "over emails.clip_limit" in caplog.text and "leaves out standfirsts" in caplog.text

    manifest = json.loads(outcome.paths["json"].read_text(encoding="utf-8"))
    assert manifest["clipped"] == summary["dropped"]
    assert manifest["new"] == list(record.new_ids)  # the web copy has every one
    web = outcome.paths["web"].read_text(encoding="utf-8")
    assert all(article_id in web for article_id in record.new_ids)
    assert "more_in_web_copy" not in record.text and "web copy" in record.text


def fake_render(context: EditionContext) -> str:
    """HTML whose size is what each part of ``context`` weighs (1 000 bytes a standfirst...)."""
    size = 1_000 + 4_000 * len(context["read_also"]) + 3_000 * len(context["top"])
    size += sum(500 + (1_000 if item["standfirst"] else 0) for item in context["new"])
    return "x" * size


@pytest.fixture
def content(settings: Settings) -> EditionContent:
    articles = [
        make_article(id=f"piece-{n}", published=DEMO_NOW - timedelta(hours=n)) for n in range(11)
    ]
    return EditionContent(
        edition_id="weekly-en-2026-11-23",
        language="en",
        frequency=Frequency.WEEKLY,
        slot=DEMO_NOW,
        new=articles,
        top=[make_article(id=f"top-{n}") for n in range(5)],
        read_also=[make_article(id=f"also-{n}") for n in range(3)],
        since=DEMO_NOW - timedelta(days=7),
        until=DEMO_NOW,
        window=(DEMO_NOW.date(), DEMO_NOW.date()),
    )


@pytest.mark.parametrize(
    ("limit", "dropped", "kept"),
    [
        (100_000, [], 10),
        (40_000, ["read_also"], 10),
        (30_000, ["read_also", "standfirsts"], 10),
        (20_000, ["read_also", "standfirsts", "top_reads"], 10),
        (4_000, ["read_also", "standfirsts", "top_reads", "older_items"], 6),
        (1_200, ["read_also", "standfirsts", "top_reads", "older_items"], 0),
    ],
)
def test_blocks_are_left_out_in_the_documented_order(
    settings: Settings, content: EditionContent, limit: int, dropped: list[str], kept: int
) -> None:
    context = build_context(content, settings, mode="email")
    assert len(fake_render(context)) > 40_000 + 1_000
    fitted = clip.fit(
        context, fake_render, limit=limit, personal=clip.longest_personal(settings, "en")
    )
    assert list(fitted.dropped) == dropped and fitted.fits
    assert [item["id"] for item in fitted.context["new"]] == [
        f"piece-{n}" for n in range(1, 1 + kept)
    ]
    assert fitted.left_out == tuple(f"piece-{n}" for n in range(1 + kept, 11))
    assert (fitted.context["more_url"] is not None) == bool(dropped)
    assert fitted.context["lead"] == context["lead"] and fitted.context["donation"] is not None


def test_what_cannot_fit_is_refused_unless_forced(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(WEEKLY + "[emails]\nclip_limit = 5000\n")
    store = Store.open(settings.store.url)
    try:
        add_articles(store, 3, now=DEMO_NOW)
    finally:
        store.close()
    config = str(settings.path)
    at = DEMO_NOW.isoformat()
    runner = CliRunner()
    build = ["edition", "build", "--language", "en", "--frequency", "weekly", "--at", at]
    refused = runner.invoke(cli, [*build, "--config", config])
    assert refused.exit_code == 1
    message = refused.output
    assert "over emails.clip_limit (5,000 bytes)" in message and "bytes" in message
    assert "--force" in message and "error: edition weekly-en-2026-11-23" in message

    store = Store.open(settings.store.url)
    try:
        with store.write() as tx:
            tx.subscribers.upsert_active(
                SubscriberDetails("reader@example.org", "Reader", "en", Frequency.WEEKLY),
                source="test",
                now=DEMO_NOW,
            )
    finally:
        store.close()
    sent = runner.invoke(cli, ["send", "weekly-en-2026-11-23", "--config", config])
    assert sent.exit_code == 1 and "over emails.clip_limit (5,000 bytes)" in sent.output
    maildir = settings.delivery.maildir
    assert not maildir.exists() or not [p for p in maildir.rglob("*") if p.is_file()]

    forced = runner.invoke(cli, [*build, "--force", "--config", config])
    assert forced.exit_code == 0 and "warning (--force)" in forced.output
    dry = runner.invoke(cli, ["send", "weekly-en-2026-11-23", "--dry-run", "--config", config])
    assert dry.exit_code == 0, dry.output
    really = runner.invoke(cli, ["send", "weekly-en-2026-11-23", "--force", "--config", config])
    assert really.exit_code == 0 and "1 sent" in really.output, really.output


def test_a_scheduled_edition_over_the_limit_is_not_sent(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(WEEKLY + "[emails]\nclip_limit = 5000\n")
    job = next(j for j in jobs_from_settings(settings) if j.name == "edition:weekly:en")
    slot = job.next_slot(DEMO_NOW - timedelta(days=7))
    store = Store.open(settings.store.url)
    try:
        add_articles(store, 3, now=slot - timedelta(hours=2))
        with store.write() as tx:
            tx.subscribers.upsert_active(
                SubscriberDetails("reader@example.org", "Reader", "en", Frequency.WEEKLY),
                source="test",
                now=slot - timedelta(days=30),
            )
        report = run_due(store, settings, now=slot.astimezone(UTC), jobs=[job])
        outcome = report.get(job.name)
        assert outcome is not None and str(outcome.status) == "failed"
        assert "over emails.clip_limit (5,000 bytes)" in outcome.error
        with store.read() as tx:
            assert sum(tx.ledger.counts("weekly-en-2026-11-23").values()) == 0
    finally:
        store.close()
    status = CliRunner().invoke(
        cli, ["status", "--config", str(settings.path)], env={"COLUMNS": "500"}
    )
    assert "over emails.clip_limit (5,000 bytes)" in status.output
