"""The public API as a host application uses it: build, render, send in memory."""

from __future__ import annotations

from datetime import timedelta

import pytest

import broadsheet.emails
import broadsheet.feeds
import broadsheet.scheduler
from broadsheet.config import Settings
from broadsheet.emails import MemoryTransport, send_edition
from broadsheet.errors import DeliveryError
from broadsheet.model import Frequency, SubscriberStatus
from broadsheet.scheduler import build_edition
from broadsheet.store import Store
from tests.conftest import DEMO_NOW


@pytest.mark.parametrize("package", [broadsheet.emails, broadsheet.feeds, broadsheet.scheduler])
def test_every_public_name_is_there(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    for name in names:
        assert getattr(package, name) is not None


def test_an_edition_sent_through_a_memory_transport_reaches_each_reader_once(
    demo_store: Store, demo_settings: Settings
) -> None:
    outcome = build_edition(
        demo_store, demo_settings, language="en", frequency=Frequency.WEEKLY, now=DEMO_NOW
    )
    assert outcome.edition is not None
    transport = MemoryTransport()
    report = send_edition(
        demo_store, demo_settings, outcome.edition.id, now=DEMO_NOW, transport=transport
    )
    with demo_store.read() as tx:
        readers = [
            s
            for s in tx.subscribers.listing(status=SubscriberStatus.ACTIVE)
            if s.language == "en" and s.frequency is Frequency.WEEKLY
        ]
    sent = transport.messages
    assert report.sent == len(sent) > 0
    assert len(sent) + report.skipped == len(readers)
    assert len({m.recipient for m in sent}) == len(sent)
    assert all(m.message["Subject"] == outcome.edition.subject for m in sent)

    again = send_edition(
        demo_store,
        demo_settings,
        outcome.edition.id,
        now=DEMO_NOW + timedelta(minutes=5),
        transport=transport,
    )
    assert again.sent == 0 and len(transport.messages) == len(sent)


def test_a_transport_object_cannot_be_shared_with_worker_processes(
    demo_store: Store, demo_settings: Settings
) -> None:
    outcome = build_edition(
        demo_store, demo_settings, language="en", frequency=Frequency.WEEKLY, now=DEMO_NOW
    )
    assert outcome.edition is not None
    with pytest.raises(DeliveryError, match="workers=1"):
        send_edition(
            demo_store,
            demo_settings,
            outcome.edition.id,
            now=DEMO_NOW,
            transport=MemoryTransport(),
            workers=2,
        )
