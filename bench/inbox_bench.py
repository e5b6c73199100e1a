"""`broadsheet inbox` on a Maildir of mixed notifications vs the detector alone.

Run from the checkout::

    .venv/bin/python bench/inbox_bench.py [--messages 10000] [--rounds 3]
                                          [--memory 2500,10000]

A publication with a SQLite store is made in a temporary folder: 5,000
subscribers, four weekly editions recorded as sent to all of them (ledger
rows written directly). ``--messages`` notifications are written into a
Maildir, mixed as a newsletter's inbox is: DSNs (hard and soft, most naming
the message only by the return path, some quoting its headers), qmail-style
bounces (read by flufl.bounce), ARF complaints, mailto unsubscribes,
automatic replies and replies from people. Then, alternating, ``--rounds``
times each:

- **detector**: every message read from the Maildir and passed to
  ``detect`` (parsing, classification, the tokens found): no store, no
  filing;
- **inbox**: ``process`` on a fresh copy of the Maildir and of the store:
  the same reading and detection, plus the store's look-ups, the policies,
  the events, the idempotency record and the move into its folder, one
  transaction per message.

Each round's ratio is detector time / inbox time (target: at least 0.5),
in CPU time of this process (``time.process_time``: both sides run here, in
one thread, so another process busy on the machine does not tilt it) and,
for reference, in wall time (which also counts the store's writes reaching
the disk).
Then peak memory: ``process`` traced with tracemalloc on the first
``--memory`` counts of messages; the peaks should match (messages are read
and acted on one at a time).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broadsheet.config import Settings, load_settings  # noqa: E402
from broadsheet.emails.edition import headers, tokens  # noqa: E402
from broadsheet.emails.edition.returnpath import ReturnPaths  # noqa: E402
from broadsheet.emails.inbound import process  # noqa: E402
from broadsheet.emails.inbound.detect import detect  # noqa: E402
from broadsheet.emails.inbound.maildir import MaildirMailbox  # noqa: E402
from broadsheet.model import EditionRecord, Frequency  # noqa: E402
from broadsheet.store import Store  # noqa: E402
from broadsheet.store.schema import send_ledger, subscribers  # noqa: E402
from tests.inbound import messages  # noqa: E402

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
SECRET = "bench-secret"
CONFIG = """\
[site]
title = "Bench Weekly"
url = "https://news.example"
languages = ["en"]
timezone = "UTC"

[store]
url = "sqlite:///broadsheet.db"

[donation.en]
heading = "Support us"
text = "No paywall."
button_label = "Donate"
url = "https://news.example/donate/"

[sender]
name = "Bench Weekly"
email = "letters@news.example"
postal_address = "1 Example Street"

[links]
secret_env = "BENCH_INBOX_SECRET"

