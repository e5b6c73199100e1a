"""What an edition says and how its HTML and text are built."""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import date, timedelta

import lxml.html
import pytest

from broadsheet.config import Settings
from broadsheet.emails.edition import labels, links
from broadsheet.emails.edition.context import EditionContent, build_context
from broadsheet.emails.edition.personalize import Personal, Template, fill_html, fill_text
from broadsheet.emails.edition.render import TEXT_WIDTH, render
from broadsheet.errors import RenderError
from broadsheet.model import Frequency
from broadsheet.words import Words
from tests.conftest import DEMO_NOW, make_article
from tests.emails.demo import DemoEditions

GMAIL_CLIP = 102 * 1024

LONG_PERSONAL = Personal(
    greeting="Здравствуйте, Александра Константиновна Рождественская!",
    unsubscribe_url="http://localhost:8080/unsubscribe?token=" + "x" * 80,
    preferences_url="http://localhost:8080/preferences?token=" + "y" * 80,
)


def document(demo: DemoEditions, language: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(fill_html(demo.record(language).html, LONG_PERSONAL))


@pytest.mark.parametrize("language", ["en", "ru"])
def test_html_part_stays_below_gmail_clipping(demo_editions: DemoEditions, language: str) -> None:
    html = fill_html(demo_editions.record(language).html, LONG_PERSONAL)
    assert len(html.encode("utf-8")) < GMAIL_CLIP


@pytest.mark.parametrize("language", ["en", "ru"])
def test_document_basics(demo_editions: DemoEditions, language: str) -> None:
    tree = document(demo_editions, language)
    assert tree.get("lang") == language
    assert tree.get("dir") == "ltr"
    title = tree.findtext(".//title") or ""
    assert demo_editions.settings.site.title_in(language) in title
    metas = {m.get("name"): m.get("content") for m in tree.iter("meta") if m.get("name")}
    assert metas["color-scheme"] == "light dark"
    assert "width=device-width" in (metas["viewport"] or "")
    head_css = " ".join(s.text or "" for s in tree.iter("style"))
    assert "prefers-color-scheme: dark" in head_css
    assert "[data-ogsc]" in head_css
    assert "max-width: 620px" in head_css
    raw = demo_editions.record(language).html
    assert "<!--[if mso]>" in raw and 'width="600"' in raw


@pytest.mark.parametrize("language", ["en", "ru"])
def test_headings_are_in_order(demo_editions: DemoEditions, language: str) -> None:
    tree = document(demo_editions, language)
    levels = [int(h.tag[1]) for h in tree.iter("h1", "h2", "h3", "h4", "h5", "h6")]
    assert levels[0] == 1 and levels.count(1) == 1
    for before, after in zip(levels, levels[1:], strict=False):
        assert after <= before + 1


@pytest.mark.parametrize("language", ["en", "ru"])
def test_images_have_alt_and_links_are_absolute(demo_editions: DemoEditions, language: str) -> None:
    # The demo's site is where `broadsheet serve` answers (http://localhost:8080).
    tree = document(demo_editions, language)
    images = list(tree.iter("img"))
    assert images
    for image in images:
        assert image.get("alt"), lxml.html.tostring(image)
        assert str(image.get("src")).startswith(("https://", "http://localhost:8080"))
    logo = images[0]
    assert logo.get("src") == "http://localhost:8080/images/polynya-logo.png"
    assert logo.get("alt") == demo_editions.settings.site.title_in(language)
    hrefs = [str(a.get("href")) for a in tree.iter("a")]
    assert hrefs and all(h.startswith(("https://", "http://localhost:8080")) for h in hrefs)


def test_lead_image_alt_is_its_description(demo_editions: DemoEditions) -> None:
    tree = document(demo_editions, "en")
    lead = tree.find_class("lead-image")[0]
    assert lead.get("alt") and lead.get("alt") != "Polynya"


@pytest.mark.parametrize("language", ["en", "ru"])
def test_preheader_is_hidden_without_colour_tricks(
    demo_editions: DemoEditions, language: str
) -> None:
    tree = document(demo_editions, language)
    body = tree.find(".//body")
    assert body is not None
    preheader = next(el for el in body.iter() if "display:none" in (el.get("style") or ""))
    style = (preheader.get("style") or "").replace(" ", "")
    for rule in ("display:none", "max-height:0", "overflow:hidden"):
        assert rule in style
    # Outlook, which may show hidden text, does not get it at all (and no
    # mso-hide property the HTML checkers refuse).
    assert "<!--[if !mso]><!--><div" in demo_editions.record(language).html
    assert "color" not in style
    lead_title = tree.find_class("lead-title")[0].text_content().strip()
    assert preheader.text_content().startswith(lead_title)
    assert demo_editions.settings.site.title_in(language) in preheader.text_content()


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "Lead story",
                "Read also",
                "New this week",
                "Top reads",
                "Keep Polynya free to read",
            ],
        ),
        ("ru", ["Главный материал", "Читайте также", "Новое за неделю", "Самое читаемое"]),
    ],
)
def test_blocks_in_order(demo_editions: DemoEditions, language: str, expected: list[str]) -> None:
    tree = document(demo_editions, language)
    found = [h.text_content().strip() for h in tree.iter("h2")]
    positions = [found.index(name) for name in expected if name in found]
    assert len(positions) >= 4 and positions == sorted(positions)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_masthead_date_in_the_edition_language(demo_editions: DemoEditions, language: str) -> None:
    h1 = document(demo_editions, language).find(".//h1")
    assert h1 is not None
    expected = {"en": "November 23, 2026", "ru": "23 ноября 2026\u202fг."}[language]
    assert expected in h1.text_content()


