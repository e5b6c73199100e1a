"""The welcome message: once per confirmation, in the subscriber's language, never twice."""

from __future__ import annotations

import email.message
import email.policy
import logging
import mailbox
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.emails.edition import tokens
from broadsheet.emails.subscriptions.flows import Subscriptions
from broadsheet.model import Frequency, SubscriberDetails, SubscriberStatus
from broadsheet.store import Store
from tests.delivery.helpers import free_port
from tests.web.conftest import SECRET, Web


def _mail_to(settings: Settings, address: str) -> list[email.message.EmailMessage]:
    try:
        box = mailbox.Maildir(settings.delivery.maildir, create=False)
    except mailbox.NoSuchMailboxError:
        return []
    found = []
    for key in box.iterkeys():
        message = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        if message["Delivered-To"] == address:
            found.append(message)
    return found


def _welcomes(settings: Settings, address: str) -> list[email.message.EmailMessage]:
    return [m for m in _mail_to(settings, address) if ".welcome@" in str(m["Message-ID"])]


def _pending(store: Store, now: datetime, address: str, **details: object) -> int:
    row = SubscriberDetails(
        email=address,
        name=str(details.get("name", "")),
        language=str(details.get("language", "en")),
        frequency=Frequency(str(details.get("frequency", "weekly"))),
        topics=(),
    )
    with store.write() as tx:
        return tx.subscribers.add_pending(row, source="web", now=now).id


def _parts(message: email.message.EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def test_confirming_twice_over_http_sends_one_welcome(
    serve: Callable[..., Web], settings: Settings, store: Store, fixed_now: datetime
) -> None:
    web = serve(settings, store)
    person = _pending(store, fixed_now, "anna@example.org", name="Anna")
    token = tokens.sign(SECRET, "confirm", person)
    for _ in range(2):
        answer = web.client.post("/confirm", params={"token": token})
        assert answer.status_code == 200 and "Subscription confirmed" in answer.text
    (welcome,) = _welcomes(settings, "anna@example.org")
    assert welcome["Subject"] == "Welcome to the Test Weekly newsletter"
    assert welcome["From"] == "Test Weekly <letters@news.example>"
    assert welcome["To"] == "Anna <anna@example.org>"
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = _parts(welcome)
    for part in (text, html):
        assert "Hello Anna," in part
        assert "once a week: Monday, at 08:00 (Europe/Moscow)" in part
        assert "https://news.example/newsletter/editions/en/" in part
        assert "Keep us independent" in part and "https://news.example/en/donate/" in part
        assert "https://news.example/newsletter/unsubscribe?token=" in part
    with store.read() as tx:
        assert tx.subscribers.welcomed(person) is not None
    # The welcome's unsubscribe link works.
    (link,) = [w for w in text.split() if "/unsubscribe?token=" in w]
    unsub = tokens.verify(SECRET, link.split("token=")[1], "unsubscribe", 3600)
    assert unsub == person


def test_the_welcome_speaks_the_subscribers_language(
    make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    settings = make_settings('[sender.ru]\nname = "Тестовый еженедельник"\n')
    store = Store.open(settings.store.url)
    try:
        person = _pending(store, fixed_now, "ivan@example.org", language="ru", frequency="daily")
        subs = Subscriptions(store, settings, secret=SECRET, clock=lambda: fixed_now)
        assert subs.confirm(tokens.sign(SECRET, "confirm", person)).result == "confirmed"
    finally:
        store.close()
    (welcome,) = _welcomes(settings, "ivan@example.org")
    assert welcome["Subject"].startswith("Добро пожаловать")
    assert "Тестовый еженедельник" in welcome["From"]
    text, html = _parts(welcome)
    for part in (text, html):
        assert "каждый день в 07:00 (Europe/Moscow)" in part
        assert "Поддержите нас" in part and "https://news.example/ru/donate/" in part
        assert "Keep us independent" not in part
    assert 'lang="ru"' in html


def test_an_address_unsubscribed_meanwhile_gets_no_welcome(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    person = _pending(store, fixed_now, "late@example.org")
    token = tokens.sign(SECRET, "confirm", person)
    # Tokens are signed by the system clock: unsubscribing comes after it.
    subs = Subscriptions(
        store, settings, secret=SECRET, clock=lambda: datetime.now(UTC) + timedelta(minutes=10)
    )
    subs.unsubscribe(tokens.sign(SECRET, "unsubscribe", person))
    # A confirm link older than the unsubscription confirms nothing.
    assert subs.confirm(token).result == "stale"
    assert _welcomes(settings, "late@example.org") == []
    # Nor can a welcome be claimed for an address that is not active.
    with store.write() as tx:
        assert not tx.subscribers.claim_welcome(person, now=fixed_now)
    with store.read() as tx:
        found = tx.subscribers.get(person)
        assert found is not None and found.status is SubscriberStatus.UNSUBSCRIBED
        assert tx.subscribers.welcomed(person) is None


def test_a_welcome_that_cannot_be_delivered_leaves_the_confirmation_standing(
    make_settings: Callable[..., Settings], fixed_now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    # Nobody listens on that port: the SMTP connection is refused.
    settings = make_settings(
        f"""
        [delivery]
        transport = "smtp"
        smtp_host = "127.0.0.1"
        smtp_port = {free_port()}
        smtp_tls = "none"
        smtp_timeout = 2
        retries = 0
        """
    )
    store = Store.open(settings.store.url)
    try:
        person = _pending(store, fixed_now, "anna@example.org")
        subs = Subscriptions(store, settings, secret=SECRET, clock=lambda: fixed_now)
        with caplog.at_level(logging.WARNING):
            outcome = subs.confirm(tokens.sign(SECRET, "confirm", person))
        assert outcome.result == "confirmed"
        assert outcome.subscriber.status is SubscriberStatus.ACTIVE
        assert "welcome to anna@example.org not sent" in caplog.text
        with store.read() as tx:
            assert tx.subscribers.welcomed(person) is None
    finally:
        store.close()


def test_a_theme_changes_the_welcome_block_by_block(
    make_settings: Callable[..., Settings], tmp_path: Path, fixed_now: datetime
) -> None:
    theme = tmp_path / "theme" / "emails"
    theme.mkdir(parents=True)
    (theme / "welcome.html.j2").write_text(
        '{% extends "builtin:emails/welcome.html.j2" %}\n'
        "{% block donation %}<tr><td>Our own appeal: {{ donation.url }}</td></tr>{% endblock %}\n",
        encoding="utf-8",
    )
    (theme / "welcome.txt.j2").write_text(
        '{% extends "builtin:emails/welcome.txt.j2" %}\n'
        "{% block donation %}\nOur own appeal: {{ donation.url }}\n{% endblock %}\n",
        encoding="utf-8",
    )
    settings = make_settings('[emails]\ntheme = "theme/"\n')
    store = Store.open(settings.store.url)
    try:
        person = _pending(store, fixed_now, "anna@example.org")
        subs = Subscriptions(store, settings, secret=SECRET, clock=lambda: fixed_now)
        subs.confirm(tokens.sign(SECRET, "confirm", person))
    finally:
        store.close()
    (welcome,) = _welcomes(settings, "anna@example.org")
    for part in _parts(welcome):
        assert "Our own appeal: https://news.example/en/donate/" in part
        assert "Keep us independent" not in part
        assert "/unsubscribe?token=" in part
