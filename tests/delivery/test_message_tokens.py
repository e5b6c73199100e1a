"""The message factory signs its personal links faster than ``tokens.sign``, and alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import pytest

from broadsheet.config import Settings
from broadsheet.emails.edition import tokens
from broadsheet.emails.edition.compose import PreparedEdition
from broadsheet.model import Frequency, Subscriber
from broadsheet.store import Store
from tests.delivery.helpers import save_edition


def test_message_tokens_are_those_of_tokens_sign(
    make_settings: Callable[..., Settings], fixed_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    store = Store.open(settings.store.url)
    try:
        edition = save_edition(store, now=fixed_now)
    finally:
        store.close()
    prepared = PreparedEdition.from_record(edition, settings, secret="s3cret", now=fixed_now)
    for moment in (1_795_000_000.2, 1_795_000_000.9, 1_795_000_001.1):
        monkeypatch.setattr(time, "time", lambda moment=moment: moment)
        for subscriber_id in (0, 1, 35, 36, 10**12):
            expected = (
                tokens.sign("s3cret", "unsubscribe", subscriber_id),
                tokens.sign("s3cret", "preferences", subscriber_id),
            )
            assert prepared._tokens(subscriber_id) == expected
            personal = prepared.personal(
                Subscriber(subscriber_id, "r@example.org", "Anna", "en", Frequency.WEEKLY)
            )
            data = prepared.message(
                Subscriber(subscriber_id, "r@example.org", "Anna", "en", Frequency.WEEKLY)
            ).data
            assert f"<{personal.unsubscribe_url}>".encode() in data.replace(b"\r\n ", b" ")
