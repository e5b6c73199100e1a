"""One message per subscriber: every header, clean MIME, links only for that reader."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
import time
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dkim
import pytest
import time_machine

from broadsheet.config import Settings
from broadsheet.emails.edition import tokens
from broadsheet.emails.edition.compose import OutgoingMessage, PreparedEdition
from broadsheet.emails.edition.personalize import Personal, fill_html, fill_text
from broadsheet.model import Subscriber, SubscriberStatus
from tests.conftest import DEMO_NOW
from tests.emails.demo import SECRET, DemoEditions

DATA = Path(__file__).parent / "data"
YEAR = 400 * 86_400


def parse(message: OutgoingMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def prepared(demo: DemoEditions, language: str) -> PreparedEdition:
    return PreparedEdition.from_record(demo.record(language), demo.settings, secret=SECRET)


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_message_has_every_header(demo_editions: DemoEditions, language: str) -> None:
    reader = demo_editions.subscriber(language)
    outgoing = prepared(demo_editions, language).message(reader)
    message = parse(outgoing)
    for name in (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "Feedback-ID",
        "MIME-Version",
        "Content-Type",
    ):
        assert len(message.get_all(name) or []) == 1, name
    assert message["From"].addresses[0].addr_spec == "newsletter@polynya.example"
    assert message["From"].addresses[0].display_name == {"en": "Polynya", "ru": "Полынья"}[language]
    assert message["To"].addresses[0].addr_spec == reader.email
    assert str(message["Subject"]) == demo_editions.record(language).subject
    assert message["Message-ID"] == outgoing.message_id
    # The site's domain: the demo's site.url is http://localhost:8080.
    assert outgoing.message_id.endswith("@localhost>")
    assert message["List-Id"].endswith("<newsletter.polynya.example>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Feedback-ID"].startswith(demo_editions.record(language).id + ":")
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/alternative"
    assert message["Date"].datetime is not None
    uris = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    assert [uri.split(":")[0] for uri in uris] == ["http", "mailto"]
    assert outgoing.sender == "newsletter@polynya.example"
    assert outgoing.recipient == reader.email


@pytest.mark.parametrize("language", ["en", "ru"])
def test_message_reads_back_cleanly(demo_editions: DemoEditions, language: str) -> None:
    edition = prepared(demo_editions, language)
    reader = demo_editions.subscriber(language)
    # The message and the expected parts sign their links in the same second.
    with time_machine.travel(time.time(), tick=False):
        outgoing = edition.message(reader)
        personal = edition.personal(reader)
    message = parse(outgoing)
    assert not message.defects
    assert all(len(line) <= 998 for line in outgoing.data.split(b"\r\n"))
    assert b"\n" not in outgoing.data.replace(b"\r\n", b"")
    text, html = list(message.iter_parts())
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert not text.defects and not html.defects
    record = demo_editions.record(language)
    assert text.get_content().replace("\r\n", "\n") == fill_text(record.text, personal)
    assert html.get_content().replace("\r\n", "\n") == fill_html(record.html, personal).replace(
        "\r\n", "\n"
    )
    assert "%%bs:" not in text.get_content() + html.get_content()


def test_russian_html_is_base64_and_english_text_quoted_printable(
    demo_editions: DemoEditions,
) -> None:
    ru = parse(prepared(demo_editions, "ru").message(demo_editions.subscriber("ru")))
    en = parse(prepared(demo_editions, "en").message(demo_editions.subscriber("en")))
    assert list(ru.iter_parts())[1]["Content-Transfer-Encoding"] == "base64"
    assert list(en.iter_parts())[0]["Content-Transfer-Encoding"] == "quoted-printable"


@pytest.mark.parametrize(
    ("language", "name", "greeting"),
    [
        ("en", "Anna", "Hello Anna,"),
        ("ru", "Анна", "Здравствуйте, Анна!"),
        ("en", "", "Dear reader,"),
        ("ru", "  ", "Здравствуйте!"),
    ],
)
def test_greeting(demo_editions: DemoEditions, language: str, name: str, greeting: str) -> None:
    reader = demo_editions.subscriber(language, name=name)
    message = parse(prepared(demo_editions, language).message(reader))
    text, html = list(message.iter_parts())
    assert greeting in text.get_content()
    assert f">{greeting}</p>" in html.get_content()


def test_names_are_escaped_in_html_and_cannot_inject_headers(demo_editions: DemoEditions) -> None:
    reader = demo_editions.subscriber("en", name='<b>Eve</b>\r\nBcc: spy@example.org "x"')
    message = parse(prepared(demo_editions, "en").message(reader))
    assert message.get_all("Bcc") is None
    html = list(message.iter_parts())[1].get_content()
    assert "<b>Eve</b>" not in html
    assert "Hello &lt;b&gt;Eve&lt;/b&gt; Bcc: spy@example.org &quot;x&quot;," in html


@pytest.mark.parametrize("language", ["en", "ru"])
def test_unsubscribe_link_works_only_for_that_subscriber(
    demo_editions: DemoEditions, language: str
) -> None:
    edition = prepared(demo_editions, language)
    anna = demo_editions.subscriber(language)
    boris = dataclasses.replace(anna, id=anna.id + 1, email="boris@example.org")
    message = parse(edition.message(anna))
    header_url = re.findall(r"<(https?://[^>]+)>", str(message["List-Unsubscribe"]))[0]
    html = list(message.iter_parts())[1].get_content()
    footer_urls = re.findall(r'href="(http://localhost:8080/unsubscribe\?[^"]+)"', html)
    assert footer_urls == [header_url]
    token = token_of(header_url)
    assert tokens.verify(SECRET, token, "unsubscribe", max_age=YEAR) == anna.id
    assert tokens.verify(SECRET, token, "unsubscribe", max_age=YEAR) != boris.id
    with pytest.raises(tokens.BadToken):
        tokens.verify(SECRET, token, "preferences", max_age=YEAR)
    with pytest.raises(tokens.BadToken):
        tokens.verify("another-secret", token, "unsubscribe", max_age=YEAR)
    boris_token = token_of(edition.personal(boris).unsubscribe_url)
    assert tokens.verify(SECRET, boris_token, "unsubscribe", max_age=YEAR) == boris.id
    mailto = re.findall(r"<mailto:([^>]+)>", str(message["List-Unsubscribe"]))[0]
    assert mailto.endswith(f"?subject=unsubscribe-{token}")
    preferences = re.findall(r'href="(http://localhost:8080/preferences\?[^"]+)"', html)
    assert tokens.verify(SECRET, token_of(preferences[0]), "preferences", max_age=YEAR) == anna.id


def test_links_carry_utm_except_personal_ones(demo_editions: DemoEditions) -> None:
    message = parse(prepared(demo_editions, "en").message(demo_editions.subscriber("en")))
    html = list(message.iter_parts())[1].get_content()
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert hrefs and all(href.startswith(("https://", "http://localhost:8080")) for href in hrefs)
    edition_id = demo_editions.record("en").id
    for href in hrefs:
        query = parse_qs(urlsplit(href.replace("&amp;", "&")).query)
        is_article = re.match(r"http://localhost:8080/(en|ru)/[a-z0-9-]+/\?", href)
        if is_article:
            assert query["utm_source"] == ["newsletter"]
            assert query["utm_medium"] == ["email"]
            assert query["utm_campaign"] == [edition_id]
        else:
            assert "utm_source" not in query, href


def test_message_id_is_stable_and_per_subscriber(demo_editions: DemoEditions) -> None:
    edition = prepared(demo_editions, "en")
    anna = demo_editions.subscriber("en")
    again = PreparedEdition.from_record(
        demo_editions.record("en"), demo_editions.settings, secret=SECRET
    )
    other_secret = PreparedEdition.from_record(
        demo_editions.record("en"), demo_editions.settings, secret="x"
    )
    boris = dataclasses.replace(anna, id=99)
    assert edition.message(anna).message_id == again.message(anna).message_id
    assert edition.message(anna).message_id != edition.message(boris).message_id
    # Keyed by the secret, so inbox can trust a report quoting it.
    assert edition.message(anna).message_id != other_secret.message(anna).message_id


def _signing(demo_editions: DemoEditions) -> Settings:
    """The demo settings with the test-only DKIM key (selector ``news``)."""
    return dataclasses.replace(
        demo_editions.settings,
        sender=dataclasses.replace(
            demo_editions.settings.sender,
            dkim_key=DATA / "dkim-test-only.key",
            dkim_selector="news",
        ),
    )


def _dns(name: bytes, timeout: int = 5) -> bytes:
    """The test key's DNS record, where dkimpy looks it up."""
    assert name == b"news._domainkey.polynya.example."
    public = (DATA / "dkim-test-only.pub").read_text().strip()
    return f"v=DKIM1; k=rsa; p={public}".encode()


