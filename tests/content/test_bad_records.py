"""Bad records beside good ones in JSON Lines, feeds and CSV: the good ones still go in."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from broadsheet.config import Settings
from broadsheet.content.importer import import_articles
from broadsheet.content.subscribers import import_subscribers
from broadsheet.store import Store

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def _jsonl(path: Path, *records: dict[str, object] | str) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _record(article_id: str, **extra: object) -> dict[str, object]:
    return {
        "id": article_id,
        "title": f"About {article_id}",
        "language": "en",
        "published": "2026-11-20T09:00:00Z",
        "body": "Text.",
        **extra,
    }


def test_a_guid_used_twice_is_a_rejected_record_not_a_crash(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = _jsonl(
        tmp_path / "a.jsonl",
        _record("one", guid="urn:x:1"),
        _record("two", guid="urn:x:1"),
        _record("three"),
    )
    report = import_articles(store, settings, str(path), now=NOW)
    assert report.added == ["one", "three"]
    (rejected,) = report.rejected
    assert "a.jsonl:2: guid: 'urn:x:1' is already the guid of" in rejected
    later = _jsonl(tmp_path / "b.jsonl", _record("four", guid="urn:x:1"), _record("five"))
    again = import_articles(store, settings, str(later), now=NOW)
    assert again.added == ["five"]
    assert "already the guid of the stored article 'one'" in again.rejected[0]


def test_line_separators_inside_strings_and_deep_nesting(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = _jsonl(
        tmp_path / "u.jsonl",
        _record("sep", title="Line\u2028separated\x85title"),
        '{"x":' + "[" * 100_000 + "]" * 100_000 + "}",
        _record("after"),
    )
    report = import_articles(store, settings, str(path), now=NOW)
    assert report.added == ["sep", "after"]
    (rejected,) = report.rejected
    assert rejected.endswith("u.jsonl:2: not valid JSON: nested too deeply")


def test_a_cut_off_feed_changes_nothing_stored(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    whole = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        "<item><title>Cut</title><link>https://news.example/cut/</link>"
        "<guid>urn:cut</guid><pubDate>Fri, 20 Nov 2026 09:00:00 GMT</pubDate>"
        "<description>The first paragraph. The second paragraph.</description></item>"
        "</channel></rss>"
    )
    feed = tmp_path / "f.xml"
    feed.write_text(whole, encoding="utf-8")
    assert import_articles(store, settings, str(feed), now=NOW).added == ["cut"]
    feed.write_text(whole[: whole.index("The second")], encoding="utf-8")
    report = import_articles(store, settings, str(feed), now=NOW)
    assert report.rejected and "ends before its XML does" in report.rejected[0]
    assert not report.updated
    with store.read() as tx:
        kept = tx.articles.get("cut")
    assert kept is not None and "second paragraph" in kept.body_html


def test_a_csv_row_with_too_many_cells_is_rejected_alone(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text(
        "email,name,language,frequency,topics\n"
        "a@example.com,A,en,daily,\n"
        "b@example.com,B,en,weekly,,extra\n"
        "c@example.com,C,en,weekly,,\n",
        encoding="utf-8",
    )
    report = import_subscribers(store, settings, path, now=NOW)
    assert sorted(report.added) == ["a@example.com", "c@example.com"]
    (rejected,) = report.rejected
    assert rejected.endswith("subscribers.csv:3: 6 columns where the header has 5")


def test_xml_that_is_not_a_feed_is_named_as_such(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    sitemap = tmp_path / "sitemap.xml"
    sitemap.write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://news.example/</loc></url></urlset>",
        encoding="utf-8",
    )
    report = import_articles(store, settings, str(sitemap), fmt="feed", now=NOW)
    (rejected,) = report.rejected
    assert "sitemap.xml: not an RSS or Atom feed" in rejected
