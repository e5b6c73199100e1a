"""The words readers see: gettext catalogs, and each publication's own words over them."""

from __future__ import annotations

import dataclasses
import email
import gettext
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from broadsheet.config import Settings
from broadsheet.emails.edition import labels
from broadsheet.emails.edition.context import EditionContent, build_context
from broadsheet.emails.edition.render import render
from broadsheet.emails.subscriptions import pagetext
from broadsheet.emails.subscriptions.flows import confirmation_message
from broadsheet.feeds.sets import feed_sets
from broadsheet.model import Article, Frequency, Subscriber, SubscriberStatus
from broadsheet.words import Words, built_in, catalogs, check, fields, messages
from tests.conftest import DEMO_NOW, make_article

ROOT = Path(__file__).resolve().parents[2]
WORDS_DIR = ROOT / "broadsheet" / "words"
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": ((1, "c"), 2), "NP_": ((1, "c"), 2, 3)}
"""What ``pybabel extract -k N_:1c,2 -k NP_:1c,2,3`` (docs/translations.md) looks for."""

MINE = """
[labels.en.newsletter]
lead = "Cover story"
preheader_other = "{lead}, plus {count} more from {title}"
[labels.ru.newsletter]
lead = "Тема номера"
[labels.en.pages]
confirm_subject = "Please confirm: {title}"
[labels.ru.pages]
confirm_subject = "Подтвердите, пожалуйста: {title}"
[labels.en.feeds]
tag = "Tagged {name} on {site}"
[labels.ru.feeds]
tag = "Метка {name} на {site}"
"""

THEIRS = """
[labels.en.newsletter]
lead = "Top story"
[labels.en.pages]
confirm_subject = "One click to confirm {title}"
[labels.en.feeds]
tag = "{site}: everything on {name}"
"""


def _articles() -> list[Article]:
    return [
        make_article(
            id=f"{language}-{day}",
            language=language,
            title=f"Piece {day} ({language})",
            section="Economy",
            tags=("Energy",),
            authors=("Anna Beck",),
            published=DEMO_NOW - timedelta(days=day + 1),
        )
        for day in range(3)
        for language in ("en", "ru")
    ]


def _edition_text(settings: Settings, language: str, articles: list[Article]) -> str:
    """The plain-text edition of ``articles`` in ``language``, as a reader gets it."""
    chosen = [a for a in articles if a.language == language]
    content = EditionContent(
        edition_id=f"weekly-{language}-2026-11-23",
        language=language,
        frequency=Frequency.WEEKLY,
        slot=DEMO_NOW,
        new=tuple(chosen),
        top=(),
        read_also=(),
        since=DEMO_NOW - timedelta(days=7),
        until=DEMO_NOW,
        window=((DEMO_NOW - timedelta(days=30)).date(), DEMO_NOW.date()),
    )
    context = build_context(content, settings, mode="email")
    return render("emails/edition.txt.j2", context) + "\n" + context["preheader"]