def test_top_reads_are_numbered(demo_editions: DemoEditions) -> None:
    tree = document(demo_editions, "en")
    numbers = [td.text_content().strip() for td in tree.find_class("rank")]
    assert numbers == [str(n) for n in range(1, len(demo_editions.record("en").top_ids) + 1)]


def test_translation_and_other_edition_links(demo_editions: DemoEditions) -> None:
    en = document(demo_editions, "en")
    ru = document(demo_editions, "ru")
    read_in = [a for a in en.iter("a") if a.text_content() == "Read in Russian"]
    assert read_in and all(a.get("hreflang") == "ru" for a in read_in)
    assert all("/ru/" in str(a.get("href")) for a in read_in)
    assert [a for a in ru.iter("a") if a.text_content() == "Читать на английском"]
    to_ru = [a for a in en.iter("a") if a.text_content() == "Этот выпуск на русском"]
    assert to_ru[0].get("href") == "http://localhost:8080/editions/ru/weekly-ru-2026-11-23/"
    to_en = [a for a in ru.iter("a") if a.text_content() == "This edition in English"]
    assert to_en[0].get("href") == "http://localhost:8080/editions/en/weekly-en-2026-11-23/"


def test_donation_block_has_a_bulletproof_button(demo_editions: DemoEditions) -> None:
    raw = demo_editions.record("en").html
    assert "<v:roundrect" in raw and 'href="https://polynya.example/en/donate/"' in raw
    tree = document(demo_editions, "en")
    button = tree.find_class("button")[0]
    assert button.get("href") == "https://polynya.example/en/donate/"
    assert button.text_content() == demo_editions.settings.donation["en"].button_label
    cell = tree.find_class("button-cell")[0]
    assert cell.tag == "td"


@pytest.mark.parametrize("language", ["en", "ru"])
def test_footer_says_why_and_offers_the_way_out(demo_editions: DemoEditions, language: str) -> None:
    record = demo_editions.record(language)
    tree = document(demo_editions, language)
    footer = tree.find_class("footer")[0].text_content()
    why = {
        "en": "You receive this because you subscribed to the weekly Polynya newsletter in English.",
        "ru": "подписались на еженедельную рассылку «Полынья» на русском языке.",
    }[language]
    assert why in " ".join(footer.split())
    assert demo_editions.settings.postal_address(language) in footer
    hrefs = {str(a.get("href")) for a in tree.find_class("footer")[0].iter("a")}
    assert LONG_PERSONAL.unsubscribe_url in hrefs
    assert LONG_PERSONAL.preferences_url in hrefs
    assert f"http://localhost:8080/editions/{language}/{record.id}/" in hrefs
    assert Template.parse(record.html).slots.count("unsubscribe_url") == 1
    assert Template.parse(record.html).slots.count("greeting") == 1


@pytest.mark.parametrize("language", ["en", "ru"])
def test_text_twin_wraps_at_72_and_lists_every_link(
    demo_editions: DemoEditions, language: str
) -> None:
    record = demo_editions.record(language)
    text = fill_text(record.text, LONG_PERSONAL)
    for line in text.splitlines():
        if len(line) > TEXT_WIDTH:
            assert re.fullmatch(r"\s*https?://\S+", line), line
    # The text twin shows the plain address of each page: the HTML's links less their UTM tags.
    html_links = {
        links.without_utm(str(a.get("href")), demo_editions.settings, edition_id=record.id)
        for a in document(demo_editions, language).iter("a")
    }
    text_links = set(re.findall(r"https?://\S+", text))
    assert html_links <= text_links
    assert "utm_" not in text
    assert "<" not in text.replace("<x>", "")


