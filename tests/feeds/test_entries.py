"""From articles to entries, and which feeds exist: pure functions, no I/O."""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from broadsheet.config import Settings
from broadsheet.feeds.archive import current_size, page_entries, pages
from broadsheet.feeds.entries import (
    clean,
    entry_digest,
    excerpt,
    image_type,
    live,
    make_entry,
    one_line,
    translation_links,
)
from broadsheet.feeds.sets import assign_slugs, base_slug, feed_sets
from broadsheet.model import Article
from tests.conftest import DEMO_NOW, make_article


def entry_of(article: Article, *others: Article):  # type: ignore[no-untyped-def]
    by_id = {a.id: a for a in (article, *others)}
    links = translation_links(article, by_id)
    return make_entry(article, links, entry_digest(article, links))


def test_entry_id_is_the_guid_not_the_url() -> None:
    article = make_article(guid="tag:news.example,2026-01-01:x", url="https://news.example/a/")
    entry = entry_of(article)
    assert entry.id == "tag:news.example,2026-01-01:x"
    moved = entry_of(make_article(guid=article.guid, url="https://news.example/moved/"))
    assert moved.id == entry.id and moved.url != entry.url


def test_lead_image_opens_the_content_once() -> None:
    article = make_article(image="https://news.example/i/lead.webp", image_alt='A "quoted" <b>')
    entry = entry_of(article)
    assert entry.content_html.startswith(
        '<p><img src="https://news.example/i/lead.webp" alt="A &quot;quoted&quot; &lt;b&gt;"></p>'
    )
    assert entry.image is not None and entry.image.type == "image/webp"
    already = make_article(
        image="https://news.example/i/lead.jpg",
        body_html='<p><img src="https://news.example/i/lead.jpg" alt=""></p><p>Body.</p>',
    )
    assert entry_of(already).content_html.count("lead.jpg") == 1


def test_translation_links_only_to_live_translations() -> None:
    en = make_article(id="a-en", translations={"ru": "a-ru"})
    ru = make_article(id="a-ru", language="ru", url="https://news.example/ru/a-ru/")
    entry = entry_of(en, ru)
    assert [(link.hreflang, link.href) for link in entry.translations] == [
        ("ru", "https://news.example/ru/a-ru/")
    ]
    assert entry_of(en).translations == ()  # the translation is a draft or not yet published
    wrong_language = make_article(id="a-ru", language="en")
    assert entry_of(en, wrong_language).translations == ()


def test_bad_characters_and_missing_fields() -> None:
    article = make_article(
        title="Bad\x00 title\ufffe with\x1b controls",
        standfirst="",
        body_html="<p>" + "word " * 100 + "</p>",
        authors=(" Ann\x01 ", "Ann", ""),
        section=None,
        tags=(),
    )
    entry = entry_of(article)
    assert entry.title == "Bad title with controls"
    assert entry.authors == ("Ann",)
    assert entry.section is None and entry.tags == ()
    assert entry.summary.endswith("…") and len(entry.summary) <= 281


def test_entry_times_are_utc_whole_seconds_and_updated_never_before_published() -> None:
    published = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    entry = entry_of(make_article(published=published))
    assert entry.published == datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)
    assert entry.updated == entry.published
    later = entry_of(make_article(published=published, updated=published + timedelta(days=2)))
    assert later.updated == datetime(2026, 3, 3, 9, 30, 15, tzinfo=UTC)


def test_digest_changes_with_content_and_translation() -> None:
    en = make_article(id="a-en", translations={"ru": "a-ru"})
    ru = make_article(id="a-ru", language="ru")
    alone = entry_of(en).digest
    assert entry_of(en, ru).digest != alone
    assert (
        entry_of(make_article(id="a-en", translations={"ru": "a-ru"}, title="New")).digest != alone
    )
    assert entry_of(en).digest == alone


def test_drafts_are_dropped_and_order_is_newest_first() -> None:
    old = make_article(id="old", published=DEMO_NOW - timedelta(days=3))
    new = make_article(id="new", published=DEMO_NOW - timedelta(days=1))
    draft = make_article(id="draft", draft=True)
    assert [a.id for a in live([old, draft, new])] == ["new", "old"]


def test_helpers() -> None:
    assert image_type("https://x.example/a/B.JPG?size=2") == "image/jpeg"
    assert image_type("https://x.example/a/photo") is None
    assert excerpt("<p>Short &amp; sweet.</p>") == "Short & sweet."


def test_slugs_are_ascii_stable_and_collision_free() -> None:
    assert base_slug("Внешняя политика") == "vneshnyaya-politika"
    assert base_slug("Stefan Vuksanović") == "stefan-vuksanovic"
    assert base_slug("Jürgen Weiß") == "jurgen-weiss"
    assert base_slug("Łukasz Sørensen") == "lukasz-sorensen"
    assert base_slug("Russia - World") == "russia-world"
    emoji = base_slug("🔥🔥")
    assert emoji.isascii() and emoji and emoji == base_slug("🔥🔥")
    day = datetime(2026, 1, 1, tzinfo=UTC)
    first = assign_slugs({"Russia - World": day})
    both = assign_slugs({"Russia - World": day, "Russia World": day + timedelta(days=1)})
    assert first["Russia - World"] == both["Russia - World"] == "russia-world"
    assert both["Russia World"].startswith("russia-world-")
    many = assign_slugs(dict.fromkeys(("a b", "a-b", "A B", "a  b", "🔥", "🌊"), day))
    assert len(set(many.values())) == 6