def test_dkim_signature_verifies_and_covers_list_unsubscribe(demo_editions: DemoEditions) -> None:
    settings = _signing(demo_editions)

    edition = PreparedEdition.from_record(demo_editions.record("ru"), settings, secret=SECRET)
    outgoing = edition.message(demo_editions.subscriber("ru"))
    assert outgoing.data.startswith(b"DKIM-Signature:")
    assert dkim.verify(outgoing.data, dnsfunc=_dns)
    signature = parse(outgoing)["DKIM-Signature"]
    signed = re.search(r"h=([^;]+);", str(signature).replace(" ", ""))
    assert signed is not None
    names = set(signed.group(1).lower().split(":"))
    assert {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    } <= names
    tampered = outgoing.data.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: x"
    )
    assert not dkim.verify(tampered, dnsfunc=_dns)


def test_missing_dkim_key_is_a_config_error(demo_editions: DemoEditions, tmp_path: Path) -> None:
    from broadsheet.errors import ConfigError

    settings = dataclasses.replace(
        demo_editions.settings,
        sender=dataclasses.replace(demo_editions.settings.sender, dkim_key=tmp_path / "none.pem"),
    )
    with pytest.raises(ConfigError, match="sender.dkim_key"):
        PreparedEdition.from_record(demo_editions.record("en"), settings, secret=SECRET)