[inbound]
bounce_address = "bounces@news.example"
"""
EDITIONS = [f"weekly-en-2026-{day}" for day in ("11-02", "11-09", "11-16", "11-23")]


def prepare(folder: Path, subscriber_count: int) -> Settings:
    """The publication, its store with the ledger filled (not timed)."""
    os.environ["BENCH_INBOX_SECRET"] = SECRET
    (folder / "broadsheet.toml").write_text(CONFIG, encoding="utf-8")
    settings = load_settings(folder / "broadsheet.toml")
    store = Store.open(settings.store.url)
    try:
        rows = [
            {
                "email": f"reader{i}@mail{i % 50}.example",
                "name": "",
                "language": "en",
                "frequency": "weekly",
                "topics": [],
                "status": "active",
                "source": "bench",
                "created": NOW,
                "changed": NOW,
                "confirmed": NOW,
                "status_reason": "",
            }
            for i in range(subscriber_count)
        ]
        with store.write() as tx:
            for start in range(0, len(rows), 500):
                tx.conn.execute(subscribers.insert().values(rows[start : start + 500]))
        for number, edition_id in enumerate(EDITIONS):
            when = NOW - timedelta(days=7 * (len(EDITIONS) - number))
            record = EditionRecord(
                id=edition_id,
                language="en",
                frequency=Frequency.WEEKLY,
                slot=when,
                since=when - timedelta(days=7),
                until=when,
                new_ids=(),
                top_ids=(),
                subject="Bench Weekly",
                html="<p>x</p>",
                text="x",
                built=when,
            )
            with store.write() as tx:
                tx.editions.save(record, now=when)
                ledger = [
                    {
                        "edition_id": edition_id,
                        "subscriber_id": i + 1,
                        "state": "sent",
                        "attempts": 1,
                        "message_id": headers.message_id(
                            edition_id, i + 1, "news.example", secret=SECRET
                        ),
                        "last_reply": "250 ok",
                        "queued": when,
                        "sent": when,
                        "changed": when,
                    }
                    for i in range(subscriber_count)
                ]
                for start in range(0, len(ledger), 500):
                    tx.conn.execute(send_ledger.insert().values(ledger[start : start + 500]))
    finally:
        store.close()
    return settings


def original(subscriber_id: int, edition_id: str, paths: ReturnPaths) -> bytes:
    """The headers of the message we sent (what a report quotes)."""
    token = tokens.sign(SECRET, "unsubscribe", subscriber_id)
    message_id = headers.message_id(edition_id, subscriber_id, "news.example", secret=SECRET)
    return (
        f"Return-Path: <{paths.sender(subscriber_id, edition_id)}>\r\n"
        "From: Bench Weekly <letters@news.example>\r\n"
        f"To: reader{subscriber_id - 1}@mail.example\r\n"
        "Subject: Bench Weekly\r\n"
        f"Message-ID: {message_id}\r\n"
        f"List-Unsubscribe: <https://news.example/newsletter/unsubscribe?token={token}>,\r\n"
        f" <mailto:unsubscribe@news.example?subject=unsubscribe-{token}>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n" + "The week in brief.\r\n" * 40
    ).encode()


def notifications(count: int, subscriber_count: int, settings: Settings) -> list[bytes]:
    """``count`` mixed notifications, as a newsletter's inbox holds them."""
    paths = ReturnPaths(settings, SECRET)
    chance = random.Random(7)
    out: list[bytes] = []
    for number in range(count):
        subscriber_id = chance.randrange(1, subscriber_count + 1)
        edition_id = chance.choice(EDITIONS)
        to = paths.sender(subscriber_id, edition_id)
        address = f"reader{subscriber_id - 1}@mail{(subscriber_id - 1) % 50}.example"
        message_id = f"<n{number}@mx.mail.example>"
        roll = chance.random()
        if roll < 0.40:
            raw = messages.dsn(to=to, recipient=address, message_id=message_id)
        elif roll < 0.50:
            raw = messages.dsn(
                to=to,
                recipient=address,
                message_id=message_id,
                original=original(subscriber_id, edition_id, paths),
            )
        elif roll < 0.65:
            raw = messages.dsn(to=to, recipient=address, status="4.2.2", message_id=message_id)
        elif roll < 0.70:
            raw = messages.qmail_bounce(to=to, recipient=address, message_id=message_id)
        elif roll < 0.75:
            raw = messages.arf(
                original=original(subscriber_id, edition_id, paths), message_id=message_id
            )
        elif roll < 0.80:
            token = tokens.sign(SECRET, "unsubscribe", subscriber_id)
            raw = messages.plain(
                subject=f"unsubscribe-{token}", sender=address, message_id=message_id
            )
        elif roll < 0.92:
            raw = messages.plain(
                subject="Out of office: back on Monday",
                sender=address,
                to=to,
                message_id=message_id,
                headers={"Auto-Submitted": "auto-replied"},
            )
        else:
            raw = messages.plain(subject="Re: Bench Weekly", sender=address, message_id=message_id)
        out.append(raw)
    return out


def write_maildir(folder: Path, raws: Sequence[bytes]) -> Path:
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for number, raw in enumerate(raws):
        (folder / "new" / f"{1_700_000_000 + number}.M{number}P1.mx").write_bytes(raw)
    return folder


@dataclass(frozen=True)
class Took:
    """Seconds of one timed step."""

    cpu: float
    wall: float