@pytest.mark.parametrize("language", ["en", "ru"])
def test_web_copy_has_no_personal_parts(demo_editions: DemoEditions, language: str) -> None:
    web = demo_editions.path(language, "web").read_text(encoding="utf-8")
    assert "%%bs:" not in web
    assert "/unsubscribe" not in web and "/preferences" not in web
    assert "display:none" not in web.replace(" ", "")
    tree = lxml.html.fromstring(web)
    assert tree.find_class("button")
    assert tree.find(".//h1") is not None


# --- rendering from small tables -------------------------------------------------


def content(**overrides: object) -> EditionContent:
    lead = make_article(
        id="lead",
        title="Moscow <script>alert(1)</script> & Belgrade",
        standfirst="Says %%bs:unsubscribe_url%% here",
        published=DEMO_NOW - timedelta(hours=2),
        image="https://news.example/a.jpg",
    )
    values: dict[str, object] = {
        "edition_id": "weekly-en-2026-11-23",
        "language": "en",
        "frequency": Frequency.WEEKLY,
        "slot": DEMO_NOW,
        "new": (lead,),
        "top": (),
        "read_also": (),
        "since": DEMO_NOW - timedelta(days=7),
        "until": DEMO_NOW,
        "window": ((DEMO_NOW - timedelta(days=30)).date(), DEMO_NOW.date()),
    }
    values.update(overrides)
    return EditionContent(**values)  # type: ignore[arg-type]


def test_content_is_escaped_in_html_and_cannot_pose_as_a_placeholder(settings: Settings) -> None:
    context = build_context(content(), settings, mode="email")
    html = render("emails/edition.html.j2", context)
    assert "<script>alert" not in html
    assert "Moscow &lt;script&gt;alert(1)&lt;/script&gt; &amp; Belgrade" in html
    assert Template.parse(html).slots.count("unsubscribe_url") == 1
    text = render("emails/edition.txt.j2", context)
    assert "Moscow <script>alert(1)</script> & Belgrade" in text
    assert Template.parse(text).slots.count("unsubscribe_url") == 1


def test_image_alt_falls_back_to_the_title(settings: Settings) -> None:
    context = build_context(content(), settings, mode="email")
    assert context["lead"] is not None
    assert context["lead"]["image_alt"] == context["lead"]["title"]


def test_missing_donation_is_omitted_with_a_warning(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    only_english = dataclasses.replace(settings, donation={"en": settings.donation["en"]})
    with caplog.at_level(logging.WARNING):
        context = build_context(content(language="ru"), only_english, mode="email")
    assert context["donation"] is None
    assert "donation.ru" in caplog.text
    html = render("emails/edition.html.j2", context)
    assert "roundrect" not in html


def test_a_missing_context_key_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="edition.html.j2"):
        render("emails/edition.html.j2", {"lang": "en"})


def test_missing_template_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="nothing.html.j2"):
        render("emails/nothing.html.j2", {})


# --- words -------------------------------------------------------------------------


def test_dates_in_each_language() -> None:
    assert labels.format_day(date(2026, 11, 23), "ru") == "23 ноября 2026\u202fг."
    assert labels.format_day(date(2026, 11, 23), "en") == "November 23, 2026"


@pytest.mark.parametrize(
    ("more", "expected"),
    [
        (0, "Лид — новое в Полынья"),
        (1, "Лид и ещё одна новая статья — Полынья"),
        (3, "Лид и ещё 3 новые статьи — Полынья"),
        (5, "Лид и ещё 5 новых статей — Полынья"),
        (21, "Лид и ещё 21 новая статья — Полынья"),
    ],
)
def test_russian_preheader_plurals(more: int, expected: str) -> None:
    assert labels.preheader(Words(), "ru", "Лид", more, "Полынья") == expected


def test_greetings() -> None:
    assert labels.greeting(Words(), "en", "Anna") == "Hello Anna,"
    assert labels.greeting(Words(), "ru", "Анна") == "Здравствуйте, Анна!"
    assert labels.greeting(Words(), "en", " \n") == "Dear reader,"
    assert labels.greeting(Words(), "de", "Anna") == "Hello Anna,"


def test_read_in_labels() -> None:
    assert labels.read_in(Words(), "ru", "en") == "Read in Russian"
    assert labels.read_in(Words(), "en", "ru") == "Читать на английском"


def test_sections_are_shown_in_the_edition_language(demo_editions: DemoEditions) -> None:
    en = [p.text_content() for p in document(demo_editions, "en").find_class("kicker")]
    ru = [p.text_content() for p in document(demo_editions, "ru").find_class("kicker")]
    assert "Foreign policy" in en and "Economy" in en
    assert "Внешняя политика" in ru and "Экономика" in ru
    assert not {"Foreign policy", "Economy"} & set(ru)
    text = demo_editions.path("ru", "text").read_text(encoding="utf-8")
    assert "ЭКОНОМИКА" in text and "ECONOMY" not in text
