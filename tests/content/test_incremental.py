"""Incremental import: unchanged Markdown files are recognised before they are parsed."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.content import importer
from broadsheet.content.importer import ImportReport, import_articles
from broadsheet.content.readers import parse_markdown
from broadsheet.store import Store
from tests.content.conftest import front

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
AN_HOUR_AGO = NOW.timestamp()  # far in the past for the file system's clock

NAMES = [f"article-{n}" for n in range(6)]


def _age(path: Path, seconds: float = AN_HOUR_AGO) -> None:
    """Give ``path`` an old modification time (a fresh one is not trusted)."""
    os.utime(path, (seconds, seconds))


@pytest.fixture
def folder(tmp_path: Path, write_md: Callable[..., Path]) -> Path:
    for name in NAMES:
        _age(write_md(name, front(title=f"Title of {name}")))
    return tmp_path / "content"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources parse_markdown is called for, in order."""
    calls: list[str] = []

    def counting(data: bytes, path: Path, source: str):  # type: ignore[no-untyped-def]
        calls.append(path.name)
        return parse_markdown(data, path, source)

    monkeypatch.setattr(importer, "parse_markdown", counting)
    return calls


def run(store: Store, settings: Settings, folder: Path) -> ImportReport:
    return import_articles(store, settings, str(folder), now=NOW)


def test_an_unchanged_folder_is_neither_read_nor_parsed(
    store: Store, settings: Settings, folder: Path, parses: list[str]
) -> None:
    first = run(store, settings, folder)
    assert (first.parsed, len(first.added)) == (6, 6)
    parses.clear()
    again = run(store, settings, folder)
    assert parses == []
    assert (again.not_read, again.read, again.parsed) == (6, 0, 0)
    assert sorted(again.unchanged) == NAMES
    assert again.ok and not again.added and not again.updated


def test_a_changed_file_is_the_only_one_parsed(
    store: Store,
    settings: Settings,
    folder: Path,
    parses: list[str],
    write_md: Callable[..., Path],
) -> None:
    run(store, settings, folder)
    parses.clear()
    _age(write_md("article-3", front(title="A new title")), AN_HOUR_AGO + 60)
    again = run(store, settings, folder)
    assert parses == ["article-3.md"]
    assert again.updated == ["article-3"]
    assert (again.not_read, again.read, again.parsed) == (5, 0, 1)
    with store.read() as tx:
        assert tx.articles.get("article-3").title == "A new title"  # type: ignore[union-attr]
    parses.clear()
    assert run(store, settings, folder).not_read == 6
    assert parses == []


def test_a_touched_file_is_read_but_not_parsed_and_its_time_kept(
    store: Store, settings: Settings, folder: Path, parses: list[str]
) -> None:
    run(store, settings, folder)
    parses.clear()
    _age(folder / "article-2.md", AN_HOUR_AGO + 60)
    again = run(store, settings, folder)
    assert parses == []
    assert (again.not_read, again.read, again.parsed) == (5, 1, 0)
    assert sorted(again.unchanged) == NAMES
    assert run(store, settings, folder).not_read == 6


def test_a_changed_site_url_or_time_zone_parses_everything_again(
    store: Store, settings: Settings, folder: Path, parses: list[str]
) -> None:
    run(store, settings, folder)
    parses.clear()
    moved = replace(settings, site=replace(settings.site, url="https://other.example/"))
    again = run(store, moved, folder)
    assert len(parses) == 6 and again.parsed == 6
    assert sorted(again.updated) == NAMES
    with store.read() as tx:
        article = tx.articles.get("article-0")
    assert article is not None and article.url.startswith("https://other.example/")
    zoned = replace(moved, site=replace(moved.site, timezone="Asia/Tokyo"))
    assert run(store, zoned, folder).parsed == 6
    assert run(store, zoned, folder).not_read == 6


def test_a_freshly_written_file_is_read_again_but_not_parsed(
    store: Store,
    settings: Settings,
    folder: Path,
    parses: list[str],
    write_md: Callable[..., Path],
) -> None:
    """A time within two seconds of the read may hide a later write in the same tick."""
    write_md("fresh", front(title="Just written"))
    run(store, settings, folder)
    parses.clear()
    again = run(store, settings, folder)
    assert parses == []
    assert (again.not_read, again.read) == (6, 1)


def test_a_file_with_warnings_is_parsed_every_time_and_warns_again(
    store: Store,
    settings: Settings,
    folder: Path,
    parses: list[str],
    write_md: Callable[..., Path],
) -> None:
    _age(write_md("odd", front(colour="blue")))
    run(store, settings, folder)
    parses.clear()
    again = run(store, settings, folder)
    assert parses == ["odd.md"]
    assert any("colour: unknown field" in w for w in again.warnings)