def _confirmation_subject(settings: Settings, language: str) -> str:
    reader = Subscriber(
        id=7,
        email="reader@example.org",
        name="",
        language=language,
        frequency=Frequency.WEEKLY,
        status=SubscriberStatus.PENDING,
    )
    message = confirmation_message(settings, reader, secret="s" * 32, now=DEMO_NOW)
    parsed = email.message_from_bytes(message.data, policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return str(parsed["Subject"])


def _tag_descriptions(settings: Settings, articles: list[Article]) -> dict[str | None, str]:
    return {
        feed.language: feed.description
        for feed in feed_sets(articles, settings)
        if feed.scope == "tag"
    }


def test_two_publications_in_one_process_keep_their_own_words(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    mine = make_settings(MINE, folder=tmp_path / "mine")
    theirs = make_settings(THEIRS, folder=tmp_path / "theirs")
    plain = make_settings("", folder=tmp_path / "plain")
    articles = _articles()
    # Interleaved: each render sees its own publication's words, whatever was loaded last.
    for _ in range(2):
        assert "Cover story" in _edition_text(mine, "en", articles)
        assert "Top story" in _edition_text(theirs, "en", articles)
        assert "Lead story" in _edition_text(plain, "en", articles)
        assert "Тема номера" in _edition_text(mine, "ru", articles)
        assert "Главный материал" in _edition_text(theirs, "ru", articles)

        mine_tags = _tag_descriptions(mine, articles)
        theirs_tags = _tag_descriptions(theirs, articles)
        assert mine_tags["en"] == "Tagged Energy on Test Weekly"
        assert mine_tags["ru"] == "Метка Energy на Test Weekly"
        assert theirs_tags["en"] == "Test Weekly: everything on Energy"
        assert theirs_tags["ru"] == "Материалы с тегом «Energy» — Test Weekly."
        assert (
            _tag_descriptions(plain, articles)["en"]
            == "Articles tagged “Energy”, from Test Weekly."
        )

        assert _confirmation_subject(mine, "en") == "Please confirm: Test Weekly"
        assert _confirmation_subject(mine, "ru") == "Подтвердите, пожалуйста: Test Weekly"
        assert _confirmation_subject(theirs, "en") == "One click to confirm Test Weekly"
        assert _confirmation_subject(theirs, "ru") == "Подтвердите подписку на рассылку Test Weekly"
        assert _confirmation_subject(plain, "en") == "Confirm your subscription to Test Weekly"
    # A plural form the publication rewords replaces the catalog's for its category only.
    assert "Cover story" in labels.preheader(mine.words, "en", "Cover story", 2, "T")
    assert labels.preheader(mine.words, "en", "L", 2, "T") == "L, plus 2 more from T"
    assert labels.preheader(mine.words, "en", "L", 1, "T") == "L and one more new article from T"
    assert labels.preheader(theirs.words, "en", "L", 2, "T") == "L and 2 more new articles from T"


def test_the_catalogs_hold_every_marked_word() -> None:
    """``pybabel extract`` (run here in-process) finds nothing the catalogs lack."""
    with (WORDS_DIR / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    extracted: dict[tuple[str | None, str], str | tuple[str, ...]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        singular = message if isinstance(message, str) else message[0]
        assert singular, f"{filename}:{lineno}: an empty message"
        extracted[(context, singular)] = message
    assert extracted, "extraction found no words"
    assert any(key == (None, "Website") for key in extracted), "templates were not searched"
    assert {m.context for m in messages.MESSAGES.values()} <= {c for c, _ in extracted}

    def load(path: Path, language: str | None = None) -> Catalog:
        with path.open("rb") as po:
            return read_po(po, locale=language, abort_invalid=True)

    template = load(catalogs.LOCALE_DIR / "broadsheet.pot")
    in_template = {
        (m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in template if m.id
    }
    assert sorted(set(extracted) - in_template, key=str) == [], (
        "marked but not in broadsheet.pot: run pybabel extract and update (docs/translations.md)"
    )
    assert sorted(in_template - set(extracted), key=str) == [], (
        "in broadsheet.pot but marked nowhere: run pybabel extract and update"
    )
    assert {"en", "ru"} <= catalogs.languages()
    for language in sorted(catalogs.languages()):
        catalog = load(catalogs.po_path(language), language)
        for (context, singular), message in extracted.items():
            found = catalog.get(singular, context=context)
            where = f"{language}: {context or ''}|{singular}"
            assert found is not None, f"{where}: missing (run pybabel update)"
            assert found.id == message, f"{where}: the catalog has another plural"
            if language == catalogs.SOURCE_LANGUAGE:
                continue
            assert not found.fuzzy, f"{where}: fuzzy"
            forms = found.string if isinstance(found.string, tuple) else (found.string,)
            assert all(forms) and len(forms) == (
                catalog.num_plurals if found.pluralizable else 1
            ), f"{where}: not translated"


def test_the_catalogs_keep_the_fields_of_their_messages() -> None:
    for language in sorted(catalogs.languages()):
        translations = catalogs.translations(language)
        assert isinstance(translations, gettext.GNUTranslations)
        for group in ("newsletter", "pages", "feeds"):
            english = built_in(group, "en")
            for key, text in built_in(group, language).items():
                source = english.get(key, english.get(key.rsplit("_", 1)[0] + "_other", ""))
                extra = fields(text) - fields(source) - {"language_prepositional"}
                assert not extra, f"{language}: {group}.{key} uses {extra}"


def test_russian_plural_keys_are_public_and_checked() -> None:
    problems: list[str] = []
    checked = check(
        {"ru": {"newsletter": {"preheader_few": "{lead} и ещё {count} — {title}"}}},
        ("en", "ru"),
        problems,
    )
    assert problems == []
    words = Words.of(checked)
    assert labels.preheader(words, "ru", "Л", 3, "Т") == "Л и ещё 3 — Т"
    assert labels.preheader(words, "ru", "Л", 5, "Т") == "Л и ещё 5 новых статей — Т"
    check({"en": {"newsletter": {"preheader_few": "x"}}}, ("en", "ru"), problems)
    assert problems and "labels.en.newsletter.preheader_few: unknown key" in problems[0]
    problems.clear()
    check({"ru": {"newsletter": {"preheader_many": "{lead} {cnt}"}}}, ("en", "ru"), problems)
    assert problems == [
        "labels.ru.newsletter.preheader_many: unknown field {cnt} "
        "(this text may use {count}, {lead}, {title})"
    ]


def test_a_language_without_a_catalog_is_english_under_its_own_words() -> None:
    words = Words.of({"de-AT": {"newsletter": {"lead": "Aufmacher"}}})
    assert labels.labels(words, "de-AT")["lead"] == "Aufmacher"
    assert labels.labels(words, "de-AT")["top_reads"] == "Top reads"
    assert "lead" not in labels.missing(words, "de-AT")
    assert "top_reads" in labels.missing(words, "de-AT")
    assert labels.missing(words, "ru") == []
    assert labels.read_in(words, "en", "de-AT") == "Englisch ↗"
    assert pagetext.word(words, "pt", "home", title="T") == "Back to T"


def test_words_are_values() -> None:
    words = Words.of({"en": {"pages": {"home": "Home"}}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        words.own = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        words.own["en"]["pages"]["home"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        built_in("pages", "en")["home"] = "x"  # type: ignore[index]
    assert Words().table("pages", "en")["home"] == "Back to {title}"


def test_templates_translate_with_callables_from_their_context() -> None:
    """jinja2's i18n extension calls the render's own gettext: nothing is installed."""
    page: dict[str, object] = {
        "lang": "ru",
        "dir": "ltr",
        "t": pagetext.words(Words(), "ru"),
        "site_title": "T",
        "site_url": "https://news.example",
        "accent": "#000000",
        "heading": "H",
        "intro": "",
        "errors": [],
        "languages": [],
        "topics": [],
        "topic_names": {},
        "values": {"email": "", "name": "", "language": "ru", "frequency": "weekly", "topics": ()},
        "paragraphs": [],
        "link": None,
    }
    russian = render("web/subscribe.html.j2", {**page, **Words().gettext_callables("ru")})
    english = render("web/subscribe.html.j2", {**page, **Words().gettext_callables("en")})
    assert "<label>Сайт <input" in russian
    assert "<label>Website <input" in english
