"""`broadsheet report`'s weeks: sorted times and bisection vs one scan of the list per week.

Run from the checkout::

    .venv/bin/python bench/report_bench.py                         # 200,000 subscriptions, 52 weeks
    .venv/bin/python bench/report_bench.py --subscriptions 500 --weeks 8 --rounds 1

A SQLite store in a temporary folder gets ``--subscriptions`` subscriptions
in four newsletters, confirmed over two years, a quarter of them ended
(unsubscribed, bounced or suspended) since. Then, in alternating rounds:

- **bisect**: :func:`broadsheet.store.reports.weekly_figures` as the report
  calls it (one read, the times sorted once, each week counted by bisection);
- **scan**: the same read, then every subscription looked at once per week.

Both must give the same weeks (checked). Printed: each round's seconds,
min/median/max per side, the ratio, and the process's peak memory.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sqlalchemy import select  # noqa: E402

from broadsheet.store import Store, Tx  # noqa: E402
from broadsheet.store.reports import WeekFigures, weekly_figures  # noqa: E402
from broadsheet.store.schema import subscribers as table  # noqa: E402

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
NEWSLETTERS = (("en", "weekly"), ("en", "daily"), ("ru", "weekly"), ("ru", "daily"))


def fill(store: Store, count: int) -> None:
    """``count`` subscriptions confirmed over two years, a quarter of them ended."""
    chance = random.Random(13)
    rows = []
    for i in range(count):
        language, frequency = NEWSLETTERS[i % 4]
        confirmed = NOW - timedelta(minutes=chance.randrange(2 * 365 * 24 * 60))
        status, unsubscribed, bounced = "active", None, None
        changed = confirmed
        if i % 4 == 3:
            end = confirmed + (NOW - confirmed) * chance.random()
            status = ("unsubscribed", "bounced", "suspended")[i % 3]
            unsubscribed = end if status == "unsubscribed" else None
            bounced = end if status == "bounced" else None
            changed = end
        rows.append(
            {
                "email": f"reader{i}@example.org",
                "name": "",
                "language": language,
                "frequency": frequency,
                "topics": [],
                "status": status,
                "source": "bench",
                "created": confirmed,
                "changed": changed,
                "confirmed": confirmed,
                "unsubscribed": unsubscribed,
                "bounced": bounced,
                "status_reason": "",
            }
        )
    with store.write() as tx:
        for start in range(0, len(rows), 500):
            tx.conn.execute(table.insert().values(rows[start : start + 500]))


def scan(tx: Tx, *, now: datetime, weeks: int) -> list[WeekFigures]:
    """The baseline: every subscription looked at once per week."""
    spans = []
    query = select(
        table.c.language,
        table.c.frequency,
        table.c.status,
        table.c.confirmed,
        table.c.unsubscribed,
        table.c.bounced,
        table.c.changed,
    ).where(table.c.confirmed.is_not(None))
    for language, frequency, status, confirmed, unsubscribed, bounced, changed in tx.conn.execute(
        query
    ):
        ends = [moment for moment in (unsubscribed, bounced) if moment is not None]
        if status == "suspended":
            ends.append(changed)
        end = min(ends) if ends else None
        if end is not None and end < confirmed:
            end = None if status == "active" else confirmed
        spans.append((language, frequency, confirmed, end))
    day = now.date() - timedelta(days=now.weekday())
    out = []
    for back in range(weeks - 1, -1, -1):
        start = day - timedelta(weeks=back)
        begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
        finish = min(begin + timedelta(days=7), now)
        active: Counter[tuple[str, str]] = Counter()
        at_start = began = ended = 0
        for language, frequency, confirmed, end in spans:
            if confirmed <= begin and (end is None or end > begin):
                at_start += 1
            if confirmed <= finish and (end is None or end > finish):
                active[(language, frequency)] += 1
            if begin < confirmed <= finish:
                began += 1
            if end is not None and begin < end <= finish:
                ended += 1
        out.append(
            WeekFigures(
                start=start,
                active=dict(sorted(active.items())),
                began=began,
                ended=ended,
                churn=ended / at_start if at_start else 0.0,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=200_000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            fill(store, args.subscriptions)
            times: dict[str, list[float]] = {"bisect": [], "scan": []}
            results = {}
            for number in range(args.rounds):
                for name, count in (("bisect", weekly_figures), ("scan", scan)):
                    started = time.perf_counter()
                    with store.read() as tx:
                        results[name] = count(tx, now=NOW, weeks=args.weeks)
                    took = time.perf_counter() - started
                    times[name].append(took)
                    print(f"round {number + 1} {name:<6} {took:8.3f} s")
            if results["bisect"] != results["scan"]:
                raise SystemExit("the two ways counted different weeks")
        finally:
            store.close()
    print(f"{args.subscriptions:,} subscriptions, {args.weeks} weeks")
    for name, taken in times.items():
        print(
            f"{name:<6} min {min(taken):.3f} s  median {statistics.median(taken):.3f} s"
            f"  max {max(taken):.3f} s"
        )
    ratio = statistics.median(times["scan"]) / statistics.median(times["bisect"])
    print(f"scan / bisect (medians): {ratio:.1f}x")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
