"""Queueing an edition past a long suppression list: in the query vs one lookup per reader.

Run from the checkout::

    .venv/bin/python bench/suppression_bench.py                    # 50,000 readers, 20,000 entries
    .venv/bin/python bench/suppression_bench.py --readers 500 --entries 200 --rounds 1
    .venv/bin/python bench/suppression_bench.py --store postgresql://postgres@127.0.0.1/test

A store (SQLite in a temporary folder, or the empty PostgreSQL database
given) gets ``--readers`` active readers of one newsletter and a suppression
list of ``--entries`` entries: a tenth of them the readers' own addresses,
a few whole domains (a twentieth of the readers sit in them), the rest
strangers. Then, in alternating rounds, one edition each:

- **query**: ``Ledger.enqueue_page`` as the sender calls it, 1,000 readers a
  page, the suppression check inside the query that reads each page;
- **per reader**: the same pages read without the check, then one
  ``Suppressions.matches`` lookup per reader before its row is queued.

Both must skip the same readers (checked). Printed: each round's seconds,
min/median/max per side, the ratio, and the process's peak memory.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from broadsheet.model import EditionRecord, Frequency, SendState  # noqa: E402
from broadsheet.store import Store  # noqa: E402
from broadsheet.store.schema import subscribers as subscribers_table  # noqa: E402

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
PAGE = 1000


def fill(store: Store, readers: int, entries: int) -> int:
    """Readers and suppressions; returns how many readers are suppressed."""
    emails = [
        f"reader{i}@{'blocked' if i % 20 == 0 else 'mail'}{i % 7}.example" for i in range(readers)
    ]
    rows = [
        {
            "email": email,
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
        for email in emails
    ]
    with store.write() as tx:
        for start in range(0, len(rows), 1000):
            tx.conn.execute(subscribers_table.insert(), rows[start : start + 1000])
        own = emails[1::10][: entries // 10]
        domains = [f"@blocked{d}.example" for d in range(7)]
        strangers = [f"someone{i}@elsewhere.example" for i in range(entries - len(own) - 7)]
        for pattern in [*own, *domains, *strangers]:
            tx.suppressions.add(pattern, "bench", "bench", NOW)
    blocked = {email for email in emails if "@blocked" in email} | set(own)
    return len(blocked)


def edition(store: Store, number: int) -> str:
    identifier = f"weekly-en-bench-{number}"
    record = EditionRecord(
        id=identifier,
        language="en",
        frequency=Frequency.WEEKLY,
        slot=NOW,
        since=NOW - timedelta(days=7),
        until=NOW,
        new_ids=(),
        top_ids=(),
        subject="bench",
        html="",
        text="",
        sections=(),
        path="",
        built=NOW,
    )
    with store.write() as tx:
        tx.editions.save(record, now=NOW)
    return identifier


def in_query(store: Store, edition_id: str) -> int:
    """The sender's way; returns the rows skipped."""
    after, skipped = 0, 0
    while True:
        with store.write() as tx:
            after, _queued, passed = tx.ledger.enqueue_page(
                edition_id,
                language="en",
                frequency="weekly",
                wants=lambda topics: True,
                after_id=after,
                limit=PAGE,
                now=NOW,
            )
        skipped += passed
        if not after:
            return skipped


def per_reader(store: Store, edition_id: str) -> int:
    """One lookup per reader; returns the rows skipped."""
    after, skipped = 0, 0
    while True:
        with store.write() as tx:
            page = tx.subscribers.active_page("en", Frequency.WEEKLY, after_id=after, limit=PAGE)
            if not page:
                return skipped
            rows = []
            for person in page:
                if tx.suppressions.matches(person.email) is not None:
                    rows.append((person.id, SendState.SKIPPED, "suppressed"))
                    skipped += 1
                else:
                    rows.append((person.id, SendState.QUEUED, ""))
            tx.ledger.enqueue(edition_id, rows, now=NOW)
            after = page[-1].id


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:11} min {min(values):.3f}s  median {statistics.median(values):.3f}s  "
        f"max {max(values):.3f}s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=50_000)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", default=None, help="an empty store URL (default: SQLite)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="suppression-bench-") as folder:
        url = args.store or f"sqlite:///{Path(folder) / 'bench.db'}"
        store = Store.open(url)
        try:
            blocked = fill(store, args.readers, args.entries)
            print(
                f"{args.readers} readers, {args.entries} suppression entries, "
                f"{blocked} readers suppressed; {store.dialect}, {args.rounds} rounds"
            )
            times: dict[str, list[float]] = {"query": [], "per reader": []}
            number = 0
            for round_ in range(args.rounds):
                for name, way in (("query", in_query), ("per reader", per_reader)):
                    number += 1
                    target = edition(store, number)
                    started = time.perf_counter()
                    skipped = way(store, target)
                    elapsed = time.perf_counter() - started
                    if skipped != blocked:
                        raise SystemExit(f"{name}: skipped {skipped}, expected {blocked}")
                    times[name].append(elapsed)
                    print(f"round {round_ + 1} {name:11} {elapsed:.3f}s")
            if args.rounds:
                print(summary("query", times["query"]))
                print(summary("per reader", times["per reader"]))
                ratio = statistics.median(times["per reader"]) / statistics.median(times["query"])
                print(f"per reader / query (medians): {ratio:.2f}")
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak memory {peak:.0f} MiB")
        finally:
            store.close()


if __name__ == "__main__":
    main()
