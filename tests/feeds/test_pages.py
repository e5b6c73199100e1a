"""Feeds for people: the HTML page beside every feed, and autodiscovery elsewhere.

Every current feed of the demo has its page (``all.html`` beside
``all.rss``): its newest entries with their links, words in the feed's
language, a link to each format and ``<link rel="alternate">`` tags naming
the feeds' URLs. Pages are byte-stable, rewritten only when they change and
removed with their feed. One page is opened in headless Chromium. The
edition's web copy and the archive page carry autodiscovery links to the
feeds of their language.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html

from broadsheet.feeds.build import build_feeds
from broadsheet.feeds.model import MEDIA_TYPES
from broadsheet.feeds.pages import page_path
from tests.emails.demo import DemoEditions, build_demo
from tests.feeds.conftest import DemoBuild

CHROMIUM = Path("/usr/bin/chromium")


def _feeds_by_page(out: Path) -> dict[str, list[dict[str, Any]]]:
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))["feeds"]
    pages: dict[str, list[dict[str, Any]]] = {}
    for feed in index:
        base = feed["path"].rsplit(".", 1)[0]
        pages.setdefault(page_path(base), []).append(feed)
    return pages


def _alternates(tree: Any) -> dict[str, str]:
    return {
        link.get("href"): link.get("type")
        for link in tree.xpath("/html/head/link[@rel='alternate']")
    }


def test_every_feed_has_its_page(demo_build: DemoBuild) -> None:
    out = demo_build.out
    pages = _feeds_by_page(out)
    assert "all.html" in pages and "en/section/foreign-policy.html" in pages
    for path, feeds in pages.items():
        tree = lxml_html.fromstring((out / path).read_bytes())
        assert _alternates(tree) == {f["url"]: MEDIA_TYPES[f["format"]] for f in feeds}, path
        buttons = tree.xpath("//a[@class='format']/@href")
        assert sorted(buttons) == sorted(f["url"] for f in feeds), path
        entries = tree.xpath("//li[@class='entry']")
        assert len(entries) == feeds[0]["items"] > 0, path
        for entry in entries:
            assert entry.xpath("string(.//a/@href)").startswith("http"), path
            assert entry.xpath("string(.//a)").strip(), path
            assert entry.xpath("string(.//time/@datetime)"), path
        assert tree.xpath("string(/html/@lang)") == (feeds[0]["language"] or "en"), path


def test_the_page_shows_the_feeds_entries_and_speaks_its_language(demo_build: DemoBuild) -> None:
    out = demo_build.out
    feed = json.loads((out / "ru.json").read_text(encoding="utf-8"))
    tree = lxml_html.fromstring((out / "ru.html").read_bytes())
    links = [a.get("href") for a in tree.xpath("//li[@class='entry']/a")]
    assert links == [item["url"] for item in feed["items"]]
    titles = [a.text_content() for a in tree.xpath("//li[@class='entry']/a")]
    assert titles == [item["title"] for item in feed["items"]]
    text = tree.text_content()
    assert "Лента" in text and "Подписаться на ленту" in text and "Последние материалы" in text
    english = lxml_html.fromstring((out / "en.html").read_bytes()).text_content()
    assert "A feed is a list of the newest articles" in english
    bylines = tree.xpath("//span[@class='byline']/text()")
    assert bylines and all(b.startswith("Авторы: ") for b in bylines)


def test_pages_are_stable_and_follow_their_feeds(demo_build: DemoBuild, tmp_path: Path) -> None:
    articles, settings = demo_build.articles, demo_build.settings
    build_feeds(articles, settings, out=tmp_path, ping=False)
    first = {p: p.read_bytes() for p in tmp_path.rglob("*.html")}
    assert first
    again = build_feeds(articles, settings, out=tmp_path, ping=False)
    assert not [p for p in again.written if p.suffix == ".html"]
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.html")} == first
    tag = next(t for a in articles for t in a.tags)
    fewer = [a for a in articles if tag not in a.tags]  # its feed goes, and its page with it
    report = build_feeds(fewer, settings, out=tmp_path, ping=False)
    gone = [p for p in report.removed if p.suffix == ".html"]
    assert gone and all(not p.exists() for p in gone)
    assert {p.with_suffix(".atom") for p in gone} <= set(report.removed)


@pytest.fixture(scope="module")
def editions(demo_store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DemoEditions:
    return build_demo(demo_store_dir, tmp_path_factory.mktemp("pages-editions") / "polynya")


@pytest.mark.parametrize("language", ["en", "ru"])
def test_web_copy_and_archive_carry_autodiscovery(editions: DemoEditions, language: str) -> None:
    base = editions.settings.feeds_url
    expected = {f"{base}/{language}.{fmt}": MEDIA_TYPES[fmt] for fmt in ("rss", "atom", "json")}
    for role in ("web", "archive"):
        tree = lxml_html.fromstring(editions.path(language, role).read_bytes())
        assert _alternates(tree) == expected, role
    email = lxml_html.fromstring(editions.path(language, "html").read_bytes())
    assert _alternates(email) == {}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.mark.browser
@pytest.mark.slow
def test_a_page_opened_from_disk_shows_its_entries(browser: Any, demo_build: DemoBuild) -> None:
    path = demo_build.out / "en" / "section" / "foreign-policy.html"
    page = browser.new_page(viewport={"width": 375, "height": 900})
    try:
        page.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
        )
        page.goto(path.as_uri(), wait_until="load")
        entries = page.locator("li.entry")
        assert entries.count() > 0
        assert entries.first.is_visible()
        assert entries.first.locator("a").inner_text().strip()
        assert page.locator("a.format").first.is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the page is {width}px wide on a 375px screen"
        if folder := os.environ.get("BROADSHEET_ARTIFACTS"):
            page.screenshot(path=str(Path(folder) / "feed-page.png"), full_page=True)
    finally:
        page.close()
