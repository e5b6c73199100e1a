"""JSON Lines and RSS/Atom feeds (file and URL) into the store."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.content.importer import guess_format, import_articles
from broadsheet.store import Store

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>Old site</title><link>https://old.example/</link><description>d</description>
  <language>ru-RU</language>
  <item>
    <title>Нефть &amp; &lt;b&gt;газ&lt;/b&gt;</title>
    <link>https://old.example/ru/neft-i-gaz.html</link>
    <guid isPermaLink="false">urn:uuid:1d7a3c1e-0000-4000-8000-000000000001</guid>
    <pubDate>Thu, 19 Nov 2026 07:00:00 GMT</pubDate>
    <dc:creator>Вера Б.</dc:creator>
    <dc:creator>Anna A.</dc:creator>
    <category domain="https://old.example/sections">Energy</category>
    <category>Sanctions</category>
    <description>Кратко.</description>
    <content:encoded><![CDATA[<p>Текст <a href="/ru/other/">ссылка</a></p><script>x()</script>]]></content:encoded>
    <enclosure url="https://old.example/i/rig.jpg" type="image/jpeg" length="1000"/>
  </item>
  <item>
    <title></title>
    <link>https://old.example/ru/untitled</link>
    <pubDate>Thu, 19 Nov 2026 08:00:00 GMT</pubDate>
  </item>
</channel>
</rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Old</title><id>urn:x</id><updated>2026-11-19T07:00:00Z</updated>
  <entry>
    <title type="html">Ports &amp;amp; &lt;em&gt;ships&lt;/em&gt;</title>
    <id>tag:old.example,2026:ports</id>
    <link rel="alternate" href="https://old.example/en/ports/"/>
    <link rel="alternate" hreflang="ru" href="https://old.example/ru/porty/"/>
    <published>2026-11-18T07:00:00Z</published>
    <updated>2026-11-19T07:00:00Z</updated>
    <author><name>Irina Volkova</name></author>
    <summary>Short.</summary>
    <content type="html">&lt;p&gt;Body&lt;/p&gt;</content>
  </entry>
</feed>
"""


def test_jsonl_imports_good_lines_and_names_bad_ones(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    lines = [
        json.dumps({"id": "one", "title": "One", "published": "2026-11-20T09:00:00+03:00", "body": "*Hi*"}),
        "{not json",
        json.dumps(["a", "list"]),
        "",
        json.dumps({"id": "two", "title": "Two", "language": "ru", "published": "2026-11-21T09:00:00Z",
                    "body_html": "<p onclick='x'>Raw</p>", "authors": "Solo Author"}),
        json.dumps({"id": "three", "published": "2026-11-21T09:00:00Z"}),
    ]  # fmt: skip
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_articles(store, settings, str(path), now=NOW)
    assert report.added == ["one", "two"]
    assert [r.split(": ", 1)[1] for r in report.rejected] == [
        "not valid JSON: Expecting property name enclosed in double quotes (column 2)",
        "expected a JSON object per line",
        "title: missing",
    ]
    assert [r.split(": ", 1)[0].rsplit(":", 1)[1] for r in report.rejected] == ["2", "3", "6"]
    with store.read() as tx:
        one, two = tx.articles.get("one"), tx.articles.get("two")
    assert one and one.body_html == "<p><em>Hi</em></p>"
    assert two and two.body_html == "<p>Raw</p>" and two.authors == ("Solo Author",)


def _check_rss_import(store: Store) -> None:
    with store.read() as tx:
        article = tx.articles.get("neft-i-gaz")
    assert article is not None
    assert article.guid == "urn:uuid:1d7a3c1e-0000-4000-8000-000000000001"
    assert article.title == "Нефть & газ"
    assert article.language == "ru"
    assert article.authors == ("Вера Б.", "Anna A.")
    assert article.section == "Energy"
    assert article.tags == ("Sanctions",)
    assert article.standfirst == "Кратко."
    assert article.image == "https://old.example/i/rig.jpg"
    assert article.url == "https://old.example/ru/neft-i-gaz.html"
    assert article.published == datetime(2026, 11, 19, 7, 0, tzinfo=UTC)
    assert 'href="https://old.example/ru/other/"' in article.body_html
    assert "script" not in article.body_html


def test_an_rss_file(store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "old.rss"
    path.write_text(RSS, encoding="utf-8")
    report = import_articles(store, settings, str(path), now=NOW)
    assert report.added == ["neft-i-gaz"]
    assert report.rejected == [f"{path} entry 2: title: is empty"]
    _check_rss_import(store)
    again = import_articles(store, settings, str(path), now=NOW)
    assert again.unchanged == ["neft-i-gaz"]


def test_an_atom_file_keeps_translations_and_html_titles_become_text(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "old.atom"
    path.write_text(ATOM, encoding="utf-8")
    report = import_articles(store, settings, str(path), fmt="feed", now=NOW)
    assert report.added == ["ports"]
    with store.read() as tx:
        article = tx.articles.get("ports")
    assert article is not None
    assert article.title == "Ports & ships"
    assert dict(article.translations) == {"ru": "porty"}
    assert article.updated == datetime(2026, 11, 19, 7, 0, tzinfo=UTC)
    assert article.language == "en"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "feed.xml").write_text(RSS, encoding="utf-8")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_feed_url(store: Store, settings: Settings, served: str) -> None:
    assert guess_format(f"{served}/feed.xml") == "feed"
    report = import_articles(store, settings, f"{served}/feed.xml", now=NOW)
    assert report.added == ["neft-i-gaz"]
    _check_rss_import(store)


def test_an_unreachable_or_broken_feed_is_one_line(
    store: Store, settings: Settings, served: str, tmp_path: Path
) -> None:
    report = import_articles(store, settings, f"{served}/missing.xml", now=NOW)
    assert report.rejected == [
        f"{served}/missing.xml: cannot fetch the feed: HTTP 404 File not found"
    ]
    junk = tmp_path / "junk.xml"
    junk.write_text("<html><p>not a feed", encoding="utf-8")
    report = import_articles(store, settings, str(junk), fmt="feed", now=NOW)
    assert len(report.rejected) == 1 and "not a readable RSS or Atom feed" in report.rejected[0]


def test_ids_from_feed_links_keep_entries_apart() -> None:
    from broadsheet.content.readers import slug_from_url

    assert slug_from_url("https://x.org/2026/11/ports.html") == "ports"
    assert slug_from_url("https://x.org/en/moscow-wary/") == "moscow-wary"
    assert slug_from_url("https://x.org/posts/first/index.html") == "first"
    assert slug_from_url("https://x.org/posts/second/Index.HTM") == "second"
    # WordPress's default permalinks, and one page for many stories.
    assert slug_from_url("https://x.org/?p=123") == "p-123"
    assert slug_from_url("https://x.org/story?id=5") != slug_from_url("https://x.org/story?id=6")
    assert slug_from_url("https://x.org/caf%C3%A9-cr%C3%A8me") == "cafe-creme"
    # Another script: a digest of the URL, the same on every import.
    cyrillic = slug_from_url("https://x.org/статья")
    assert cyrillic.startswith("entry-") and cyrillic == slug_from_url("https://x.org/статья")
    assert cyrillic != slug_from_url("https://x.org/другая")