class _Clock:
    def __init__(self) -> None:
        self.cpu = time.process_time()
        self.wall = time.perf_counter()

    def took(self) -> Took:
        return Took(time.process_time() - self.cpu, time.perf_counter() - self.wall)


def detector_only(maildir: Path) -> Took:
    """Every message read and detected: the baseline."""
    clock = _Clock()
    for name in sorted(os.listdir(maildir / "new")):
        detect((maildir / "new" / name).read_bytes())
    return clock.took()


def fresh(work: Path, template: Path, template_db: Path, settings_dir: Path) -> Path:
    """A copy of the Maildir and the store for one inbox round (not timed)."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(template, work)
    shutil.copy(template_db, settings_dir / "broadsheet.db")
    for suffix in ("-wal", "-shm"):
        (settings_dir / f"broadsheet.db{suffix}").unlink(missing_ok=True)
    return work


def inbox_pass(settings: Settings, maildir: Path, *, traced: bool = False) -> tuple[Took, int]:
    """``process`` over the Maildir; its time and the tracemalloc peak (bytes)."""
    store = Store.open(settings.store.url)
    try:
        if traced:
            tracemalloc.start()
        clock = _Clock()
        summary = process(MaildirMailbox(maildir), settings, store, now=NOW)
        took = clock.took()
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        if traced:
            tracemalloc.stop()
    finally:
        store.close()
    assert summary.left == 0, summary.problems[:3]
    return took, peak


def alternate(rounds: int, first: Callable[[], Took], second: Callable[[], Took]) -> list[Took]:
    """``first / second`` (in CPU and in wall time) for ``rounds`` alternating pairs."""
    ratios = []
    for number in range(rounds):
        if number % 2:
            b = second()
            a = first()
        else:
            a = first()
            b = second()
        ratios.append(Took(a.cpu / b.cpu, a.wall / b.wall))
    return ratios


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", default="2500,10000", help="message counts, or ''")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    with tempfile.TemporaryDirectory(prefix="inbox-bench-") as temp:
        root = Path(temp)
        site = root / "site"
        site.mkdir()
        settings = prepare(site, args.subscribers)
        template_db = root / "template.db"
        shutil.copy(site / "broadsheet.db", template_db)
        raws = notifications(args.messages, args.subscribers, settings)
        template = write_maildir(root / "template", raws)
        size = sum(len(raw) for raw in raws)
        print(
            f"{args.messages} notifications ({size / 1e6:.1f} MB), "
            f"{args.subscribers} subscribers, {len(EDITIONS)} editions sent to each"
        )
        times: dict[str, list[Took]] = {"detector": [], "inbox": []}

        def baseline() -> Took:
            took = detector_only(template)
            times["detector"].append(took)
            return took

        def subject() -> Took:
            work = fresh(root / "work", template, template_db, site)
            took, _ = inbox_pass(settings, work)
            times["inbox"].append(took)
            return took

        ratios = alternate(args.rounds, baseline, subject)
        print(f"load average before the rounds ended: {os.getloadavg()[0]:.2f}")
        for clock in ("cpu", "wall"):
            for name, values in times.items():
                seconds = [getattr(took, clock) for took in values]
                rate = args.messages / statistics.median(seconds)
                print(
                    f"{name:>9} {clock:>4}: min {min(seconds):.2f}s  "
                    f"median {statistics.median(seconds):.2f}s  "
                    f"max {max(seconds):.2f}s  ({rate:,.0f} messages/s)"
                )
            shares = [getattr(took, clock) for took in ratios]
            print(
                f"ratio detector/inbox, {clock}: "
                f"min {min(shares):.2f}  median {statistics.median(shares):.2f}  "
                f"max {max(shares):.2f}  (target >= 0.5)"
            )
        for count in [int(c) for c in args.memory.split(",") if c.strip()]:
            count = min(count, args.messages)
            small = root / f"memory-{count}"
            write_maildir(small, raws[:count])
            shutil.copy(template_db, site / "broadsheet.db")
            for suffix in ("-wal", "-shm"):
                (site / f"broadsheet.db{suffix}").unlink(missing_ok=True)
            _, peak = inbox_pass(settings, small, traced=True)
            print(f"peak traced memory, {count:>6} messages: {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
