"""Feeds streamed from the store: the same bytes as from a list, in bounded memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.feeds import build as feeds_build
from broadsheet.feeds import build_feeds, build_feeds_from_store
from broadsheet.model import Article
from broadsheet.store import Store
from tests.conftest import DEMO_NOW, make_article
from tests.feeds.conftest import DemoBuild


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".broadsheet-feeds.json"
    }


def _archive(count: int) -> list[Article]:
    """``count`` articles in two languages, translations paired, some future or drafts."""
    found = []
    for n in range(count):
        language = "en" if n % 2 == 0 else "ru"
        partner = f"a{n + 1:03d}" if n % 2 == 0 else f"a{n - 1:03d}"
        found.append(
            make_article(
                id=f"a{n:03d}",
                language=language,
                # Pairs share a publication time, so ties are ordered by id.
                published=DEMO_NOW - timedelta(hours=3 * (count - n // 2 * 2)),
                title=f"Article {n}",
                tags=(f"t{n % 5}", f"t{n % 3}"),
                authors=(f"Author {n % 4}",),
                section=f"S{n % 3}" if n % 7 else None,
                translations={("ru" if language == "en" else "en"): partner} if n % 6 < 4 else {},
                draft=n % 31 == 30,
            )
        )
    found.append(make_article(id="future", published=DEMO_NOW + timedelta(days=1)))
    return found


def _live(articles: list[Article]) -> list[Article]:
    return [a for a in articles if a.is_live(DEMO_NOW)]


def _save(store: Store, articles: list[Article]) -> None:
    with store.write() as tx:
        for article in articles:
            tx.articles.save(article, now=DEMO_NOW)


def test_the_demo_from_its_store_is_the_demo(
    demo_build: DemoBuild, demo_store: Store, tmp_path: Path
) -> None:
    out = tmp_path / "feeds"
    report = build_feeds_from_store(demo_store, demo_build.settings, DEMO_NOW, out=out)
    assert _files(out) == _files(demo_build.out)
    assert report.feeds == demo_build.report.feeds
    assert report.articles == len(demo_build.articles)
    again = build_feeds_from_store(demo_store, demo_build.settings, DEMO_NOW, out=out)
    assert again.written == [] and again.rendered == 0


@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_streamed_pages_give_the_same_bytes(
    feed_settings: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch: int,
) -> None:
    settings = feed_settings("items = 4\narchive_size = 5")
    store = Store.open(settings.store.url)
    articles = _archive(90)
    _save(store, articles)
    monkeypatch.setattr(feeds_build, "STORE_BATCH", batch)
    monkeypatch.setattr(feeds_build, "SCAN_BATCH", max(1, batch // 2))
    monkeypatch.setattr(feeds_build, "CACHE_PAGES", 1)  # entries forgotten early
    streamed = build_feeds_from_store(store, settings, DEMO_NOW, out=tmp_path / "s", ping=False)
    listed = build_feeds(_live(articles), settings, out=tmp_path / "l", ping=False)
    assert _files(tmp_path / "s") == _files(tmp_path / "l")
    assert streamed.feeds == listed.feeds
    assert any("archive/en/" in p.as_posix() for p in streamed.written)

    # One article changed: the same documents change as from the list.
    edited = make_article(**{**_fields(articles[40]), "title": "Corrected"})
    _save(store, [edited])
    changed = [edited if a.id == edited.id else a for a in articles]
    again = build_feeds_from_store(store, settings, DEMO_NOW, out=tmp_path / "s", ping=False)
    listed_again = build_feeds(_live(changed), settings, out=tmp_path / "l", ping=False)
    assert _files(tmp_path / "s") == _files(tmp_path / "l")
    names = sorted(p.relative_to(tmp_path / "s").as_posix() for p in again.written)
    assert names == sorted(p.relative_to(tmp_path / "l").as_posix() for p in listed_again.written)
    assert names and len(names) < len(streamed.written) // 4
    store.close()


def _fields(article: Article) -> dict[str, object]:
    return {
        "id": article.id,
        "language": article.language,
        "published": article.published,
        "tags": article.tags,
        "authors": article.authors,
        "section": article.section,
        "translations": dict(article.translations),
        "draft": article.draft,
    }


def test_iter_live_pages_in_feed_order(settings: Settings, store: Store) -> None:
    with store.write() as tx:
        assert tx.articles.add_many(_archive(40), now=DEMO_NOW) == 41
    with store.read() as tx:
        everything = [a.id for a in tx.articles.live(DEMO_NOW)]
        assert [a.id for a in tx.articles.iter_live(DEMO_NOW, batch=3)] == everything
        oldest_first = tx.articles.iter_live(DEMO_NOW, newest_first=False, batch=4)
        assert [a.id for a in oldest_first] == everything[::-1]
        english = [a.id for a in tx.articles.live(DEMO_NOW, language="en")]
        assert [a.id for a in tx.articles.iter_live(DEMO_NOW, language="en", batch=2)] == english
        light = list(tx.articles.iter_live(DEMO_NOW, bodies=False, batch=5))
        assert [a.id for a in light] == everything
        assert all(a.body_html == "" and a.content_hash for a in light)
        prints = list(tx.articles.live_fingerprints(DEMO_NOW, batch=6))
        assert [p[0] for p in prints] == everything
        assert tx.articles.live_counts(DEMO_NOW) == {
            "en": sum(1 for a in tx.articles.live(DEMO_NOW) if a.language == "en"),
            "ru": sum(1 for a in tx.articles.live(DEMO_NOW) if a.language == "ru"),
        }
        section = [a.id for a in tx.articles.live(DEMO_NOW) if a.section == "S1"]
        assert [a.id for a in tx.articles.iter_live(DEMO_NOW, section="S1", batch=2)] == section


def test_streamed_build_on_postgresql(
    make_settings: Callable[..., Settings],
    pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.conftest import BASE_CONFIG

    base = BASE_CONFIG.replace('url = "sqlite:///broadsheet.db"', f'url = "{pg_url}"')
    settings = make_settings("[feeds]\nitems = 4\narchive_size = 5\n", base=base)
    store = Store.open(settings.store.url)
    try:
        articles = _archive(60)
        _save(store, articles)
        monkeypatch.setattr(feeds_build, "STORE_BATCH", 7)
        streamed = build_feeds_from_store(store, settings, DEMO_NOW, out=tmp_path / "s", ping=False)
        build_feeds(_live(articles), settings, out=tmp_path / "l", ping=False)
        assert _files(tmp_path / "s") == _files(tmp_path / "l")
        again = build_feeds_from_store(store, settings, DEMO_NOW, out=tmp_path / "s", ping=False)
        assert streamed.written and again.written == [] and again.rendered == 0
    finally:
        store.close()