def test_personal_values_are_only_string_work(demo_editions: DemoEditions) -> None:
    edition = prepared(demo_editions, "en")
    reader = Subscriber(
        id=1,
        email="a@example.org",
        name="A",
        language="en",
        frequency=demo_editions.record("en").frequency,
    )
    personal = edition.personal(reader)
    assert isinstance(personal, Personal)
    assert personal.unsubscribe_url.startswith("http://localhost:8080/unsubscribe?token=")
    assert personal.preferences_url.startswith("http://localhost:8080/preferences?token=")


def test_confirmation_messages_are_signed_too(demo_editions: DemoEditions) -> None:
    from broadsheet.emails.subscriptions.flows import confirmation_message

    person = dataclasses.replace(demo_editions.subscriber("en"), status=SubscriberStatus.PENDING)
    outgoing = confirmation_message(_signing(demo_editions), person, secret=SECRET, now=DEMO_NOW)
    assert outgoing.data.startswith(b"DKIM-Signature:")
    assert dkim.verify(outgoing.data, dnsfunc=_dns)


def test_personal_links_signed_at_a_given_time(demo_editions: DemoEditions) -> None:
    edition = prepared(demo_editions, "en")
    anna = demo_editions.subscriber("en")
    at = int(DEMO_NOW.timestamp())
    first = edition.message(anna, signed_at=at)
    assert first.data == prepared(demo_editions, "en").message(anna, signed_at=at).data
    token = re.findall(r"unsubscribe\?token=([\w.-]+)", first.data.decode("ascii", "replace"))[0]
    assert tokens.signed_at(token) == at
    assert tokens.verify(SECRET, token, "unsubscribe", max_age=10 * YEAR) == anna.id
    assert edition.message(anna, signed_at=at + 1).data != first.data
