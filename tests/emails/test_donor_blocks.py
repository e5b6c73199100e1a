"""Donor-aware donation blocks: thanks, renew or an appeal variant, chosen per reader.

Donations are imported from CSV, an edition is built once, and it is sent
for real (Maildir and aiosmtpd); each reader's message must carry their own
block and the stored edition, its preview files and its web copy only the
plain appeal.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.content.donations import import_donations
from broadsheet.emails.delivery.proof import send_test
from broadsheet.emails.delivery.sender import send_edition
from broadsheet.emails.edition import appeals
from broadsheet.errors import ConfigError
from broadsheet.model import Frequency, Giving
from broadsheet.scheduler.editions import build_edition
from broadsheet.store import Store
from tests.delivery.helpers import RecordingHandler, SmtpServer, add_subscribers, smtp_config

VARIANTS = """
[donation]
thanks_days = 60

[[donation.en.variants]]
heading = "Variant one heading"
text = "The first wording of the appeal."
button_label = "Give once"

[[donation.en.variants]]
heading = "Variant two heading"
text = "The second wording of the appeal."
button_label = "Give monthly"
"""


def test_variants_split_evenly_over_ten_thousand_readers() -> None:
    ids = appeals.variant_ids(3)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    chosen = Counter(
        appeals.choose(f"reader{i}@example.org", None, now=now, thanks_days=90, appeals=ids)
        for i in range(10_000)
    )
    assert set(chosen) == {"v1", "v2", "v3"}
    for count in chosen.values():
        assert abs(count - 10_000 / 3) <= 0.05 * 10_000 / 3, chosen
    # The same reader always gets the same variant, whatever the case of the address.
    assert appeals.choose(
        "Reader7@Example.org", None, now=now, thanks_days=90, appeals=ids
    ) == appeals.choose("reader7@example.org", None, now=now, thanks_days=90, appeals=ids)


def test_choice_by_what_the_reader_gave() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    ids = ("v1", "v2")

    def pick(giving: Giving | None) -> str:
        return appeals.choose("a@example.org", giving, now=now, thanks_days=60, appeals=ids)

    day = timedelta(days=1)
    assert pick(Giving(last=now - 20 * day, last_recurring=now - 20 * day)) == "thanks"
    # A recurring donation that stopped is a past one-off: renew once thanks_days pass.
    assert pick(Giving(last=now - 100 * day, last_recurring=now - 100 * day)) == "renew"
    assert pick(Giving(last=now - 59 * day)) == "thanks"
    assert pick(Giving(last=now - 61 * day)) == "renew"
    assert pick(None) in ids


def test_config_errors_name_the_key(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(
            '[donation]\nthanks_days = "soon"\ncolour = 3\n'
            '[[donation.en.variants]]\nheading = "Only a heading"\n'
        )
    text = str(caught.value)
    assert "donation.thanks_days: expected an integer" in text
    assert "donation.colour: unknown key" in text
    assert "donation.en.variants[0].text: missing (required)" in text
    assert "donation.en.variants[0].button_label: missing (required)" in text
    settings = make_settings(VARIANTS)
    assert settings.donation_options.thanks_days == 60
    assert [v.heading for v in settings.donation["en"].variants] == [
        "Variant one heading",
        "Variant two heading",
    ]


def _messages_by_recipient(folder: Path) -> dict[str, EmailMessage]:
    out = {}
    for raw in mailbox.Maildir(folder, create=False):
        parsed = email.message_from_bytes(raw.as_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        out[str(parsed["To"]).split("<")[-1].rstrip(">")] = parsed
    return out


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def _setup(settings: Settings, store: Store, tmp_path: Path, now: datetime) -> str:
    add_subscribers(store, 40, now=now)
    donations = tmp_path / "donations.csv"
    donations.write_text(
        "email,date,amount,currency,recurring\n"
        f"reader0@example.org,{(now - timedelta(days=10)).date()},5,EUR,yes\n"
        f"reader1@example.org,{(now - timedelta(days=200)).date()},50,EUR,no\n"
        f"reader2@example.org,{(now - timedelta(days=5)).date()},20,EUR,no\n",
        encoding="utf-8",
    )
    report = import_donations(store, settings, donations, now=now)
    assert report.ok and report.added == 3
    outcome = build_edition(store, settings, language="en", frequency=Frequency.WEEKLY, now=now)
    assert outcome.edition is not None
    return outcome.edition.id


def _check_messages(messages: dict[str, EmailMessage], settings: Settings) -> None:
    appeal = settings.donation["en"]
    thanks_heading = "Thank you for your support"
    for address in ("reader0@example.org", "reader2@example.org"):
        text, html = _parts(messages[address])
        for part in (text, html):
            assert thanks_heading in part
            assert appeal.url not in part  # thanked, not asked: no donate link
            assert appeal.heading not in part
            assert "Variant" not in part
    text, html = _parts(messages["reader1@example.org"])
    assert "Will you give again?" in text and "Will you give again?" in html
    assert appeal.url in html and appeal.button_label in html
    seen: Counter[str] = Counter()
    for address, message in messages.items():
        if address in ("reader0@example.org", "reader1@example.org", "reader2@example.org"):
            continue
        text, html = _parts(message)
        expected = appeals.choose(
            address,
            None,
            now=datetime(2026, 11, 23, tzinfo=UTC),
            thanks_days=60,
            appeals=("v1", "v2"),
        )
        heading = {"v1": "Variant one heading", "v2": "Variant two heading"}[expected]
        assert heading in html and heading in text, address
        assert thanks_heading not in html
        assert appeal.url in html
        seen[expected] += 1
    assert set(seen) == {"v1", "v2"}


@pytest.mark.parametrize("transport", ["maildir", "smtp"])
def test_each_reader_gets_their_block_and_copies_keep_the_appeal(
    make_settings: Callable[..., Settings],
    publication: Store,
    fixed_now: datetime,
    tmp_path: Path,
    transport: str,
) -> None:
    server = SmtpServer(RecordingHandler()).start() if transport == "smtp" else None
    try:
        delivery = smtp_config(server.port) if server else '[delivery]\nmaildir = "outbox"\n'
        settings = make_settings(VARIANTS + delivery)
        store = publication
        edition_id = _setup(settings, store, tmp_path, fixed_now)
        report = send_edition(store, settings, edition_id, now=fixed_now)
        assert report.sent == 40
        if server is not None:
            folder = tmp_path / "received"
            box = mailbox.Maildir(folder, create=True)
            for item in server.handler.received:
                box.add(item.data)
        else:
            folder = settings.delivery.maildir
        _check_messages(_messages_by_recipient(folder), settings)
    finally:
        if server is not None:
            server.stop()

    # The stored edition, its preview files and web copy hold the plain appeal only.
    with store.read() as tx:
        record = tx.editions.get(edition_id)
    assert record is not None
    folder = Path(record.path)
    for stored in (
        record.html,
        record.text,
        (folder / "email.html").read_text(encoding="utf-8"),
        (folder / "email.txt").read_text(encoding="utf-8"),
        (folder / "index.html").read_text(encoding="utf-8"),
        (settings.emails.out / "en" / "index.html").read_text(encoding="utf-8"),
    ):
        assert "Thank you for your support" not in stored
        assert "Variant one heading" not in stored
        assert "bs:donation" not in stored
    assert settings.donation["en"].heading in record.html
    assert settings.donation["en"].heading in (folder / "index.html").read_text(encoding="utf-8")


def test_test_send_as_a_reader_shows_their_block(
    make_settings: Callable[..., Settings],
    publication: Store,
    fixed_now: datetime,
    tmp_path: Path,
) -> None:
    settings = make_settings(VARIANTS)
    edition_id = _setup(settings, publication, tmp_path, fixed_now)
    send_test(
        publication,
        settings,
        edition_id,
        to=["editor@example.org"],
        as_email="reader0@example.org",
        now=fixed_now,
        transport="maildir",
    )
    send_test(
        publication,
        settings,
        edition_id,
        to=["qa@example.org"],
        as_email="reader1@example.org",
        now=fixed_now,
        transport="maildir",
    )
    messages = _messages_by_recipient(settings.delivery.maildir)
    assert "Thank you for your support" in _parts(messages["editor@example.org"])[1]
    assert "Will you give again?" in _parts(messages["qa@example.org"])[1]


def test_russian_thanks_from_the_catalog(
    make_settings: Callable[..., Settings], publication: Store, fixed_now: datetime
) -> None:
    settings = make_settings()
    blocks = {b["variant"]: b for b in appeals.alternatives(settings, "ru", "https://x.example/")}
    assert blocks["thanks"]["heading"] == "Спасибо за вашу поддержку"
    assert "издание Test Weekly" in blocks["thanks"]["text"]
    assert blocks["thanks"]["button_label"] == ""
    assert blocks["renew"]["heading"] == "Поддержите нас ещё раз"
    assert blocks["renew"]["button_label"] == "Поддержать"


def test_clipping_guard_measures_the_longest_wording(
    make_settings: Callable[..., Settings], publication: Store, fixed_now: datetime
) -> None:
    long_text = "A much longer wording of the appeal. " * 150
    settings = make_settings(
        f'[[donation.en.variants]]\nheading = "Long"\ntext = "{long_text}"\nbutton_label = "Give"\n'
    )
    outcome = build_edition(
        publication, settings, language="en", frequency=Frequency.WEEKLY, now=fixed_now
    )
    record = outcome.edition
    assert record is not None
    assert long_text.strip() not in record.html  # the edition keeps the plain appeal
    plain_size = len(record.html.encode("utf-8"))
    summary = record.extra["clip"]
    assert isinstance(summary, dict)
    assert summary["size"] > plain_size + len(long_text) - 200
