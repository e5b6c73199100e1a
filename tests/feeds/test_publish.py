"""Writing the output folder: atomic, only changes, each path once, stale feeds removed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest

from broadsheet.config import Settings
from broadsheet.errors import RenderError
from broadsheet.feeds.build import build_feeds
from broadsheet.feeds.publish import STATE_FILE, Writer, write_atomic
from tests.conftest import DEMO_NOW, make_article


def test_unchanged_bytes_are_not_rewritten(tmp_path: Path) -> None:
    writer = Writer(tmp_path)
    assert writer.write("a/b.xml", b"one")
    path = tmp_path / "a" / "b.xml"
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    writer.finish()
    again = Writer(tmp_path)
    assert not again.write("a/b.xml", b"one")
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert again.unchanged == [path]
    assert again.write("c.xml", b"two")


def test_the_same_path_twice_is_refused(tmp_path: Path) -> None:
    writer = Writer(tmp_path)
    writer.write("x.atom", b"1")
    with pytest.raises(RenderError, match="two feeds were about to write the same file"):
        writer.write("x.atom", b"2")


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "f.json"
    write_atomic(target, b"{}")
    write_atomic(target, b"[]")
    assert target.read_bytes() == b"[]"
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_a_file_in_pieces_is_written_whole(tmp_path: Path) -> None:
    # More pieces than one writev call takes, empty ones among them.
    pieces = [bytes([n % 251]) * (n % 7) for n in range(3000)]
    writer = Writer(tmp_path)
    assert writer.write("deep/er/pieces.bin", pieces)
    path = tmp_path / "deep" / "er" / "pieces.bin"
    assert path.read_bytes() == b"".join(pieces)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    writer.finish()
    assert not Writer(tmp_path).write("deep/er/pieces.bin", pieces)
    assert Writer(tmp_path).write("deep/er/pieces.bin", [*pieces, b"!"])
    assert path.read_bytes() == b"".join(pieces) + b"!"
    assert [p.name for p in path.parent.iterdir()] == ["pieces.bin"]


def test_recorded_status_is_the_file_on_disk(tmp_path: Path) -> None:
    status = write_atomic(tmp_path / "f.atom", [b"<feed>", b"</feed>"])
    on_disk = (tmp_path / "f.atom").stat()
    assert (status.st_size, status.st_mtime_ns) == (on_disk.st_size, on_disk.st_mtime_ns)


def test_skips_rendering_unchanged_documents_and_notices_edits(
    feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = feed_settings("items = 2\narchive_size = 2")
    articles = [
        make_article(id=f"a{i}", published=DEMO_NOW - timedelta(days=i), tags=(f"t{i % 2}",))
        for i in range(7)
    ]
    first = build_feeds(articles, settings, out=tmp_path, ping=False)
    assert first.rendered > 0 and not first.unchanged
    second = build_feeds(articles, settings, out=tmp_path, ping=False)
    assert second.rendered == 0 and second.written == []
    # A hand-edited file is rendered and put right again.
    victim = tmp_path / "all.atom"
    good = victim.read_bytes()
    victim.write_bytes(b"broken")
    third = build_feeds(articles, settings, out=tmp_path, ping=False)
    assert third.written == [victim] and victim.read_bytes() == good
    # One article changed: only the documents holding it are written.
    changed = [*articles]
    changed[6] = make_article(
        id="a6", published=DEMO_NOW - timedelta(days=6), tags=("t0",), title="New"
    )
    fourth = build_feeds(changed, settings, out=tmp_path, ping=False)
    names = {p.relative_to(tmp_path).as_posix() for p in fourth.written}
    assert "archive/all/1.atom" in names and "all.atom" not in names
    assert "archive/all/2.atom" not in names
    assert "tag/t0.atom" not in names  # a6 is not among t0's newest two


def test_full_archive_pages_keep_their_bytes_as_articles_arrive(
    feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = feed_settings("items = 3\narchive_size = 3")
    articles = [
        make_article(id=f"a{i:02d}", published=DEMO_NOW - timedelta(days=i))
        for i in range(40, 0, -1)
    ]
    build_feeds(articles[:20], settings, out=tmp_path, ping=False)
    folder = tmp_path / "archive" / "all"
    newest = folder / f"{20 // 3}.atom"
    # Pages that already have a successor: the newest page gains its
    # next-archive link in the next build, the others never change.
    pages = {p: p.read_bytes() for p in folder.iterdir() if p.stem != newest.stem}
    mtimes = {p: p.stat().st_mtime_ns for p in pages}
    assert b'rel="next-archive"' not in newest.read_bytes()
    report = build_feeds(articles, settings, out=tmp_path, ping=False)
    for path, data in pages.items():
        assert path.read_bytes() == data
        assert path.stat().st_mtime_ns == mtimes[path]
        assert path not in report.written
    assert newest in report.written
    assert b'rel="next-archive"' in newest.read_bytes()
    assert len(list(folder.glob("*.atom"))) == 40 // 3
    # A third build with one more page: only the page that was newest changes.
    again = build_feeds(
        [
            *articles,
            *(make_article(id=f"b{i}", published=DEMO_NOW + timedelta(hours=i)) for i in range(3)),
        ],
        settings,
        out=tmp_path,
        ping=False,
    )
    written = {p.relative_to(folder).as_posix() for p in again.written if p.parent == folder}
    assert written == {f"{40 // 3}.{fmt}" for fmt in settings.feeds.formats} | {
        f"{43 // 3}.{fmt}" for fmt in settings.feeds.formats
    }


def test_every_archive_link_resolves(
    feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = feed_settings("items = 2\narchive_size = 3")
    articles = [
        make_article(id=f"a{i:02d}", published=DEMO_NOW - timedelta(days=i)) for i in range(10)
    ]
    build_feeds(articles, settings, out=tmp_path, ping=False)
    base = settings.feeds_url + "/"
    checked = 0
    for path in (tmp_path / "archive").rglob("*.*"):
        if path.suffix == ".json":
            links = json.loads(path.read_bytes())["_broadsheet"]
            targets = [v for k, v in links.items() if k.endswith("archive") and isinstance(v, str)]
        else:
            parsed = feedparser.parse(path.read_bytes())
            targets = [link.href for link in parsed.feed.links if link.rel.endswith("-archive")]
        for target in targets:
            assert (tmp_path / target.removeprefix(base)).is_file(), (path, target)
            checked += 1
    assert checked > 0
    newest = (tmp_path / "archive" / "all" / "3.atom").read_bytes()
    assert b'rel="prev-archive"' in newest and b'rel="next-archive"' not in newest


def test_feeds_that_no_longer_exist_are_removed_and_nothing_else(
    feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = feed_settings()
    keep = tmp_path / "README.txt"
    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.write_text("not ours")
    build_feeds([make_article(tags=("Gone",))], settings, out=tmp_path, ping=False)
    assert (tmp_path / "tag" / "gone.atom").exists()
    report = build_feeds([make_article(tags=("Kept",))], settings, out=tmp_path, ping=False)
    assert tmp_path / "tag" / "gone.atom" in report.removed
    assert not (tmp_path / "tag" / "gone.atom").exists()
    assert not (tmp_path / "en" / "tag" / "gone").exists()
    assert keep.read_text() == "not ours"
    assert (tmp_path / "tag" / "kept.atom").exists()


def test_damaged_state_file_costs_only_a_render(
    feed_settings: Callable[..., Settings], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = feed_settings()
    build_feeds([make_article()], settings, out=tmp_path, ping=False)
    (tmp_path / STATE_FILE).write_text("{not json")
    report = build_feeds([make_article()], settings, out=tmp_path, ping=False)
    assert report.written == [] and report.rendered > 0
    assert "unreadable" in caplog.text


def test_unwritable_folder_is_a_render_error(
    feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RenderError, match="cannot"):
        build_feeds([make_article()], feed_settings(), out=blocker / "feeds", ping=False)


def test_a_changed_setting_renders_again(
    feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    articles = [make_article(id=f"a{i}", published=DEMO_NOW - timedelta(days=i)) for i in range(5)]
    two, three = "items = 2\narchive_size = 2", "items = 3\narchive_size = 2"
    build_feeds(articles, feed_settings(two), out=tmp_path, ping=False)
    assert build_feeds(articles, feed_settings(two), out=tmp_path, ping=False).written == []
    report = build_feeds(articles, feed_settings(three), out=tmp_path, ping=False)
    assert tmp_path / "all.atom" in report.written
    assert report.feeds[0]["items"] == 3


def test_an_article_without_content_hash_is_hashed_from_its_fields(
    feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from dataclasses import replace

    settings = feed_settings()
    article = replace(make_article(), content_hash="")
    build_feeds([article], settings, out=tmp_path, ping=False)
    edited = replace(article, title="Edited")
    report = build_feeds([edited], settings, out=tmp_path, ping=False)
    assert tmp_path / "all.atom" in report.written
    assert b"Edited" in (tmp_path / "all.atom").read_bytes()
