"""The demo publication's feeds: every document validated, rebuilds byte-identical.

Each RSS, Atom and JSON document the demo produces (current feeds and every
archive page) is parsed with feedparser (bozo false, expected entries,
authors, links and dates), every Atom document is validated against the
RFC 4287 RELAX NG schema, and every JSON Feed document is checked for the
fields JSON Feed 1.1 requires.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from lxml import etree

from broadsheet.content.importer import import_articles
from broadsheet.feeds.build import build_feeds
from broadsheet.model import Article
from broadsheet.store import Store
from tests.conftest import DEMO_NOW, atom_schema_path
from tests.feeds.conftest import DemoBuild

FORMATS = ("rss", "atom", "json")


def documents(out: Path, suffix: str) -> list[Path]:
    found = out.rglob(f"*.{suffix}")
    return sorted(p for p in found if not p.name.startswith(".") and p.name != "index.json")


def parsed_time(value: Any) -> datetime:
    return datetime(*value[:6], tzinfo=UTC)  # type: ignore[misc]


def test_every_set_is_built_with_index(demo_build: DemoBuild) -> None:
    index = json.loads((demo_build.out / "index.json").read_text(encoding="utf-8"))
    feeds = index["feeds"]
    keys = {"path", "url", "format", "language", "scope", "title", "items"}
    assert all(keys <= set(feed) for feed in feeds)
    scopes = {feed["scope"] for feed in feeds}
    assert scopes == {"site", "language", "section", "tag", "author"}
    sections = {a.section for a in demo_build.articles if a.section}
    for section in sections:
        for fmt in FORMATS:
            assert any(
                f["scope"] == "section"
                and f["name"] == section
                and f["format"] == fmt
                and f["language"] is None
                for f in feeds
            ), (section, fmt)
    for feed in feeds:
        assert (demo_build.out / feed["path"]).is_file()
        assert feed["url"] == f"{demo_build.settings.feeds_url}/{feed['path']}"
    assert (demo_build.out / "feed.xsl").is_file()
    assert demo_build.report.feeds == feeds


def test_every_atom_document_validates_against_rfc4287(demo_build: DemoBuild) -> None:
    schema = etree.RelaxNG(etree.parse(str(atom_schema_path())))
    atom = documents(demo_build.out, "atom")
    assert len(atom) > 50 and any("archive" in p.parts for p in atom)
    for path in atom:
        document = etree.parse(str(path))
        assert schema.validate(document), f"{path}: {schema.error_log.last_error}"


def live_by_guid(demo: DemoBuild) -> dict[str, Article]:
    """Live articles by guid, with authors, section and tags as their language names them."""
    site = demo.settings.site
    return {
        a.guid: replace(
            a,
            authors=tuple(site.author_in(n, a.language) for n in a.authors),
            section=site.section_in(a.section, a.language) if a.section else a.section,
            tags=tuple(site.tag_in(t, a.language) for t in a.tags),
        )
        for a in demo.articles
    }


@pytest.mark.parametrize("suffix", ["rss", "atom"])
def test_every_xml_document_parses_with_expected_entries(
    demo_build: DemoBuild, suffix: str
) -> None:
    by_guid = live_by_guid(demo_build)
    by_url = {a.url: a for a in demo_build.articles}
    for path in documents(demo_build.out, suffix):
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, f"{path}: {parsed.get('bozo_exception')}"
        assert parsed.entries, path
        self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
        assert self_links == [
            f"{demo_build.settings.feeds_url}/{path.relative_to(demo_build.out).as_posix()}"
        ]
        previous = None
        for entry in parsed.entries:
            article = by_guid[entry.id]
            assert entry.title == article.title
            assert entry.link == article.url
            # One author element holding the whole byline (docs/feeds.md).
            byline = [", ".join(article.authors)] if article.authors else []
            assert [a.name for a in entry.get("authors", [])] == byline
            assert parsed_time(entry.published_parsed) == article.published.replace(microsecond=0)
            terms = [t.term for t in entry.get("tags", [])]
            assert terms == [*([article.section] if article.section else []), *article.tags]
            for link in entry.links:
                # The demo's site is where `broadsheet serve` answers.
                assert link.href.startswith(("https://", "http://localhost:8080/")), link
                if link.rel == "alternate" and link.get("hreflang") and link.href != article.url:
                    assert by_url[link.href].language == link.hreflang
            if previous is not None:
                assert entry.published_parsed <= previous  # newest first
            previous = entry.published_parsed


def test_every_json_document_has_the_required_fields(demo_build: DemoBuild) -> None:
    by_guid = live_by_guid(demo_build)
    for path in documents(demo_build.out, "json"):
        feed = json.loads(path.read_text(encoding="utf-8"))
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        assert isinstance(feed["title"], str) and feed["title"]
        assert feed["feed_url"].endswith(path.relative_to(demo_build.out).as_posix())
        assert feed["items"]
        for item in feed["items"]:
            article = by_guid[item["id"]]
            assert item["content_html"] and item["url"] == article.url
            assert [a["name"] for a in item.get("authors", [])] == list(article.authors)
            assert datetime.fromisoformat(item["date_published"]) == article.published.replace(
                microsecond=0
            )
            if article.image:
                assert item["image"] == article.image
        for key in feed:
            assert key in {
                "version",
                "title",
                "home_page_url",
                "feed_url",
                "description",
                "user_comment",
                "next_url",
                "icon",
                "favicon",
                "authors",
                "language",
                "expired",
                "hubs",
                "items",
            } or key.startswith("_")


def test_archives_link_and_cover_the_whole_history(demo_build: DemoBuild) -> None:
    out, settings = demo_build.out, demo_build.settings
    size = settings.feeds.archive_size
    for fmt in ("atom", "rss"):
        current = feedparser.parse((out / f"all.{fmt}").read_bytes())
        seen = {e.id for e in current.entries}
        link = {link.rel: link.href for link in current.feed.links}.get("prev-archive")
        pages = 0
        while link:
            path = out / link.removeprefix(settings.feeds_url + "/")
            page = feedparser.parse(path.read_bytes())
            rels = {link.rel: link.href for link in page.feed.links}
            assert rels["current"] == f"{settings.feeds_url}/all.{fmt}"
            if pages:  # every page but the newest links the page after it
                assert (out / rels["next-archive"].removeprefix(settings.feeds_url + "/")).is_file()
            else:  # the newest: the page after it does not exist yet
                assert "next-archive" not in rels
            assert len(page.entries) == size
            seen |= {e.id for e in page.entries}
            link = rels.get("prev-archive")
            pages += 1
        assert pages == len(demo_build.articles) // size
        assert seen == {a.guid for a in demo_build.articles}
    archive_xml = (out / "archive/all/1.atom").read_bytes()
    assert b"<fh:archive/>" in archive_xml
    assert b'xmlns:fh="http://purl.org/syndication/history/1.0"' in archive_xml


def test_second_build_rewrites_nothing(demo_build: DemoBuild, tmp_path: Path) -> None:
    out = tmp_path / "feeds"
    shutil.copytree(demo_build.out, out)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    # The copy keeps no mtimes, so the first build re-checks every byte and
    # rewrites nothing; the second skips rendering altogether.
    for _ in range(2):
        time.sleep(0.01)
        report = build_feeds(demo_build.articles, demo_build.settings, out=out, ping=False)
        assert report.written == [] and report.removed == []
    assert report.rendered == 0
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    assert {p: v for p, v in after.items() if p.name != ".broadsheet-feeds.json"} == {
        p: v for p, v in before.items() if p.name != ".broadsheet-feeds.json"
    }


def test_fresh_build_is_byte_identical(demo_build: DemoBuild, tmp_path: Path) -> None:
    out = tmp_path / "again"
    build_feeds(list(reversed(demo_build.articles)), demo_build.settings, out=out, ping=False)
    for path in demo_build.out.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            assert (out / path.relative_to(demo_build.out)).read_bytes() == path.read_bytes(), path


@pytest.mark.parametrize("suffix", ["atom", "rss"])
def test_import_round_trip(
    demo_build: DemoBuild, demo_settings: Any, suffix: str, tmp_path: Path
) -> None:
    """Our own feeds import back as the same articles (titles, authors, section, tags, guid)."""
    store = Store.open(f"sqlite:///{tmp_path / 'round.db'}")
    try:
        report = import_articles(
            store, demo_settings, str(demo_build.out / f"all.{suffix}"), fmt="feed", now=DEMO_NOW
        )
        assert report.ok, report.rejected
        with store.read() as tx:
            imported = {a.guid: a for a in tx.articles.all()}
    finally:
        store.close()
    # Feeds name authors, sections and tags in each article's language;
    # the import takes the names it is shown.
    by_guid = live_by_guid(demo_build)
    shown = [by_guid[a.guid] for a in demo_build.articles[: demo_build.settings.feeds.items]]
    assert set(imported) == {a.guid for a in shown}
    for original in shown:
        copy = imported[original.guid]
        assert copy.title == original.title
        # Several authors come back as the one byline readers are shown:
        # the importer takes one author per author element.
        byline = (", ".join(original.authors),) if original.authors else ()
        assert copy.authors == byline
        assert copy.section == original.section
        assert copy.tags == original.tags
        assert copy.language == original.language
        assert copy.url == original.url
        assert copy.published == original.published
        assert copy.image == original.image
        assert dict(copy.translations).keys() <= dict(original.translations).keys()


def test_no_file_is_left_half_written(demo_build: DemoBuild) -> None:
    leftovers = list(demo_build.out.rglob("*.tmp"))
    assert leftovers == []
    assert os.access(demo_build.out / "all.atom", os.R_OK)
