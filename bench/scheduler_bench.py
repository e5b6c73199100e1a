"""What a scheduler tick costs, and that it does not grow with the job history.

Run from the checkout::

    .venv/bin/python bench/scheduler_bench.py [--years 3] [--ticks 1000]

A SQLite store is filled with ``--years`` of job history (a feeds build
every 15 minutes and four editions a day: about 36,500 rows a year). Then,
with the jobs' actions replaced by no-ops so only the scheduler is timed:

- **baseline**: one empty read transaction, the least any tick can cost;
- **idle tick**: ``run_due`` with nothing due (what nearly every tick is),
  on an empty history and on the full one;
- **feeds tick**: ``run_due`` with the feeds job due (lock, claim, record);
- **slots**: the latest and next slot of every job (pure computation).

It prints each per tick, the ratios to the baseline and between the empty
and full history, and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from broadsheet.config import Settings, load_settings  # noqa: E402
from broadsheet.scheduler.actions import ActionResult, JobContext  # noqa: E402
from broadsheet.scheduler.jobs import jobs_from_settings  # noqa: E402
from broadsheet.scheduler.runner import run_due  # noqa: E402
from broadsheet.store import Store  # noqa: E402
from broadsheet.store.jobs import RunStatus  # noqa: E402
from broadsheet.store.schema import job_runs  # noqa: E402

CONFIG = """\
[site]
title = "Bench Review"
url = "https://bench.example"
languages = ["en", "ru"]
timezone = "Europe/Moscow"

[store]
url = "sqlite:///bench.db"

[donation.en]
heading = "Support us"
text = "No paywall."
button_label = "Donate"
url = "https://bench.example/en/donate/"

[donation.ru]
heading = "Поддержите нас"
text = "Без платного доступа."
button_label = "Поддержать"
url = "https://bench.example/ru/donate/"

[sender]
name = "Bench Review"
email = "letters@bench.example"
"""

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def nothing(_ctx: JobContext) -> ActionResult:
    return ActionResult()


ACTIONS = {"feeds": nothing, "edition": nothing}


def fill_history(store: Store, settings: Settings, years: float) -> int:
    """Record ``years`` of settled runs of every job, ending at NOW."""
    rows = []
    for job in jobs_from_settings(settings):
        slot = job.latest_slot(NOW)
        start = NOW - timedelta(days=365 * years)
        while slot > start:
            rows.append(
                {
                    "job": job.name,
                    "slot": slot,
                    "status": str(RunStatus.OK),
                    "attempts": 1,
                    "started": slot,
                    "finished": slot,
                    "duration": 0.5,
                    "counts": {"sent": 100},
                    "note": "",
                    "error": "",
                    "host": "bench:1",
                }
            )
            slot = job.latest_slot(slot - timedelta(seconds=1))
    with store.write() as tx:
        for first in range(0, len(rows), 5000):
            tx.conn.execute(job_runs.insert(), rows[first : first + 5000])
    return len(rows)


def per_call(func: Callable[[int], object], count: int) -> float:
    """Seconds per call of ``func(i)`` for i in range(count), best of three."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for i in range(count):
            func(i)
        best = min(best, (time.perf_counter() - started) / count)
    return best


def store_for(folder: Path) -> tuple[Store, Settings]:
    folder.mkdir(parents=True)
    (folder / "broadsheet.toml").write_text(CONFIG, encoding="utf-8")
    settings = load_settings(folder / "broadsheet.toml")
    return Store.open(settings.store.url), settings


def measure(store: Store, settings: Settings, ticks: int) -> dict[str, float]:
    """Seconds per empty read, idle tick and feeds tick on ``store``."""
    run_due(store, settings, now=NOW, actions=ACTIONS)  # settle every job at NOW
    feeds_only = jobs_from_settings(settings)[:1]
    made = 0

    def read(_i: int) -> None:
        with store.read():
            pass

    def idle(i: int) -> None:
        run_due(store, settings, now=NOW + timedelta(seconds=i % 600), actions=ACTIONS)

    def feeds(_i: int) -> None:
        # A new feeds slot each call: lock, claim, run, record.
        nonlocal made
        made += 1
        later = NOW + timedelta(days=1, minutes=15 * made)
        run_due(store, settings, now=later, actions=ACTIONS, jobs=feeds_only)

    return {
        "baseline": per_call(read, ticks),
        "idle": per_call(idle, ticks),
        "feeds": per_call(feeds, max(1, ticks // 10)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--ticks", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        empty, settings = store_for(Path(tmp) / "empty")
        full, full_settings = store_for(Path(tmp) / "full")
        rows = fill_history(full, full_settings, args.years)
        small = measure(empty, settings, args.ticks)
        large = measure(full, full_settings, args.ticks)
        jobs = jobs_from_settings(settings)

        def slots(i: int) -> None:
            now = NOW + timedelta(minutes=7 * i)
            for job in jobs:
                job.latest_slot(now)
                job.next_slot(now)

        pure = per_call(slots, args.ticks)
        # Memory apart from timing: tracing allocations slows Python down.
        tracemalloc.start()
        for i in range(200):
            run_due(full, full_settings, now=NOW + timedelta(days=3, minutes=i), actions=ACTIONS)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        empty.close()
        full.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"history: {rows} job runs ({args.years:g} years); {args.ticks} ticks per measurement")
    print(f"{'per tick, ms':<28}{'empty history':>14}{'full history':>14}")
    for key, label in (
        ("baseline", "empty read transaction"),
        ("idle", "idle tick (nothing due)"),
        ("feeds", "feeds tick (one job runs)"),
    ):
        print(f"{label:<28}{small[key] * 1000:14.3f}{large[key] * 1000:14.3f}")
    print(f"{'slots of 5 jobs (pure)':<28}{pure * 1000:14.3f}")
    print(f"idle tick / empty read transaction: {large['idle'] / large['baseline']:.2f}x")
    print(f"idle tick, full / empty history:    {large['idle'] / small['idle']:.2f}x")
    print(f"feeds tick, full / empty history:   {large['feeds'] / small['feeds']:.2f}x")
    print(f"peak traced memory of 200 ticks {peak / 1e6:.2f} MB; max RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
