"""The text twin's links: the plain address of each page; UTM tags only in the HTML part.

A text part shows its URLs, so it shows them as a reader copies and shares
them; the HTML part's links, which nobody reads, keep the UTM tags. With
``[emails] text_utm = true`` the text part is tagged as before; with
``[links] count_clicks`` on both parts carry the same ``/r/`` link, and the
redirect adds the tags.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from collections.abc import Callable
from datetime import timedelta

import pytest

from broadsheet.config import Settings
from broadsheet.emails.edition import links
from broadsheet.emails.edition.build import render_edition
from broadsheet.emails.edition.context import EditionContent
from broadsheet.emails.subscriptions.flows import confirmation_message
from broadsheet.model import Frequency, Subscriber, SubscriberStatus
from tests.conftest import DEMO_NOW, make_article

EDITION = "weekly-en-2026-11-23"


@pytest.mark.parametrize(
    "url",
    [
        "https://news.example/en/a/",
        "https://news.example/en/a/?page=2&q=a+b",
        "https://news.example/en/a/?utm_source=partner",
        "https://news.example/en/a/?utm_campaign=spring&x=1",
        "https://news.example/en/a/#part-2",
        "https://elsewhere.example/x/?y=1",
    ],
)
def test_without_utm_undoes_with_utm(settings: Settings, url: str) -> None:
    tagged = links.with_utm(url, settings, edition_id=EDITION)
    plain = links.without_utm(tagged, settings, edition_id=EDITION)
    # The page's own parameters stay (in the form with_utm writes them).
    assert links.with_utm(plain, settings, edition_id=EDITION) == tagged
    assert plain.count("utm_") == url.count("utm_")
    assert links.without_utm(plain, settings, edition_id=EDITION) == plain


def test_without_utm_leaves_other_tags_alone(settings: Settings) -> None:
    other = "https://news.example/en/a/?utm_source=newsletter&utm_medium=email&utm_campaign=x"
    assert links.without_utm(other, settings, edition_id=EDITION) == other


def _content() -> EditionContent:
    lead = make_article(id="lead", translations={"ru": "lead-ru"})
    return EditionContent(
        edition_id=EDITION,
        language="en",
        frequency=Frequency.WEEKLY,
        slot=DEMO_NOW,
        new=(lead, make_article(id="second", published=DEMO_NOW - timedelta(hours=3))),
        top=(make_article(id="top-read", published=DEMO_NOW - timedelta(days=9)),),
        read_also=(),
        since=DEMO_NOW - timedelta(days=7),
        until=DEMO_NOW,
        window=((DEMO_NOW - timedelta(days=30)).date(), DEMO_NOW.date()),
        translations={"lead": (make_article(id="lead-ru", language="ru"),)},
    )


def _links(part: str) -> list[str]:
    return re.findall(r"https?://[^\s\"<>]+", part.replace("&amp;", "&"))


def test_text_twin_shows_plain_links_and_html_keeps_the_tags(settings: Settings) -> None:
    record = render_edition(_content(), settings, now=DEMO_NOW).record
    text_links = _links(record.text)
    html_hrefs = [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', record.html)]
    tagged = [h for h in html_hrefs if "utm_source=newsletter" in h]
    # The articles (lead, its translation, the second, the top read) and the donation button.
    assert len({h.split("?")[0] for h in tagged}) == 5
    assert not [url for url in text_links if "utm_" in url]
    for href in tagged:
        assert links.without_utm(href, settings, edition_id=EDITION) in text_links
    assert "https://news.example/ru/lead-ru/" in text_links


def test_text_utm_tags_the_text_twin_too(settings: Settings) -> None:
    tagging = dataclasses.replace(
        settings, emails=dataclasses.replace(settings.emails, text_utm=True)
    )
    record = render_edition(_content(), tagging, now=DEMO_NOW).record
    text_links = _links(record.text)
    html_hrefs = {h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', record.html)}
    tagged = {h for h in html_hrefs if "utm_source=newsletter" in h}
    assert tagged and tagged <= set(text_links)


def test_counted_links_are_the_same_in_both_parts(settings: Settings) -> None:
    counting = dataclasses.replace(
        settings, links=dataclasses.replace(settings.links, count_clicks=True)
    )
    rendered = render_edition(_content(), counting, now=DEMO_NOW, secret="s3cret")
    text_links = set(_links(rendered.record.text))
    html_hrefs = set(re.findall(r'href="([^"]+)"', rendered.record.html))
    counted = {h for h in html_hrefs if "/r/" in h}
    assert counted and counted <= text_links
    assert not [url for url in text_links if "utm_" in url]
    # The redirect's target keeps the tags: text clicks are attributed as HTML ones.
    articles = [link for link in rendered.links if link.block in ("lead", "new", "top_reads")]
    assert len(articles) == 4
    assert all("utm_source=newsletter" in link.url for link in articles)


def test_footers_carry_the_postal_address_in_the_readers_language(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings('[sender.ru]\npostal_address = "Москва, Тестовая ул., 1"\n')
    russian = dataclasses.replace(_content(), language="ru", edition_id="weekly-ru-2026-11-23")
    for content, address in (
        (_content(), "1 Example Street, Example City"),
        (russian, "Москва, Тестовая ул., 1"),
    ):
        record = render_edition(content, settings, now=DEMO_NOW).record
        assert address in record.text and address in record.html
        language = content.language
        reader = Subscriber(
            id=7,
            email="reader@example.org",
            name="",
            language=language,
            frequency=Frequency.WEEKLY,
            status=SubscriberStatus.PENDING,
        )
        message = confirmation_message(settings, reader, secret="s3cret", now=DEMO_NOW)
        parsed = email.message_from_bytes(message.data, policy=email.policy.default)
        parts = [p.get_content() for p in parsed.walk() if not p.is_multipart()]
        assert len(parts) == 2 and all(address in part for part in parts), parts