def test_feed_sets_per_language_variants(feed_settings: Callable[..., Settings]) -> None:
    settings = feed_settings()
    articles = live(
        [
            make_article(id="e1", section="Economy", tags=("Oil",), authors=("Ann",)),
            make_article(
                id="r1",
                language="ru",
                section="Economy",
                tags=("Oil",),
                authors=("Ann",),
                published=DEMO_NOW - timedelta(days=2),
            ),
            make_article(id="e2", section="Society", tags=(), authors=()),
        ]
    )
    sets = {(s.scope, s.base): s for s in feed_sets(articles, settings)}
    assert ("site", "all") in sets and sets["site", "all"].language is None
    assert ("language", "en") in sets and ("language", "ru") in sets
    assert {a.id for a in sets["section", "section/economy"].articles} == {"e1", "r1"}
    assert [a.id for a in sets["section", "ru/section/economy"].articles] == ["r1"]
    assert ("section", "ru/section/society") not in sets
    assert sets["section", "ru/section/economy"].language == "ru"
    assert "Economy" in sets["section", "ru/section/economy"].description
    assert ("author", "author/ann") in sets and ("tag", "tag/oil") in sets
    only = feed_sets(articles, feed_settings('sets = ["site", "tag"]'))
    assert {s.scope for s in only} == {"site", "tag"}


def test_section_feeds_carry_the_section_name_readers_of_their_language_see(
    feed_settings: Callable[..., Settings],
) -> None:
    settings = feed_settings(
        extra='[site.localized.ru]\ntitle = "Тест"\n[site.localized.ru.sections]\nEconomy = "Экономика"\n'
    )
    articles = live(
        [
            make_article(id="e1", section="Economy"),
            make_article(id="r1", language="ru", section="Economy"),
        ]
    )
    sets = {(s.scope, s.base): s for s in feed_sets(articles, settings)}
    russian = sets["section", "ru/section/economy"]
    assert russian.title.startswith("Тест — Экономика")
    assert "«Экономика»" in russian.description
    assert sets["section", "en/section/economy"].title.startswith("Test Weekly — Economy")
    assert sets["section", "section/economy"].title == "Test Weekly — Economy"


def test_monolingual_site_has_no_language_variants(make_settings: Callable[..., Settings]) -> None:
    from tests.conftest import BASE_CONFIG

    head, _, rest = BASE_CONFIG.partition("[donation.ru]")
    base = head + "[sender]" + rest.partition("[sender]")[2]
    settings = make_settings(base=base.replace('["en", "ru"]', '["en"]'))
    sets = feed_sets([make_article()], settings)
    assert all(s.language == "en" for s in sets)
    assert not any(s.base.startswith("en/") for s in sets)


def test_archive_pages_never_shift() -> None:
    before = [f"e{i}" for i in range(47, 0, -1)]  # newest first
    after = [f"e{i}" for i in range(60, 0, -1)]
    old_pages = {p.number: page_entries(before, p) for p in pages(len(before), 10)}
    new_pages = {p.number: page_entries(after, p) for p in pages(len(after), 10)}
    assert list(old_pages) == [1, 2, 3, 4]
    for number, members in old_pages.items():
        assert new_pages[number] == members
    assert old_pages[1] == [f"e{i}" for i in range(10, 0, -1)]


def test_current_document_covers_everything_not_archived() -> None:
    for total in range(80):
        for items, size in ((20, 20), (10, 25), (30, 7)):
            shown = current_size(total, items, size)
            archived = (total // size) * size
            assert shown + archived >= total
            assert shown == min(total, max(items, total - archived))
    assert current_size(5, 50, None) == 5


def test_article_translations_mapping_type_is_accepted() -> None:
    article = make_article(translations=types.MappingProxyType({"ru": "x"}))
    assert entry_of(article).translations == ()


def test_printable_text_is_left_as_it_is() -> None:
    # clean() and one_line() skip their search for printable text: right only
    # while no printable character is one they remove, and the one printable
    # character str.split() splits on is the space.
    unwanted = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
    for code in range(0x110000):
        char = chr(code)
        if char.isprintable():
            assert not unwanted.match(char), hex(code)
            assert char == " " or len(f"a{char}b".split()) == 1, hex(code)
    for value in (
        "Ann Author", " lead", "trail ", "two  spaces", "tab\there", "line\nbreak", "nbsp\xa0x",
        "c1\x85x", "sep\u2028x", "bom\ufeffx", "nul\x00x", "lone\ud800x", "Привет", "👩‍🔬 ok",
    ):  # fmt: skip
        assert clean(value) == unwanted.sub("", value), repr(value)
        assert one_line(value) == " ".join(unwanted.sub("", value).split()), repr(value)
