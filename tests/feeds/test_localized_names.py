"""Authors, sections and tags named in each reader's language (issue 12, point 9).

The demo (examples/polynya) spells its authors in Cyrillic and translates its
tags in ``[site.localized.ru]``: a Russian edition and the entries of Russian
articles show those names, an English one the Latin ones, while the author
feeds keep the canonical name's URL.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import load_settings
from broadsheet.emails.edition.context import EditionContent, build_context
from broadsheet.emails.edition.render import render
from broadsheet.feeds.entries import entry_digest, make_entry
from broadsheet.model import Frequency
from tests.conftest import DEMO_NOW, make_article

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "examples" / "polynya" / "broadsheet.toml"


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's published files, built once for this module."""
    out = tmp_path_factory.mktemp("localized") / "demo"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "public"


@pytest.mark.slow
def test_the_russian_edition_names_authors_and_sections_in_russian(public: Path) -> None:
    text = (public / "editions/ru/weekly-ru-2026-11-23/email.txt").read_text(encoding="utf-8")
    assert "Вера Линдквист и Лукас Бреннер" in text
    assert "Lindqvist" not in text and "Brenner" not in text
    assert "ВНЕШНЯЯ ПОЛИТИКА" in text
    # No masculine verb forced on the publication's title.
    assert "опубликовал" not in text


@pytest.mark.slow
def test_the_english_edition_keeps_the_latin_names(public: Path) -> None:
    text = (public / "editions/en/weekly-en-2026-11-23/email.txt").read_text(encoding="utf-8")
    assert "Lukas Brenner" in text
    assert "Бреннер" not in text


@pytest.mark.slow
def test_russian_feed_entries_show_cyrillic_authors_and_russian_categories(public: Path) -> None:
    atom = (public / "feeds/ru.atom").read_text(encoding="utf-8")
    assert "<name>Вера Линдквист, Лукас Бреннер</name>" in atom
    assert 'term="Внешняя политика"' in atom
    assert 'term="Санкции"' in atom
    assert "Lindqvist" not in atom and 'term="Sanctions"' not in atom
    items = json.loads((public / "feeds/ru.json").read_text(encoding="utf-8"))["items"]
    names = {author["name"] for item in items for author in item.get("authors", ())}
    assert "Вера Линдквист" in names
    assert all(not any("a" <= c.lower() <= "z" for c in name) for name in names)
    tags = {tag for item in items for tag in item.get("tags", ())}
    assert {"Внешняя политика", "Санкции"} <= tags
    english = (public / "feeds/en.atom").read_text(encoding="utf-8")
    assert "Lukas Brenner" in english and 'term="Sanctions"' in english
    assert "Бреннер" not in english


@pytest.mark.slow
def test_author_feeds_keep_their_canonical_urls(public: Path) -> None:
    assert (public / "feeds/author/vera-lindqvist.atom").is_file()
    assert (public / "feeds/ru/author/vera-lindqvist.atom").is_file()
    feed = json.loads((public / "feeds/ru/author/vera-lindqvist.json").read_text("utf-8"))
    assert "Вера Линдквист" in feed["title"]
    assert feed["feed_url"].endswith("/feeds/ru/author/vera-lindqvist.json")


def _weekly_text(language: str, *, top: bool) -> str:
    settings = load_settings(DEMO_CONFIG)
    article = make_article(
        id="a1",
        language=language,
        authors=("Vera Lindqvist",),
        section="Foreign policy",
    )
    content = EditionContent(
        edition_id=f"weekly-{language}-2026-11-23",
        language=language,
        frequency=Frequency.WEEKLY,
        slot=DEMO_NOW,
        new=(article,),
        top=(article,) if top else (),
        read_also=(),
        since=DEMO_NOW - timedelta(days=7),
        until=DEMO_NOW,
        window=((DEMO_NOW - timedelta(days=30)).date(), DEMO_NOW.date()),
    )
    return render("emails/edition.txt.j2", build_context(content, settings, mode="email"))


@pytest.mark.parametrize("language", ["ru", "en"])
def test_a_weekly_edition_without_top_reads_says_nothing_of_them(language: str) -> None:
    without = _weekly_text(language, top=False)
    with_top = _weekly_text(language, top=True)
    about_top = {"ru": "самое читаемое", "en": "what readers read most"}[language]
    assert about_top not in without
    assert about_top in with_top


def test_entries_name_authors_section_and_tags_in_their_language() -> None:
    site = load_settings(DEMO_CONFIG).site
    ru = make_article(
        id="r1",
        language="ru",
        authors=("Vera Lindqvist", "Nobody Listed"),
        section="Economy",
        tags=("Sanctions", "Untranslated"),
    )
    entry = make_entry(ru, (), entry_digest(ru, (), site), site)
    assert entry.authors == ("Вера Линдквист", "Nobody Listed")
    assert entry.section == "Экономика"
    assert entry.tags == ("Санкции", "Untranslated")
    en = make_article(id="e1", language="en", authors=("Vera Lindqvist",), tags=("Sanctions",))
    entry = make_entry(en, (), entry_digest(en, (), site), site)
    assert entry.authors == ("Vera Lindqvist",) and entry.tags == ("Sanctions",)
    # Localized names are part of the digest, so renaming rebuilds the feeds.
    assert entry_digest(ru, (), site) != entry_digest(ru, ())
    assert entry_digest(en, (), site) == entry_digest(en, ())
