"""Importing Markdown: fields, sanitising, absolute URLs, idempotence, updates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from broadsheet.config import Settings
from broadsheet.content.importer import import_articles
from broadsheet.store import Store
from tests.content.conftest import front

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def run(store: Store, settings: Settings, tmp_path: Path, now: datetime = NOW):  # type: ignore[no-untyped-def]
    return import_articles(store, settings, str(tmp_path / "content"), now=now)


def test_an_article_is_imported_with_every_field(
    store: Store, settings: Settings, tmp_path: Path, write_md: Callable[..., Path]
) -> None:
    write_md("ports-and-sanctions")
    report = run(store, settings, tmp_path)
    assert report.added == ["ports-and-sanctions"]
    assert report.ok
    with store.read() as tx:
        article = tx.articles.get("ports-and-sanctions")
    assert article is not None
    assert article.title == "Sanctions and ports"
    assert article.authors == ("Irina Volkova", "Timur Saidov")
    assert article.section == "Economy"
    assert article.tags == ("Sanctions", "Russia - World")
    assert dict(article.translations) == {"ru": "sanktsii"}
    assert article.published == datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    assert article.url == "https://news.example/en/ports-and-sanctions/"
    assert article.image == "https://news.example/images/port.jpg"
    assert article.image_alt == "A container port"
    assert article.guid == "tag:news.example,2026-11-20:ports-and-sanctions"


def test_the_body_is_sanitised_with_absolute_urls(
    store: Store, settings: Settings, tmp_path: Path, write_md: Callable[..., Path]
) -> None:
    write_md("ports-and-sanctions")
    run(store, settings, tmp_path)
    with store.read() as tx:
        article = tx.articles.get("ports-and-sanctions")
    assert article is not None
    html = article.body_html
    assert 'href="https://news.example/en/older/"' in html
    assert 'href="https://news.example/"' in html
    assert 'src="https://news.example/en/ports-and-sanctions/chart.png"' in html
    for forbidden in ("<script", "onclick", "javascript:", "alert("):
        assert forbidden not in html
    assert "<p>Paragraph</p>" in html


def test_reimporting_unchanged_content_changes_nothing(
    store: Store, settings: Settings, tmp_path: Path, write_md: Callable[..., Path]
) -> None:
    write_md("ports-and-sanctions")
    run(store, settings, tmp_path)
    with store.read() as tx:
        before = tx.conn.exec_driver_sql("SELECT * FROM articles").all()
    report = run(store, settings, tmp_path, now=NOW + timedelta(days=1))
    assert report.unchanged == ["ports-and-sanctions"]
    assert not report.added and not report.updated
    with store.read() as tx:
        assert tx.conn.exec_driver_sql("SELECT * FROM articles").all() == before


def test_a_changed_file_updates_its_article_and_keeps_its_id(
    store: Store, settings: Settings, tmp_path: Path, write_md: Callable[..., Path]
) -> None:
    write_md("ports-and-sanctions")
    run(store, settings, tmp_path)
    with store.read() as tx:
        guid = tx.articles.get("ports-and-sanctions").guid  # type: ignore[union-attr]
    write_md("ports-and-sanctions", title="Sanctions, ports and shipping")
    report = run(store, settings, tmp_path)
    assert report.updated == ["ports-and-sanctions"]
    with store.read() as tx:
        article = tx.articles.get("ports-and-sanctions")
    assert article is not None
    assert article.title == "Sanctions, ports and shipping"
    assert article.guid == guid


def test_naive_times_are_read_in_the_site_zone_and_dates_are_midnight(
    store: Store, settings: Settings, tmp_path: Path, write_md: Callable[..., Path]
) -> None:
    write_md("naive", front(published="2026-11-20 09:00"))
    write_md("date-only", front(published="2026-11-20"))
    run(store, settings, tmp_path)
    with store.read() as tx:
        naive = tx.articles.get("naive")
        date_only = tx.articles.get("date-only")
    assert naive and naive.published == datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    assert date_only and date_only.published == datetime(2026, 11, 19, 21, 0, tzinfo=UTC)


def test_id_from_front_matter_wins_over_the_file_name(
    store: Store, settings: Settings, tmp_path: Path, write_md: Callable[..., Path]
) -> None:
    write_md("2026-11-20-some-file", front(id="chosen-id", url="https://elsewhere.example/x"))
    report = run(store, settings, tmp_path)
    assert report.added == ["chosen-id"]
    with store.read() as tx:
        assert tx.articles.get("chosen-id").url == "https://elsewhere.example/x"  # type: ignore[union-attr]


def test_drafts_are_stored_but_not_live(
    store: Store, settings: Settings, tmp_path: Path, write_md: Callable[..., Path]
) -> None:
    write_md("draft", front(draft="true"))
    run(store, settings, tmp_path)
    with store.read() as tx:
        assert tx.articles.get("draft") is not None
        assert tx.articles.live(NOW) == []


def test_a_publication_copied_or_moved_whole_still_knows_its_files(
    tmp_path: Path, make_settings: Callable[..., Settings], write_md: Callable[..., Path]
) -> None:
    import shutil

    first = make_settings(folder=tmp_path)
    write_md("ports-and-sanctions")
    store = Store.open(first.store.url)
    try:
        assert run(store, first, tmp_path).added == ["ports-and-sanctions"]
    finally:
        store.close()

    # A copy beside the original (which stays): the same files, no rival ids.
    shutil.copytree(tmp_path, tmp_path.parent / "copy")
    copy = make_settings(folder=tmp_path.parent / "copy")
    store = Store.open(copy.store.url)
    try:
        report = run(store, copy, copy.root)
        assert report.ok and report.unchanged == ["ports-and-sanctions"], report.rejected
        # An edit in the copy is imported as an update of the same article.
        article = copy.root / "content" / "ports-and-sanctions.md"
        article.write_text(
            article.read_text(encoding="utf-8").replace("Sanctions and ports", "Ports"),
            encoding="utf-8",
        )
        assert run(store, copy, copy.root).updated == ["ports-and-sanctions"]
        with store.read() as tx:
            assert tx.articles.get("ports-and-sanctions").source == (  # type: ignore[union-attr]
                "content/ports-and-sanctions.md"
            )
    finally:
        store.close()


def test_a_source_stored_as_an_absolute_path_is_recognised_in_a_copy(
    store: Store, settings: Settings, tmp_path: Path, write_md: Callable[..., Path]
) -> None:
    import shutil

    write_md("ports-and-sanctions")
    run(store, settings, tmp_path)
    elsewhere = tmp_path / "old-home" / "content"
    shutil.copytree(tmp_path / "content", elsewhere)
    with store.write() as tx:  # as an earlier version kept it
        tx.conn.exec_driver_sql(
            "UPDATE articles SET source = ?", (str(elsewhere / "ports-and-sanctions.md"),)
        )
    report = run(store, settings, tmp_path)
    assert report.ok and report.unchanged == ["ports-and-sanctions"]
    with store.read() as tx:  # and it now remembers the file where it is
        assert tx.articles.get("ports-and-sanctions").source == (  # type: ignore[union-attr]
            "content/ports-and-sanctions.md"
        )
    # A different file claiming the id is still refused while the owner exists.
    rival = tmp_path / "rival.md"
    rival.write_text(
        (tmp_path / "content" / "ports-and-sanctions.md")
        .read_text(encoding="utf-8")
        .replace("title:", "id: ports-and-sanctions\ntitle:"),
        encoding="utf-8",
    )
    report = import_articles(store, settings, str(rival), now=NOW)
    assert report.rejected and "already the id of" in report.rejected[0]
    assert "content/ports-and-sanctions.md" in report.rejected[0]


def test_relative_image_and_url_resolve_inside_a_site_under_a_path(
    tmp_path: Path, make_settings: Callable[..., Settings], write_md: Callable[..., Path]
) -> None:
    from tests.conftest import BASE_CONFIG

    base = BASE_CONFIG.replace('url = "https://news.example"', 'url = "https://host.example/mag"')
    assert base != BASE_CONFIG
    settings = make_settings(base=base)
    write_md("with-path", front(image="images/cover.jpg", url="pieces/with-path.html"))
    write_md("from-root", front(image="/images/cover.jpg"))
    store = Store.open(settings.store.url)
    try:
        assert run(store, settings, tmp_path).ok
        with store.read() as tx:
            inside = tx.articles.get("with-path")
            rooted = tx.articles.get("from-root")
    finally:
        store.close()
    assert inside is not None and rooted is not None
    assert inside.image == "https://host.example/mag/images/cover.jpg"
    assert inside.url == "https://host.example/mag/pieces/with-path.html"
    assert rooted.image == "https://host.example/images/cover.jpg"
    assert rooted.url == "https://host.example/mag/en/from-root/"


def test_a_translation_into_the_wrong_language_is_warned_about(
    store: Store, settings: Settings, tmp_path: Path, write_md: Callable[..., Path]
) -> None:
    write_md("english", front(title="English"))
    write_md("pair", front(title="Pair", translations="{ru: english}"))
    report = run(store, settings, tmp_path)
    assert sorted(report.added) == ["english", "pair"]
    assert any(
        "translations: 'english' is in 'en', not 'ru'" in warning for warning in report.warnings
    ), report.warnings


def test_footnotes_become_numbered_notes(
    store: Store, settings: Settings, tmp_path: Path, write_md: Callable[..., Path]
) -> None:
    body = front(title="Noted").replace(
        "Body text.\n",
        "A claim.[^source] Another.[^2]\n\n[^source]: Where it comes from.\n[^2]: More.\n",
    )
    write_md("noted", body)
    run(store, settings, tmp_path)
    with store.read() as tx:
        article = tx.articles.get("noted")
    assert article is not None
    html = article.body_html
    assert '<sup><a href="https://news.example/en/noted/#fn1" rel="noopener">[1]</a></sup>' in html
    assert "<li><p>Where it comes from.</p>" in html and "[^" not in html
    assert "↩" not in html


def test_tags_written_as_one_line_with_commas_are_several(
    store: Store, settings: Settings, tmp_path: Path, write_md: Callable[..., Path]
) -> None:
    write_md("commas", front(tags="Economy, Energy,  Oil"))
    run(store, settings, tmp_path)
    with store.read() as tx:
        article = tx.articles.get("commas")
    assert article is not None and article.tags == ("Economy", "Energy", "Oil")
