"""Parallel senders against one PostgreSQL ledger deliver every message exactly once."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from broadsheet.config import Settings
from broadsheet.emails.delivery.sender import send_edition
from broadsheet.model import SendState
from broadsheet.store import Store
from tests.conftest import BASE_CONFIG
from tests.delivery.helpers import (
    SmtpServer,
    add_subscribers,
    cli_command,
    cli_env,
    maildir_recipients,
    save_edition,
    smtp_config,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EDITION = "weekly-en-2026-11-23"
COUNT = 200


@pytest.fixture
def pg_publication(
    make_settings: Callable[..., Settings], pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], Settings]:
    """Settings (with extra TOML) of a publication whose store is on PostgreSQL."""
    monkeypatch.setenv("BROADSHEET_SECRET", "pg-test-secret")
    base = BASE_CONFIG.replace('url = "sqlite:///broadsheet.db"', f'url = "{pg_url}"')

    def make(extra: str) -> Settings:
        return make_settings(extra, base=base)

    return make


def _fill(settings: Settings, now: datetime) -> Store:
    store = Store.open(settings.store.url)
    save_edition(store, now=now)
    add_subscribers(store, COUNT, now=now)
    return store


@pytest.mark.parametrize("workers", [2, 4])
def test_workers_send_each_message_once_over_smtp(
    pg_publication: Callable[[str], Settings],
    smtp_server: SmtpServer,
    fixed_now: datetime,
    workers: int,
) -> None:
    settings = pg_publication(smtp_config(smtp_server.port, batch_size=10))
    store = _fill(settings, fixed_now)
    try:
        report = send_edition(store, settings, EDITION, now=fixed_now, workers=workers)
        assert report.sent == COUNT and report.remaining == 0
        received = smtp_server.handler.per_recipient()
        assert received == {f"reader{i}@example.org": 1 for i in range(COUNT)}
        ids = Counter(r.message_id for r in smtp_server.handler.received)
        assert len(ids) == COUNT and set(ids.values()) == {1}
        with store.read() as tx:
            assert tx.ledger.counts(EDITION)[SendState.SENT] == COUNT
    finally:
        store.close()


def test_workers_send_each_message_once_to_a_maildir(
    pg_publication: Callable[[str], Settings], fixed_now: datetime
) -> None:
    settings = pg_publication("[delivery]\nbatch_size = 10\n")
    store = _fill(settings, fixed_now)
    try:
        report = send_edition(store, settings, EDITION, now=fixed_now, workers=2)
        assert report.sent == COUNT
        delivered = maildir_recipients(settings.delivery.maildir)
        assert delivered == {f"reader{i}@example.org": 1 for i in range(COUNT)}
    finally:
        store.close()


def test_senders_on_several_machines_share_the_ledger(
    pg_publication: Callable[[str], Settings], smtp_server: SmtpServer, fixed_now: datetime
) -> None:
    """Two `broadsheet send --workers 2` at once, as two machines would run them."""
    import subprocess

    settings = pg_publication(smtp_config(smtp_server.port, batch_size=10))
    store = _fill(settings, fixed_now)
    try:
        runs = [
            subprocess.Popen(
                cli_command("send", EDITION, "--workers", "2", "--config", str(settings.path)),
                env=cli_env(BROADSHEET_SECRET=os.environ["BROADSHEET_SECRET"]),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=180) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        sent = sum(int(out.decode().split(": ", 1)[1].split(" sent")[0]) for out, _ in outputs)
        assert sent == COUNT
        assert smtp_server.handler.per_recipient() == {
            f"reader{i}@example.org": 1 for i in range(COUNT)
        }
    finally:
        store.close()


def test_a_dead_machines_claim_is_taken_over_after_the_timeout(
    pg_publication: Callable[[str], Settings], fixed_now: datetime
) -> None:
    settings = pg_publication("[delivery]\nclaim_timeout_seconds = 60\n")
    store = _fill(settings, fixed_now)
    try:
        send_edition(store, settings, EDITION, now=fixed_now, limit=1)
        with store.write() as tx:
            batch = tx.ledger.claim(
                EDITION,
                worker="gone-host/12345678:999:deadbeef",
                limit=30,
                now=fixed_now,
                stale_before=fixed_now,
            )
        assert len(batch.items) == 30
        soon = send_edition(store, settings, EDITION, now=fixed_now + timedelta(seconds=30))
        # Another machine's claim is honoured until it times out...
        assert soon.sent == COUNT - 31 and soon.remaining == 30
        later = send_edition(store, settings, EDITION, now=fixed_now + timedelta(seconds=90))
        # ...and then taken over.
        assert later.sent == 30 and later.remaining == 0
        assert set(maildir_recipients(settings.delivery.maildir).values()) == {1}
    finally:
        store.close()
