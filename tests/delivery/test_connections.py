"""Several SMTP connections per sending process (``delivery.connections``).

Each connection is a worker of its own to the ledger, so the exactly-once
checks of ``test_kill.py`` must hold unchanged with four of them: SIGKILL the
sender at random moments, run it again, and count what arrived (on SQLite
and on PostgreSQL). Over SMTP only the messages in flight at a kill, at most
one per connection, may go twice, with their one Message-ID.

A default run kills once per trial; ``BROADSHEET_FULL_TRIALS=1`` kills the
full count.
"""

from __future__ import annotations

import mailbox
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

import pytest

from broadsheet.config import Settings
from broadsheet.emails.delivery.sender import send_edition
from broadsheet.errors import ConfigError
from broadsheet.model import SendState
from broadsheet.store import Store
from tests.conftest import BASE_CONFIG
from tests.delivery.helpers import (
    SmtpServer,
    add_subscribers,
    maildir_recipients,
    save_edition,
    smtp_config,
)
from tests.delivery.test_kill import SUBSCRIBERS, _kills, _run_with_kills

CONNECTIONS = 4
EDITION = "weekly-en-2026-11-23"


def _settings(
    make_settings: Callable[..., Settings], store: str, request: pytest.FixtureRequest, extra: str
) -> Settings:
    if store == "postgresql":
        url = request.getfixturevalue("pg_url")
        base = BASE_CONFIG.replace('url = "sqlite:///broadsheet.db"', f'url = "{url}"')
        return make_settings(extra, base=base)
    return make_settings(extra)


def _counts(store: Store, edition_id: str) -> dict[SendState, int]:
    with store.read() as tx:
        return tx.ledger.counts(edition_id)


def test_connections_is_checked(make_settings: Callable[..., Settings]) -> None:
    for bad in ("0", "13", '"four"'):
        with pytest.raises(ConfigError, match=r"delivery\.connections"):
            make_settings(f"[delivery]\nconnections = {bad}\n")


def test_four_connections_send_each_message_once(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer, fixed_now: datetime
) -> None:
    settings = make_settings(smtp_config(smtp_server.port, batch_size=10, connections=CONNECTIONS))
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, 120, now=fixed_now)
        report = send_edition(store, settings, EDITION, now=fixed_now)
        assert report.sent == 120 and report.remaining == 0
        assert smtp_server.handler.per_recipient() == {
            f"reader{i}@example.org": 1 for i in range(120)
        }
        assert smtp_server.handler.connections == CONNECTIONS
        assert _counts(store, EDITION)[SendState.SENT] == 120
    finally:
        store.close()


def test_limit_is_shared_by_the_connections(
    make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    settings = make_settings(f"[delivery]\nbatch_size = 5\nconnections = {CONNECTIONS}\n")
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, 60, now=fixed_now)
        report = send_edition(store, settings, EDITION, now=fixed_now, limit=23)
        assert report.sent == 23
        assert len(maildir_recipients(settings.delivery.maildir)) == 23
        rest = send_edition(store, settings, EDITION, now=fixed_now)
        assert rest.sent == 37
        assert set(maildir_recipients(settings.delivery.maildir).values()) == {1}
    finally:
        store.close()


def test_rate_is_the_total_over_every_connection(
    make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    """40 messages at 40 a second over 4 connections take about a second, not a quarter."""
    settings = make_settings(f"[delivery]\nrate = 40\nconnections = {CONNECTIONS}\n")
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, 40, now=fixed_now)
        started = time.monotonic()
        report = send_edition(store, settings, EDITION, now=fixed_now)
        elapsed = time.monotonic() - started
        assert report.sent == 40
        # Each connection sends its first message at once, then one every
        # 1/10 s: at least 9 intervals. Unshared, the send would take 0.25 s.
        assert 0.8 < elapsed < 30, elapsed
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "store_kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_sigkill_with_four_connections_over_smtp(
    make_settings: Callable[..., Settings],
    smtp_server: SmtpServer,
    fixed_now: datetime,
    request: pytest.FixtureRequest,
    store_kind: str,
) -> None:
    rng = random.Random(int(os.environ.get("BROADSHEET_KILL_SEED", "20261123")) + 7)
    extra = smtp_config(smtp_server.port, batch_size=10, connections=CONNECTIONS, rate=150)
    settings = _settings(make_settings, store_kind, request, extra)
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, SUBSCRIBERS, now=fixed_now)
        wanted = _kills(4, 1)
        kills = _run_with_kills(settings, store, EDITION, rng, kills_wanted=wanted)
        assert kills == wanted
        handler = smtp_server.handler
        per_recipient = Counter(r.recipients[0] for r in handler.received)
        assert set(per_recipient) == {f"reader{i}@example.org" for i in range(SUBSCRIBERS)}
        ids: dict[str, set[str]] = {}
        for r in handler.received:
            ids.setdefault(r.recipients[0], set()).add(r.message_id)
        # A repeated message carries the same Message-ID, so receivers drop it.
        assert all(len(found) == 1 for found in ids.values())
        duplicates = sum(n - 1 for n in per_recipient.values())
        assert duplicates <= kills * CONNECTIONS
        assert _counts(store, EDITION)[SendState.SENT] == SUBSCRIBERS
        assert handler.connections >= CONNECTIONS
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "store_kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_sigkill_with_four_connections_to_a_maildir(
    make_settings: Callable[..., Settings],
    fixed_now: datetime,
    request: pytest.FixtureRequest,
    store_kind: str,
) -> None:
    rng = random.Random(int(os.environ.get("BROADSHEET_KILL_SEED", "20261123")) + 8)
    # A pace that leaves every kill time to land before eight senders finish.
    extra = f"[delivery]\nbatch_size = 10\nconnections = {CONNECTIONS}\nrate = 150\n"
    settings = _settings(make_settings, store_kind, request, extra)
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, SUBSCRIBERS, now=fixed_now)
        wanted = _kills(3, 1)
        extra_args = ("--workers", "2") if store_kind == "postgresql" else ()
        kills = _run_with_kills(
            settings, store, EDITION, rng, kills_wanted=wanted, extra=extra_args
        )
        assert kills == wanted
        box = mailbox.Maildir(settings.delivery.maildir, create=False)
        received = Counter(str(message["Delivered-To"]) for message in box)
        assert received == {f"reader{i}@example.org": 1 for i in range(SUBSCRIBERS)}
        assert _counts(store, EDITION)[SendState.SENT] == SUBSCRIBERS
    finally:
        store.close()


def test_a_server_away_stops_every_connection_and_keeps_the_rows(
    make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    import socket

    from broadsheet.errors import DeliveryError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])  # closed again: nothing listens there
    settings = make_settings(smtp_config(port, retries=1, connections=CONNECTIONS))
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, 30, now=fixed_now)
        with pytest.raises(DeliveryError, match="unavailable"):
            send_edition(store, settings, EDITION, now=fixed_now)
        counts = _counts(store, EDITION)
        assert counts[SendState.QUEUED] == 30, counts
        assert counts[SendState.SENDING] == 0, counts
    finally:
        store.close()
