"""The store on SQLite and PostgreSQL: round trips, idempotence, the never-reactivate rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from broadsheet.model import (
    DailyViews,
    EditionRecord,
    Frequency,
    SubscriberDetails,
    SubscriberStatus,
)
from broadsheet.store import Store
from broadsheet.store.schema import articles
from tests.conftest import make_article

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def test_article_round_trip_keeps_every_field(any_store: Store) -> None:
    article = make_article(
        id="zapad-i-vostok",
        language="ru",
        title="Запад и Восток: 🧭 «кавычки» & <разметка>",
        authors=("Вера Б.", "Anna A.", "Zed Z."),
        tags=("Russia - World", "China"),
        translations={"en": "west-and-east"},
        updated=NOW - timedelta(hours=1),
        image="https://news.example/i.jpg",
        image_alt="A map",
    )
    with any_store.write() as tx:
        assert tx.articles.save(article, now=NOW) == "added"
    with any_store.read() as tx:
        stored = tx.articles.get("zapad-i-vostok")
    assert stored == article
    assert stored is not None and stored.published.tzinfo is not None


def test_saving_unchanged_is_a_no_op_and_guid_never_changes(any_store: Store) -> None:
    first = make_article(url="https://news.example/en/old/")
    with any_store.write() as tx:
        tx.articles.save(first, now=NOW)
        assert tx.articles.save(first, now=NOW) == "unchanged"
    moved = make_article(url="https://news.example/en/new/", guid="tag:other,2000:x")
    with any_store.write() as tx:
        assert tx.articles.save(moved, now=NOW) == "updated"
    with any_store.read() as tx:
        stored = tx.articles.get(first.id)
    assert stored is not None
    assert stored.url == "https://news.example/en/new/"
    assert stored.guid == first.guid


def test_saving_a_batch_adds_updates_moves_and_keeps_each_as_save_does(
    any_store: Store,
) -> None:
    kept = make_article(id="kept")
    changed = make_article(id="changed", title="Old title")
    moved = make_article(id="moved", source="old/moved.md")
    with any_store.write() as tx:
        assert tx.articles.save_many([kept, changed, moved], now=NOW) == ["added"] * 3
    later = NOW + timedelta(days=1)
    batch = [
        make_article(id="new", guid="tag:news.example,2026:new"),
        make_article(id="changed", title="New title", guid="tag:other,2000:changed"),
        kept,
        replace(moved, source="new/moved.md"),
    ]
    with any_store.write() as tx:
        outcomes = tx.articles.save_many(batch, now=later)
    assert outcomes == ["added", "updated", "unchanged", "unchanged"]
    with any_store.read() as tx:
        stored = tx.articles.many(["new", "changed", "kept", "moved"])
        rows = {
            row.id: row
            for row in tx.conn.execute(
                select(articles.c.id, articles.c.first_imported, articles.c.last_changed)
            )
        }
    assert stored["new"] == batch[0]
    assert stored["changed"].title == "New title"
    assert stored["changed"].guid == changed.guid  # a guid never changes
    assert stored["kept"] == kept
    assert stored["moved"].source == "new/moved.md"
    assert (rows["changed"].first_imported, rows["changed"].last_changed) == (NOW, later)
    assert rows["moved"].last_changed == NOW and rows["new"].first_imported == later
    with any_store.write() as tx, pytest.raises(ValueError, match="the same article id twice"):
        tx.articles.save_many([kept, kept], now=NOW)


def test_live_hides_drafts_and_future_articles(any_store: Store) -> None:
    with any_store.write() as tx:
        tx.articles.save(make_article(id="past"), now=NOW)
        tx.articles.save(make_article(id="draft", draft=True), now=NOW)
        tx.articles.save(make_article(id="future", published=NOW + timedelta(days=1)), now=NOW)
    with any_store.read() as tx:
        assert [a.id for a in tx.articles.live(NOW)] == ["past"]
        assert tx.articles.count() == 3


def test_views_replace_the_same_day_and_sum_a_window(any_store: Store) -> None:
    day = NOW.date()
    with any_store.write() as tx:
        tx.articles.save(make_article(id="a"), now=NOW)
        tx.views.put([DailyViews("a", day, 10), DailyViews("a", day - timedelta(days=40), 99)])
        tx.views.put([DailyViews("a", day, 7)])
    with any_store.read() as tx:
        assert tx.views.totals(day - timedelta(days=29), day) == {"a": 7}
        assert tx.views.count() == 2


def test_unsubscribed_and_bounced_are_never_reactivated(any_store: Store) -> None:
    with any_store.write() as tx:
        for email in ("gone@example.org", "bounced@example.org"):
            assert (
                tx.subscribers.upsert_active(
                    SubscriberDetails(email, "A", "en", Frequency.WEEKLY), source="csv", now=NOW
                )
                == "added"
            )
        gone = tx.subscribers.by_email("gone@example.org")
        bounced = tx.subscribers.by_email("bounced@example.org")
        assert gone and bounced
        tx.subscribers.set_status(gone.id, SubscriberStatus.UNSUBSCRIBED, now=NOW)
        tx.subscribers.set_status(bounced.id, SubscriberStatus.BOUNCED, now=NOW, reason="550")
    with any_store.write() as tx:
        for email in ("gone@example.org", "bounced@example.org"):
            assert (
                tx.subscribers.upsert_active(
                    SubscriberDetails(email, "A", "en", Frequency.WEEKLY), source="csv", now=NOW
                )
                == "skipped"
            )
        assert tx.subscribers.counts() == {"unsubscribed": 1, "bounced": 1}


def test_active_subscribers_stream_in_pages(any_store: Store) -> None:
    with any_store.write() as tx:
        for i in range(25):
            details = SubscriberDetails(
                f"r{i:02d}@example.org", "", "en" if i % 5 else "ru", Frequency.DAILY
            )
            tx.subscribers.upsert_active(details, source="csv", now=NOW)
    with any_store.read() as tx:
        streamed = list(tx.subscribers.iter_active("en", Frequency.DAILY, page=7))
    assert len(streamed) == 20
    assert [s.id for s in streamed] == sorted(s.id for s in streamed)


def test_editions_and_the_previous_one(any_store: Store) -> None:
    def edition(day: int) -> EditionRecord:
        slot = NOW - timedelta(days=day)
        return EditionRecord(
            id=f"daily-en-{slot.date()}",
            language="en",
            frequency=Frequency.DAILY,
            slot=slot,
            since=slot - timedelta(days=1),
            until=slot,
            new_ids=("a",),
            top_ids=(),
            subject="S",
            html="<p>h</p>",
            text="t",
        )

    with any_store.write() as tx:
        for day in (3, 2, 1):
            tx.editions.save(edition(day), now=NOW)
    with any_store.read() as tx:
        previous = tx.editions.previous("en", Frequency.DAILY, before=NOW)
        assert previous is not None and previous.id == edition(1).id
        assert tx.editions.previous("ru", Frequency.DAILY, before=NOW) is None
        assert [e.id for e in tx.editions.listing(language="en")][0] == edition(1).id


def test_a_generated_link_secret_is_kept(
    any_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    first = any_store.link_secret(None, env_name="BROADSHEET_SECRET")
    assert "BROADSHEET_SECRET is not set" in caplog.text
    assert any_store.link_secret(None, env_name="BROADSHEET_SECRET") == first
    assert any_store.link_secret("from-env", env_name="BROADSHEET_SECRET") == "from-env"


def test_naive_times_are_refused(any_store: Store) -> None:
    naive = make_article(published=datetime(2026, 1, 1))  # noqa: DTZ001 (the point of the test)
    with pytest.raises(Exception, match="naive datetime"), any_store.write() as tx:
        tx.articles.save(naive, now=NOW)
