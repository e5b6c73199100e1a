"""One address, several newsletters: the form, one confirmation, both editions, one-click on one.

Real pieces throughout: the app served by uvicorn, the demo publication's
store, `broadsheet run --at` building and delivering its editions into a
real Maildir, and the one-click POST a mailbox provider makes (RFC 8058).
"""

from __future__ import annotations

import email.policy
import mailbox
import re
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage

from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.emails.edition import tokens
from broadsheet.model import EventKind, Frequency, SubscriberStatus
from broadsheet.store import Store
from tests.web.conftest import SECRET, Web

FORM = {"content-type": "application/x-www-form-urlencoded"}
READER = "two@example.org"
MONDAY_0800 = "2026-11-23T08:00:00+03:00"


def _messages_to(settings: Settings, address: str) -> list[EmailMessage]:
    folder = settings.delivery.maildir
    if not folder.is_dir():
        return []
    box = mailbox.Maildir(folder, create=False)
    found = []
    for key in box.iterkeys():
        message = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if address in str(message["To"]).lower():
            found.append(message)
    return found


def _editions_to(settings: Settings, address: str) -> Counter[str]:
    """How many messages of each edition went to ``address``."""
    counted: Counter[str] = Counter()
    for message in _messages_to(settings, address):
        match = re.match(r"<((?:daily|weekly)-[a-z]+-\d{4}-\d{2}-\d{2})\.", message["Message-ID"])
        if match:
            counted[match.group(1)] += 1
    return counted


def _token(message: EmailMessage, path: str) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(rf"/{path}\?token=([\w.\-]+)", body.get_content())
    assert found, body.get_content()
    return found.group(1)


