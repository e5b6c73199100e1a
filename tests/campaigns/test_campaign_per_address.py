"""A campaign to daily and weekly readers reaches an address holding both newsletters once."""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from datetime import datetime
from email.utils import getaddresses
from pathlib import Path

from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.model import Frequency, SendState, SubscriberDetails
from broadsheet.store import Store


def test_an_address_with_both_frequencies_gets_the_campaign_once(
    make_settings: Callable[..., Settings], tmp_path: Path, fixed_now: datetime
) -> None:
    settings = make_settings('[delivery]\ntransport = "maildir"\nmaildir = "outbox"\n')
    store = Store.open(settings.store.url)
    try:
        with store.write() as tx:
            for email, frequencies in (
                ("both@example.org", (Frequency.DAILY, Frequency.WEEKLY)),
                ("daily@example.org", (Frequency.DAILY,)),
                ("weekly@example.org", (Frequency.WEEKLY,)),
            ):
                for frequency in frequencies:
                    details = SubscriberDetails(email, "", "en", frequency)
                    tx.subscribers.upsert_active(details, source="test", now=fixed_now)
    finally:
        store.close()
    path = tmp_path / "news.md"
    path.write_text("---\nsubject: Breaking\nlanguage: en\n---\nNews.\n", encoding="utf-8")
    config = ["--config", str(settings.path)]
    built = CliRunner().invoke(cli, ["campaign", "build", str(path), *config])
    assert built.exit_code == 0, built.output
    identifier = built.output.split(":")[0]
    sent = CliRunner().invoke(cli, ["send", identifier, *config])
    assert sent.exit_code == 0, sent.output
    box = mailbox.Maildir(settings.delivery.maildir, create=False)
    to = sorted(getaddresses([m["To"]])[0][1].lower() for m in box)
    assert to == ["both@example.org", "daily@example.org", "weekly@example.org"]
    store = Store.open(settings.store.url)
    try:
        with store.read() as tx:
            counts = tx.ledger.counts(identifier)
    finally:
        store.close()
    assert (counts[SendState.SENT], counts[SendState.SKIPPED]) == (3, 1)
