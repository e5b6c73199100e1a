"""What local send times add to a scheduler tick, with many readers in many zones.

Run from the checkout::

    .venv/bin/python bench/local_time_bench.py [--readers 100000] [--zones 60] [--ticks 50]

A SQLite store gets ``--readers`` active subscriptions (en and ru, daily and
weekly), four in five with one of ``--zones`` IANA zones, the rest without.
With the jobs' actions replaced by no-ops, so only the scheduler is timed,
rounds alternate between:

- **subject**: an idle tick (nothing due) with ``local_time = true`` for both
  newsletters: the readers' distinct zones are read (one grouped query)
  and every job's slots worked out over them;
- **baseline**: the same idle tick with the newsletters on the site's clock.

It prints min/median/max per tick of each, the ratio of the medians, the
time of the zones query alone, and peak traced memory of the subject.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from broadsheet.config import Settings, load_settings  # noqa: E402
from broadsheet.scheduler.actions import ActionResult, JobContext  # noqa: E402
from broadsheet.scheduler.runner import run_due  # noqa: E402
from broadsheet.store import Store  # noqa: E402
from broadsheet.store.schema import subscribers  # noqa: E402

CONFIG = """\
[site]
title = "Bench Review"
url = "https://bench.example"
languages = ["en", "ru"]
timezone = "Europe/Moscow"

[store]
url = "sqlite:///{db}"

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

[scheduler]
feeds_every_minutes = 0

[newsletters.daily]
local_time = {local}
[newsletters.weekly]
local_time = {local}
"""

ZONES = [
    "Africa/Cairo", "Africa/Johannesburg", "Africa/Lagos", "Africa/Nairobi",
    "America/Argentina/Buenos_Aires", "America/Bogota", "America/Chicago", "America/Denver",
    "America/Halifax", "America/Los_Angeles", "America/Mexico_City", "America/New_York",
    "America/Phoenix", "America/Santiago", "America/Sao_Paulo", "America/St_Johns",
    "America/Toronto", "America/Vancouver", "Asia/Almaty", "Asia/Baku", "Asia/Bangkok",
    "Asia/Dhaka", "Asia/Dubai", "Asia/Hong_Kong", "Asia/Irkutsk", "Asia/Jerusalem",
    "Asia/Kamchatka", "Asia/Karachi", "Asia/Kathmandu", "Asia/Kolkata", "Asia/Krasnoyarsk",
    "Asia/Magadan", "Asia/Novosibirsk", "Asia/Omsk", "Asia/Seoul", "Asia/Shanghai",
    "Asia/Singapore", "Asia/Tashkent", "Asia/Tbilisi", "Asia/Tehran", "Asia/Tokyo",
    "Asia/Vladivostok", "Asia/Yakutsk", "Asia/Yekaterinburg", "Asia/Yerevan",
    "Atlantic/Reykjavik", "Australia/Adelaide", "Australia/Perth", "Australia/Sydney",
    "Europe/Berlin", "Europe/Istanbul", "Europe/Kaliningrad", "Europe/Kyiv", "Europe/Lisbon",
    "Europe/London", "Europe/Minsk", "Europe/Moscow", "Europe/Paris", "Europe/Samara",
    "Pacific/Auckland", "Pacific/Honolulu",
]  # fmt: skip

# Nothing is due at this instant in any of the zones above (no slot at xx:17).
NOW = datetime(2026, 12, 3, 9, 17, tzinfo=UTC)


def nothing(_ctx: JobContext) -> ActionResult:
    return ActionResult()


NEWSLETTERS = [(lang, freq) for lang in ("en", "ru") for freq in ("daily", "weekly")]

ACTIONS = {"feeds": nothing, "edition": nothing, "campaign": nothing}


def settings_for(folder: Path, db: Path, *, local: bool) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "broadsheet.toml"
    path.write_text(CONFIG.format(db=db, local=str(local).lower()), encoding="utf-8")
    return load_settings(path)


def fill(store: Store, readers: int, zones: list[str]) -> None:
    """``readers`` active subscriptions, four in five with a zone."""
    now = NOW - timedelta(days=30)
    rows: list[dict[str, object]] = []
    for i in range(readers):
        rows.append(
            {
                "email": f"reader{i}@bench.example",
                "name": "",
                "language": ("en", "ru")[i % 2],
                "frequency": ("daily", "weekly")[(i // 2) % 2],
                "topics": [],
                "status": "active",
                "source": "bench",
                "created": now,
                "changed": now,
                "status_reason": "",
                "timezone": None if i % 5 == 0 else zones[i % len(zones)],
            }
        )
    with store.write() as tx:
        for first in range(0, len(rows), 5000):
            tx.conn.execute(subscribers.insert(), rows[first : first + 5000])


def tick_times(store: Store, settings: Settings, ticks: int) -> list[float]:
    """Seconds of each of ``ticks`` idle ticks."""
    out = []
    for i in range(ticks):
        started = time.perf_counter()
        report = run_due(store, settings, now=NOW + timedelta(seconds=i % 30), actions=ACTIONS)
        out.append(time.perf_counter() - started)
        assert not report.outcomes, report  # idle: nothing may run
    return out


def show(name: str, times: list[float]) -> float:
    median = statistics.median(times)
    print(
        f"{name:<26} min {min(times) * 1e3:8.3f} ms  median {median * 1e3:8.3f} ms  "
        f"max {max(times) * 1e3:8.3f} ms"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--zones", type=int, default=len(ZONES))
    parser.add_argument("--ticks", type=int, default=50, help="ticks per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    # The settling run skips the week's late slots with a warning each; not news here.
    logging.getLogger("broadsheet").setLevel(logging.ERROR)
    zones = ZONES[: max(1, min(args.zones, len(ZONES)))]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        local = settings_for(Path(tmp) / "local", db, local=True)
        site = settings_for(Path(tmp) / "site", db, local=False)
        store = Store.open(local.store.url)
        try:
            fill(store, args.readers, zones)
            # Settle the latest slots once, so the timed ticks are idle.
            run_due(store, local, now=NOW, actions=ACTIONS)
            run_due(store, site, now=NOW, actions=ACTIONS)
            subject: list[float] = []
            baseline: list[float] = []
            for _ in range(args.rounds):
                subject += tick_times(store, local, args.ticks)
                baseline += tick_times(store, site, args.ticks)
            query: list[float] = []
            for _ in range(args.ticks):
                started = time.perf_counter()
                with store.read() as tx:
                    found = tx.ledger.reader_zones(NEWSLETTERS)
                query.append(time.perf_counter() - started)
            tracemalloc.start()
            tick_times(store, local, max(1, args.ticks // 5))
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        finally:
            store.close()
    distinct = sum(len(names) for names in found.values())
    print(
        f"{args.readers} readers, {len(zones)} zones (+ none): "
        f"{distinct} distinct (newsletter, zone) pairs; "
        f"{args.rounds} alternating rounds of {args.ticks} idle ticks"
    )
    s = show("idle tick, local_time", subject)
    b = show("idle tick, site time", baseline)
    show("zones query alone", query)
    print(f"ratio local/site (medians): {s / b:.2f}x; extra per tick {(s - b) * 1e3:.3f} ms")
    print(f"peak traced memory of local-time ticks: {peak / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