def _run(settings: Settings, at: str) -> str:
    result = CliRunner().invoke(
        cli, ["run", "--config", str(settings.path), "--at", at], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_english_weekly_and_russian_daily_each_arrive_once_and_one_click_leaves_one(
    serve: Callable[..., Web], demo_settings: Settings, demo_store: Store
) -> None:
    settings = demo_settings
    web = serve(settings, demo_store)
    form = web.client.get("/subscribe")
    assert form.status_code == 200
    for value in ("en-weekly", "en-daily", "ru-weekly", "ru-daily"):
        assert f'value="{value}"' in form.text
    assert 'name="timezone"' in form.text and "resolvedOptions().timeZone" in form.text
    assert "script-src 'sha256-" in form.headers["content-security-policy"]

    asked = web.client.post(
        "/subscribe",
        data={
            "email": "Two@Example.org",
            "name": "Tove",
            "choose": "yes",
            "newsletters": ["en-weekly", "ru-daily"],
        },
    )
    assert asked.status_code == 200, asked.text
    (confirmation,) = _messages_to(settings, READER)  # one message for the whole request
    text = confirmation.get_body(preferencelist=("plain",))
    assert text is not None
    assert "- English · Once a week\n- Russian · Every day" in text.get_content()
    token = _token(confirmation, "confirm")
    page = web.client.get("/confirm", params={"token": token})
    assert "English · Once a week" in page.text and "Russian · Every day" in page.text
    with demo_store.read() as tx:
        pending = tx.subscribers.of_address(READER)
    assert [(s.language, s.frequency, s.status) for s in pending] == [
        ("en", Frequency.WEEKLY, SubscriberStatus.PENDING),
        ("ru", Frequency.DAILY, SubscriberStatus.PENDING),
    ]
    assert web.client.post("/confirm", params={"token": token}).status_code == 200
    with demo_store.read() as tx:
        held = tx.subscribers.of_address(READER)
        history = tx.events.history(READER)
    assert {s.status for s in held} == {SubscriberStatus.ACTIVE}
    welcomes = [m for m in _messages_to(settings, READER) if ".welcome@" in m["Message-ID"]]
    assert len(welcomes) == 1  # one welcome for the address, not one per newsletter
    assert [e.kind for e in history] == [
        EventKind.REQUESTED,
        EventKind.REQUESTED,
        EventKind.CONFIRMED,
        EventKind.CONFIRMED,
    ]
    requested = history[0].detail
    assert requested["network"] == "127.0.0.0/24"  # the client's network, never its address
    assert re.fullmatch(r"[0-9a-f]{12}", str(requested["wording"]))
    en, ru = held

    # Monday 08:00: the scheduler sends the weekly editions and the dailies.
    _run(settings, MONDAY_0800)
    _run(settings, MONDAY_0800)  # again: nothing more
    got = _editions_to(settings, READER)
    assert got == {"weekly-en-2026-11-23": 1, "daily-ru-2026-11-23": 1}, got
    with demo_store.read() as tx:
        for edition in ("weekly-ru-2026-11-23", "daily-en-2026-11-23"):
            ids = {e.subscriber_id for e in tx.ledger.entries(edition, limit=100_000)}
            assert ids and not ids & {s.id for s in held}

    # One-click from the English weekly: only that subscription ends.
    weekly = next(
        m for m in _messages_to(settings, READER) if m["Message-ID"].startswith("<weekly-en-")
    )
    assert weekly["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = re.search(r"<(https?://[^>]+/unsubscribe\?token=([^>]+))>", weekly["List-Unsubscribe"])
    assert header
    answer = web.client.post(
        web.url + "/unsubscribe?token=" + header.group(2),
        content=b"List-Unsubscribe=One-Click",
        headers=FORM,
    )
    assert answer.status_code == 200
    with demo_store.read() as tx:
        after = {s.id: s.status for s in tx.subscribers.of_address(READER)}
        last = tx.events.history(READER)[-1]
    assert after == {en.id: SubscriberStatus.UNSUBSCRIBED, ru.id: SubscriberStatus.ACTIVE}
    assert (last.kind, last.source, last.subscriber_id) == (
        EventKind.UNSUBSCRIBED,
        "one-click",
        en.id,
    )
    # The Russian daily keeps coming; the English weekly does not.
    with demo_store.read() as tx:
        weekly_en = [s.email for s in tx.subscribers.iter_active("en", Frequency.WEEKLY)]
        daily_ru = [s.email for s in tx.subscribers.iter_active("ru", Frequency.DAILY)]
    assert READER not in weekly_en and READER in daily_ru


def test_preferences_page_changes_every_newsletter_of_the_address(
    serve: Callable[..., Web], demo_settings: Settings, demo_store: Store
) -> None:
    settings = demo_settings
    web = serve(settings, demo_store)
    web.client.post(
        "/subscribe",
        data={
            "email": READER,
            "choose": "yes",
            "newsletters": ["en-weekly", "ru-daily"],
            "timezone": "Asia/Yerevan",
        },
    )
    (confirmation,) = _messages_to(settings, READER)
    web.client.post("/confirm", params={"token": _token(confirmation, "confirm")})
    # A later request for another newsletter: confirmed, but not welcomed again.
    web.client.post(
        "/subscribe", data={"email": READER, "choose": "yes", "newsletters": "ru-weekly"}
    )
    first = _token(confirmation, "confirm")
    later = [
        _token(m, "confirm")
        for m in _messages_to(settings, READER)
        if ".confirm@" in m["Message-ID"] and _token(m, "confirm") != first
    ]
    assert len(later) == 1
    assert web.client.post("/confirm", params={"token": later[0]}).status_code == 200
    welcomes = [m for m in _messages_to(settings, READER) if ".welcome@" in m["Message-ID"]]
    assert len(welcomes) == 1
    with demo_store.write() as tx:
        weekly_ru = tx.subscribers.subscription(READER, "ru", Frequency.WEEKLY)
        assert weekly_ru is not None and weekly_ru.status is SubscriberStatus.ACTIVE
        assert weekly_ru.created is not None
        tx.subscribers.set_status(
            weekly_ru.id, SubscriberStatus.UNSUBSCRIBED, now=weekly_ru.created
        )
    with demo_store.read() as tx:
        en, ru, _ = tx.subscribers.of_address(READER)
    assert en.timezone == ru.timezone == "Asia/Yerevan"
    token = tokens.sign(SECRET, "preferences", ru.id)
    page = web.client.get("/preferences", params={"token": token})
    assert page.status_code == 200
    checked = set(re.findall(r'value="([a-z]+-(?:daily|weekly))" checked', page.text))
    assert checked == {"en-weekly", "ru-daily"}
    assert 'value="Asia/Yerevan"' in page.text
    # A scanner's GET changed nothing; a bad zone is refused and changes nothing.
    bad = web.client.post(
        "/preferences?token=" + token,
        data={"choose": "yes", "newsletters": ["en-daily"], "timezone": "Mars/Base"},
    )
    assert bad.status_code == 400 and "Mars/Base" in bad.text
    with demo_store.read() as tx:
        assert len(tx.subscribers.of_address(READER)) == 3
    # Leave the English weekly, take the English daily, share topics, move zones.
    saved = web.client.post(
        "/preferences?token=" + token,
        data={
            "choose": "yes",
            "newsletters": ["ru-daily", "en-daily"],
            "topics": ["Economy"],
            "timezone": "Europe/Berlin",
        },
    )
    assert saved.status_code == 200, saved.text
    with demo_store.read() as tx:
        held = {(s.language, str(s.frequency)): s for s in tx.subscribers.of_address(READER)}
        kinds = Counter((e.kind, e.source) for e in tx.events.history(READER))
    assert {k: s.status for k, s in held.items()} == {
        ("en", "daily"): SubscriberStatus.ACTIVE,
        ("en", "weekly"): SubscriberStatus.UNSUBSCRIBED,
        ("ru", "daily"): SubscriberStatus.ACTIVE,
        ("ru", "weekly"): SubscriberStatus.UNSUBSCRIBED,
    }
    assert held["en", "daily"].topics == held["ru", "daily"].topics == ("Economy",)
    assert {s.timezone for s in held.values()} == {"Europe/Berlin"}  # the address's, on each
    assert kinds[EventKind.UNSUBSCRIBED, "preferences"] == 1
    assert kinds[EventKind.PREFERENCES, "preferences"] >= 3
    # Unsubscribe from every newsletter: the page's second button.
    left = web.client.post("/preferences?token=" + token, data={"choose": "yes"})
    assert left.status_code == 200
    with demo_store.read() as tx:
        statuses = {s.status for s in tx.subscribers.of_address(READER)}
    assert statuses == {SubscriberStatus.UNSUBSCRIBED}
    # Ticking one again brings it back (the owner's own link).
    web.client.post(
        "/preferences?token=" + token, data={"choose": "yes", "newsletters": "ru-daily"}
    )
    with demo_store.read() as tx:
        back = tx.subscribers.subscription(READER, "ru", Frequency.DAILY)
    assert back is not None and back.status is SubscriberStatus.ACTIVE


def test_a_form_with_no_newsletter_or_a_bad_one_is_refused(
    serve: Callable[..., Web], demo_settings: Settings, demo_store: Store
) -> None:
    web = serve(demo_settings, demo_store)
    none = web.client.post("/subscribe", data={"email": READER, "choose": "yes"})
    assert none.status_code == 400 and "choose at least one newsletter" in none.text
    bad = web.client.post(
        "/subscribe", json={"email": READER, "newsletters": ["en-hourly"], "timezone": ""}
    )
    assert bad.status_code == 400 and bad.json()["field"] == "newsletters"
    zone = web.client.post(
        "/subscribe", json={"email": READER, "newsletters": ["en-daily"], "timezone": "Nowhere"}
    )
    assert zone.status_code == 400 and zone.json()["field"] == "timezone"
    with demo_store.read() as tx:
        assert tx.subscribers.of_address(READER) == []
    assert _messages_to(demo_settings, READER) == []
