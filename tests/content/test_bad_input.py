"""Bad input: one clear line per bad file naming file, field or line; the rest goes through."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.content.importer import import_articles
from broadsheet.store import Store
from tests.content.conftest import front

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)

CASES = {
    "missing-title": (front(title=None), "content/missing-title.md: title: missing"),
    "empty-title": (front(title="''"), "content/empty-title.md:2: title: is empty"),
    "title-is-a-list": (front(title="[a, b]"), "content/title-is-a-list.md:2: title: expected text, got a list"),
    "bad-date": (front(published="next tuesday"), "content/bad-date.md:4: published: not a date and time: 'next tuesday'"),
    "no-date": (front(published=None), "content/no-date.md: published: missing"),
    "ambiguous-date": (
        front(published="2010-10-31 02:30"),
        "content/ambiguous-date.md:4: published: 2010-10-31T02:30:00 has no time zone and happens twice in Europe/Moscow",
    ),
    "skipped-date": (
        front(published="2010-03-28 02:30"),
        "content/skipped-date.md:4: published: 2010-03-28T02:30:00 has no time zone and does not exist in Europe/Moscow",
    ),
    "updated-before": (
        front(updated="2026-11-19T09:00:00+03:00"),
        "content/updated-before.md:5: updated: is earlier than published",
    ),
    "german": (front(language="de"), "content/german.md:3: language: 'de' is not one of site.languages (en, ru)"),
    "norwegian-no": (front(language="no"), "content/norwegian-no.md:3: language: expected text, got true/false"),
    "bad-translation": (
        front(translations="{fr: x}"),
        "content/bad-translation.md:5: translations: language 'fr' is not one of site.languages",
    ),
    "self-translation": (
        front(translations="{en: x}"),
        "content/self-translation.md:5: translations: an article cannot be its own 'en' translation",
    ),
    "bad-id": (front(id="'has spaces'"), "content/bad-id.md:5: id: 'has spaces' cannot be used in a URL"),
    "draft-maybe": (front(draft="maybe"), "content/draft-maybe.md:5: draft: expected true or false"),
    "bad-image": (front(image="'ftp://x/y.png'"), "content/bad-image.md:5: image: expected an http(s) URL"),
    "a-list": ("---\n- one\n- two\n---\nBody\n", "content/a-list.md:2: front matter must be a mapping of fields (key: value), got a list"),
    "bad-yaml": ("---\ntitle: A\npublished: [unclosed\n---\nBody\n", "content/bad-yaml.md:4: front matter is not valid YAML"),
    "tab-yaml": ("---\ntitle: A\n\tlanguage: en\n---\nBody\n", "content/tab-yaml.md:3: front matter is not valid YAML"),
    "no-front-matter": ("Just text.\n", "content/no-front-matter.md:1: no front matter"),
    "unclosed": ("---\ntitle: A\n", "content/unclosed.md:1: front matter is not closed"),
    "february-30": (front(published="2026-02-30T00:00:00Z"), "content/february-30.md:4: published: not a date and time: '2026-02-30T00:00:00Z'"),
    "year-one": (front(published="0001-01-01T00:00:00+05:00"), "content/year-one.md:4: published: 0001-01-01T00:00:00+05:00 is outside the years 1000 to 9000"),
    "year-9999": (front(published="9999-12-31T23:00:00Z"), "content/year-9999.md:4: published: 9999-12-31T23:00:00+00:00 is outside the years 1000 to 9000"),
    "long-section": (front(section="x" * 201), "content/long-section.md:5: section: is 201 characters long; at most 200 are kept"),
}  # fmt: skip


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_bad_file_is_named_with_field_and_line(
    name: str, in_tmp: Path, store: Store, settings: Settings, write_md: Callable[..., Path]
) -> None:
    text, expected = CASES[name]
    write_md(name, text)
    write_md("good-one", front(title="Fine"))
    report = import_articles(store, settings, "content", now=NOW)
    assert report.added == ["good-one"]
    assert len(report.rejected) == 1
    assert report.rejected[0].startswith(expected), report.rejected[0]


def test_invalid_utf8_names_the_line(
    in_tmp: Path, store: Store, settings: Settings, write_md: Callable[..., Path]
) -> None:
    write_md("latin1", raw=front(title="Caf\xe9").encode("latin-1"))
    report = import_articles(store, settings, "content", now=NOW)
    assert report.rejected == [
        "content/latin1.md:2: not valid UTF-8 (byte 0xe9); save the file as UTF-8"
    ]


def test_control_characters_are_removed_with_a_warning(
    in_tmp: Path, store: Store, settings: Settings, write_md: Callable[..., Path]
) -> None:
    write_md("bell", front(title='"Ring\\a the bell\\x0b"'))
    report = import_articles(store, settings, "content", now=NOW)
    assert report.added == ["bell"]
    assert any("content/bell.md:2: title: removed 2 control" in w for w in report.warnings)
    with store.read() as tx:
        assert tx.articles.get("bell").title == "Ring the bell"  # type: ignore[union-attr]


def test_a_body_over_the_limit_is_rejected(
    in_tmp: Path, make_settings: Callable[..., Settings], write_md: Callable[..., Path]
) -> None:
    settings = make_settings("[content]\nmax_body_bytes = 100\n")
    write_md("long", front() + "x" * 200)
    report = import_articles(Store.open(settings.store.url), settings, "content", now=NOW)
    assert report.rejected and "content/long.md: body: is 2" in report.rejected[0]
    assert "over content.max_body_bytes (100)" in report.rejected[0]


def test_a_duplicate_id_across_files_rejects_the_second(
    in_tmp: Path, store: Store, settings: Settings, write_md: Callable[..., Path]
) -> None:
    write_md("a-first", front(id="same"))
    write_md("b-second", front(id="same"))
    report = import_articles(store, settings, "content", now=NOW)
    assert report.added == ["same"]
    assert report.rejected == [
        "content/b-second.md:5: id: 'same' is already the id of content/a-first.md; ids must be unique"
    ]
    # A later import of a new file claiming a stored id is refused too.
    (in_tmp / "content" / "b-second.md").unlink()
    write_md("c-third", front(id="same", title="Thief"))
    report = import_articles(store, settings, "content", now=NOW)
    assert report.rejected == [
        "content/c-third.md:5: id: 'same' is already the id of content/a-first.md; ids must be unique"
    ]
    with store.read() as tx:
        assert tx.articles.get("same").title == "A title"  # type: ignore[union-attr]


def test_a_rejected_file_leaves_the_stored_article_alone(
    in_tmp: Path, store: Store, settings: Settings, write_md: Callable[..., Path]
) -> None:
    write_md("stable", front(title="Original"))
    import_articles(store, settings, "content", now=NOW)
    write_md("stable", front(title="Broken", published="soon"))
    report = import_articles(store, settings, "content", now=NOW)
    assert len(report.rejected) == 1
    with store.read() as tx:
        assert tx.articles.get("stable").title == "Original"  # type: ignore[union-attr]


def test_the_cli_imports_the_rest_names_the_broken_file_and_exits_1(
    in_tmp: Path, settings: Settings, write_md: Callable[..., Path]
) -> None:
    write_md("good", front(title="Good"))
    write_md("broken", front(published="yesterday-ish"))
    result = CliRunner().invoke(cli, ["import", "content", "--config", str(settings.path)])
    assert result.exit_code == 1
    assert "rejected: content/broken.md:4: published: not a date and time" in result.output
    assert "1 added, 0 updated, 0 unchanged, 1 rejected" in result.output
    assert "Traceback" not in result.output


def test_a_missing_path_is_one_clear_line(in_tmp: Path, settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["import", "nowhere", "--config", str(settings.path)])
    assert result.exit_code == 1
    assert "rejected: nowhere: no such file or folder" in result.output


def test_a_bad_config_is_one_line_per_problem_and_exit_1(in_tmp: Path) -> None:
    (in_tmp / "broadsheet.toml").write_text("[site]\ntitle = 3\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", "content"])
    assert result.exit_code == 1
    assert "error: broadsheet.toml: site.title: expected text, got an integer 3" in result.output
    assert "error: broadsheet.toml: site.url: missing (required)" in result.output
    assert "Traceback" not in result.output


def test_values_at_the_edge_of_the_calendar_and_of_integers(
    in_tmp: Path, store: Store, settings: Settings
) -> None:
    import json

    from broadsheet.content.views import import_views
    from tests.conftest import make_article

    lines = [
        {"id": "fine", "title": "Fine", "language": "en", "published": "2026-11-20T09:00:00Z"},
        {"id": "ancient", "title": "A", "language": "en", "published": "0001-01-01T00:00+05:00"},
    ]
    feed = in_tmp / "articles.jsonl"
    feed.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    report = import_articles(store, settings, str(feed), now=NOW)
    assert report.added == ["fine"]
    assert report.rejected == [
        "articles.jsonl:2: published: 0001-01-01T00:00:00+05:00 is outside the years 1000 to 9000"
    ]

    with store.write() as tx:
        tx.articles.save(make_article(id="alpha"), now=NOW)
    views = in_tmp / "views.csv"
    views.write_text(
        "article,date,views\nalpha,2026-11-20,99999999999999999999999\nalpha,2026-11-21,7\n",
        encoding="utf-8",
    )
    counted = import_views(store, views, source="views.csv")
    assert counted.written == 1
    assert counted.rejected == [
        "views.csv:2: views: 99,999,999,999,999,999,999,999 views in a day is more than the "
        "2,147,483,647 a row may hold"
    ]


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_an_at_time_out_of_range_is_a_usage_error(settings: Settings, at: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["edition", "build", "--language", "en", "--frequency", "weekly", "--at", at]
        + ["--config", str(settings.path)],
    )
    assert result.exit_code == 2
    assert "outside the years 1900 to 9000" in result.output
    assert "Traceback" not in result.output


def test_hidden_files_and_folders_are_not_articles(
    in_tmp: Path, store: Store, settings: Settings, write_md: Callable[..., Path]
) -> None:
    write_md("visible", front(title="Visible"))
    (in_tmp / "content" / "._visible.md").write_bytes(b"\x00\x05\x16\x07 Mac OS X resource fork")
    (in_tmp / "content" / ".git").mkdir()
    (in_tmp / "content" / ".git" / "notes.md").write_text("not an article\n", encoding="utf-8")
    report = import_articles(store, settings, "content", now=NOW)
    assert report.added == ["visible"] and report.ok