def test_a_rejected_file_is_reported_again_and_stores_nothing(
    store: Store,
    settings: Settings,
    folder: Path,
    parses: list[str],
    write_md: Callable[..., Path],
) -> None:
    run(store, settings, folder)
    original = (folder / "article-1.md").read_bytes()
    _age(write_md("article-1", front(title="Broken", published="soon")), AN_HOUR_AGO + 60)
    for _ in range(2):
        report = run(store, settings, folder)
        assert len(report.rejected) == 1 and "article-1.md:4: published" in report.rejected[0]
        assert report.not_read == 5
    with store.read() as tx:
        assert tx.articles.get("article-1").title == "Title of article-1"  # type: ignore[union-attr]
    (folder / "article-1.md").write_bytes(original)
    _age(folder / "article-1.md", AN_HOUR_AGO + 120)
    parses.clear()
    restored = run(store, settings, folder)
    assert restored.ok and parses == [] and restored.read == 1


def test_an_article_gone_from_the_store_is_imported_again(
    store: Store, settings: Settings, folder: Path
) -> None:
    run(store, settings, folder)
    with store.write() as tx:
        tx.articles.delete(["article-4"])
    again = run(store, settings, folder)
    assert again.added == ["article-4"] and again.not_read == 5


def test_batches_keep_order_duplicates_and_translation_links(
    store: Store,
    settings: Settings,
    tmp_path: Path,
    write_md: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Across batches: a link to an article further on is no warning; a duplicate id is."""
    monkeypatch.setattr(importer, "BATCH", 2)
    monkeypatch.chdir(tmp_path)
    write_md("a-first", front(translations="{ru: z-last}"))
    write_md("b", front(id="dup"))
    write_md("c", front())
    write_md("d", front())
    write_md("e", front(id="dup"))
    write_md("f", front(translations="{ru: nowhere}"))
    write_md("z-last", front(language="ru"))
    report = run(store, settings, tmp_path / "content")
    assert sorted(report.added) == ["a-first", "c", "d", "dup", "f", "z-last"]
    assert report.rejected == [
        "content/e.md:5: id: 'dup' is already the id of content/b.md; ids must be unique"
    ]
    assert report.warnings == [
        "content/f.md: translations: no article 'nowhere' (ru) yet; "
        "the link appears once it is imported"
    ]


def test_the_cli_summary_counts_files_not_read(
    tmp_path: Path, settings: Settings, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["import", "content", "--config", str(settings.path)]
    first = CliRunner().invoke(cli, args)
    assert "6 added, 0 updated, 0 unchanged, 0 rejected" in first.output
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert "0 added, 0 updated, 6 unchanged, 0 rejected" in again.output
    assert "(6 files not read, 0 read but not parsed, 0 parsed)" in again.output


def test_a_file_reverted_after_an_import_that_warned_is_parsed_again(
    store: Store,
    settings: Settings,
    folder: Path,
    parses: list[str],
    write_md: Callable[..., Path],
) -> None:
    """The state kept from before describes an article the store no longer holds."""
    run(store, settings, folder)
    original = (folder / "article-5.md").read_bytes()
    _age(write_md("article-5", front(title="Changed", colour="blue")), AN_HOUR_AGO + 60)
    assert run(store, settings, folder).updated == ["article-5"]
    (folder / "article-5.md").write_bytes(original)
    _age(folder / "article-5.md", AN_HOUR_AGO + 120)
    parses.clear()
    again = run(store, settings, folder)
    assert parses == ["article-5.md"] and again.updated == ["article-5"]
    with store.read() as tx:
        assert tx.articles.get("article-5").title == "Title of article-5"  # type: ignore[union-attr]


def test_an_article_taken_over_by_json_lines_is_parsed_again_from_its_file(
    store: Store, settings: Settings, folder: Path, parses: list[str], tmp_path: Path
) -> None:
    run(store, settings, folder)
    moved = folder / "article-0.md"
    hidden = tmp_path / "article-0.md.away"
    moved.rename(hidden)
    feed = tmp_path / "more.jsonl"
    feed.write_text(
        '{"id": "article-0", "title": "From JSON", "language": "en", '
        '"published": "2026-11-20T09:00:00+03:00", "body": "Text."}\n',
        encoding="utf-8",
    )
    assert import_articles(store, settings, str(feed), now=NOW).updated == ["article-0"]
    hidden.rename(moved)
    parses.clear()
    again = run(store, settings, folder)
    assert parses == ["article-0.md"]
    assert len(again.rejected) == 1 and "already the id of" in again.rejected[0]
