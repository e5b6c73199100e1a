"""A publication that has sent an edition, and the mail that comes back to it."""

from __future__ import annotations

import mailbox
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from broadsheet.config import Settings
from broadsheet.emails import send_edition
from broadsheet.emails.inbound import Summary, process
from broadsheet.emails.inbound.maildir import MaildirMailbox
from broadsheet.model import EditionRecord, Frequency, Subscriber, SubscriberEvent
from broadsheet.store import Store
from tests.conftest import BASE_CONFIG
from tests.delivery.helpers import add_subscribers, save_edition

INBOUND = """
[inbound]
bounce_address = "bounces@news.example"
soft_bounce_limit = 3
soft_bounce_days = 30
"""


@dataclass
class Sent:
    """One message as it left: its bytes and envelope."""

    data: bytes
    return_path: str
    recipient: str
    message_id: str
    list_unsubscribe: str


@dataclass
class Publication:
    """Settings, an open store, the inbound Maildir and what was sent."""

    settings: Settings
    store: Store
    inbox: Path
    now: datetime
    secret: str

    def send(self, edition_id: str, *, days: int = 0) -> dict[str, Sent]:
        """Build and send an edition ``days`` after the start; its messages by recipient."""
        when = self.now + timedelta(days=days)
        save_edition(self.store, now=when, edition_id=edition_id)
        outbox = self.settings.delivery.maildir
        before = set(os.listdir(outbox / "new")) if (outbox / "new").exists() else set()
        send_edition(self.store, self.settings, edition_id, now=when, transport="maildir")
        sent: dict[str, Sent] = {}
        for name in sorted(set(os.listdir(outbox / "new")) - before):
            raw = (outbox / "new" / name).read_bytes()
            parsed = mailbox.MaildirMessage(raw)
            sent[str(parsed["Delivered-To"])] = Sent(
                data=raw.replace(b"\n", b"\r\n"),
                return_path=str(parsed["Return-Path"]).strip("<>"),
                recipient=str(parsed["Delivered-To"]),
                message_id=str(parsed["Message-ID"]),
                list_unsubscribe=" ".join(str(parsed["List-Unsubscribe"]).split()),
            )
        return sent

    def deliver(self, raw: bytes, name: str | None = None) -> str:
        """Put ``raw`` into the inbound Maildir's ``new/``, as the mail server does."""
        name = name or f"{len(os.listdir(self.inbox / 'new'))}.{os.urandom(4).hex()}.mx"
        (self.inbox / "new" / name).write_bytes(raw)
        return name

    def run(self, *, days: int = 1) -> Summary:
        """One `inbox` pass over the Maildir, ``days`` after the start."""
        return process(
            MaildirMailbox(self.inbox),
            self.settings,
            self.store,
            now=self.now + timedelta(days=days),
        )

    def folder(self, name: str) -> list[str]:
        """The files in a Maildir++ subfolder."""
        path = self.inbox / f".{name}"
        if not path.exists():
            return []
        return sorted(os.listdir(path / "new")) + sorted(os.listdir(path / "cur"))

    def waiting(self) -> list[str]:
        """Messages still in the inbox (not filed)."""
        return sorted(os.listdir(self.inbox / "new")) + sorted(os.listdir(self.inbox / "cur"))

    def subscriptions(self, email: str) -> list[Subscriber]:
        with self.store.read() as tx:
            return tx.subscribers.of_address(email)

    def history(self, email: str) -> list[SubscriberEvent]:
        with self.store.read() as tx:
            return tx.events.history(email)


def make_inbox(path: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def publication(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    now: datetime,
    *,
    extra: str = "",
    store_url: str | None = None,
    readers: int = 3,
) -> Publication:
    """A publication with ``readers`` weekly English readers; reader0 also takes the Russian daily."""
    if store_url is None:
        settings = make_settings(INBOUND + extra)
    else:
        base = BASE_CONFIG.replace('url = "sqlite:///broadsheet.db"', f'url = "{store_url}"')
        settings = make_settings(INBOUND + extra, base=base)
    store = Store.open(settings.store.url)
    add_subscribers(store, readers, now=now)
    add_subscribers(store, 1, now=now, language="ru", frequency=Frequency.DAILY)
    secret = store.link_secret(settings.secret(), env_name=settings.links.secret_env)
    return Publication(settings, store, make_inbox(tmp_path / "Maildir"), now, secret)


def edition(store: Store, edition_id: str) -> EditionRecord | None:
    with store.read() as tx:
        return tx.editions.get(edition_id)
