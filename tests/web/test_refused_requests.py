"""The form and suppressed or forgotten addresses: the same answer as anyone's, no mail, no record."""

from __future__ import annotations

import logging
import mailbox
from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import func, select

from broadsheet.config import Settings
from broadsheet.content.privacy import forget
from broadsheet.store import Store
from broadsheet.store.schema import subscriber_events, subscribers
from tests.web.conftest import Web


def _recipients(settings: Settings) -> list[str]:
    box = mailbox.Maildir(settings.delivery.maildir, create=False)
    return [str(box[key]["Delivered-To"]) for key in box.iterkeys()]


def _rows(store: Store, email: str) -> int:
    with store.read() as tx:
        held = tx.conn.execute(
            select(func.count()).where(subscribers.c.email == email)
        ).scalar_one()
        events = tx.conn.execute(
            select(func.count()).where(subscriber_events.c.email == email)
        ).scalar_one()
    return int(held) + int(events)


def test_suppressed_and_forgotten_addresses_get_the_neutral_answer_and_no_mail(
    serve: Callable[..., Web],
    settings: Settings,
    store: Store,
    fixed_now: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    web = serve(settings, store)
    with store.write() as tx:
        tx.suppressions.add("blocked@example.org", "complaint", "inbox", fixed_now)
        tx.suppressions.add("@spam.example", "manual", "command", fixed_now)
    # Forgotten with the secret the served app signs its links with.
    forget(store, settings, "gone@example.org", now=fixed_now)

    def ask(address: str) -> str:
        answer = web.client.post(
            "/subscribe", data={"email": address, "name": "Someone", "frequency": "weekly"}
        )
        assert answer.status_code == 200, answer.text
        return answer.text.replace(address, "ADDRESS")

    caplog.set_level(logging.INFO)
    normal = ask("anna@example.org")
    assert "Check your inbox" in normal
    for refused in ("blocked@example.org", "someone@spam.example", "Gone@Example.org"):
        assert ask(refused) == normal
        assert _rows(store, refused.lower()) == 0
    assert _recipients(settings) == ["anna@example.org"]
    assert "gone@example.org" not in caplog.text.lower()
