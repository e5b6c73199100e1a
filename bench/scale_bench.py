"""Feeds at scale: the store-backed build through the real CLI, and its memory.

Generates the archive of ``bench/feeds_bench.py`` (two languages, 10
sections, 50 tags, 40 authors, ~3 KB bodies) and imports it into a SQLite
store first (untimed). Then every measurement runs ``broadsheet feeds build``
as a user would, in a fresh process, so interpreter start-up and imports
count; CPU time (user + system) and peak resident set size come from the
kernel's accounting of that one child (``os.wait4``).

1. CPU, at ``--articles`` (default 10,000), rounds alternating (``--rounds``):
   a full build into a new folder, a rebuild with nothing changed (target:
   at most 5 % of the full build), and a rebuild after one article changed
   in the store (target: at most 5 % too).
2. Memory: a full build at each of ``--sizes`` (default 5,000 and 50,000),
   alternating, each in a fresh process; the ratio of the largest size's
   peak RSS to the smallest's (target: at most 1.3).

Ratios print as min/median/max over the rounds.

Usage::

    .venv/bin/python bench/scale_bench.py                       # 10,000; 5,000 vs 50,000
    .venv/bin/python bench/scale_bench.py --articles 2000 --sizes 1000,10000 --rounds 2
    .venv/bin/python bench/scale_bench.py --articles 0 --sizes 500000 --rounds 1  # by hand
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from feeds_bench import CONFIG, stream  # noqa: E402

from broadsheet.config import load_settings  # noqa: E402
from broadsheet.content.fields import content_hash  # noqa: E402
from broadsheet.store import Store  # noqa: E402

AT = "2500-01-01T00:00:00+00:00"
"""The build's --at: after the last generated article (they are 7 hours apart from 2015)."""

BROADSHEET = str(Path(sys.executable).with_name("broadsheet"))


@dataclasses.dataclass
class Run:
    """One CLI run: CPU seconds (user + system), wall seconds, peak RSS in MiB."""

    cpu: float
    wall: float
    rss: float


def setup(folder: Path, count: int) -> Path:
    """A publication in ``folder`` whose SQLite store holds ``count`` generated articles."""
    folder.mkdir(parents=True)
    config = folder / "broadsheet.toml"
    config.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(config)
    store = Store.open(settings.store.url)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        articles = stream(count)
        while batch := list(itertools.islice(articles, 2000)):
            with store.write() as tx:
                tx.articles.add_many(batch, now=now)
    finally:
        store.close()
    return config


def build(config: Path, out: Path) -> Run:
    """``broadsheet feeds build`` in a fresh process; its own CPU time and peak RSS.

    The store is upgraded first (untimed), in case the schema moved on while
    a long run was importing.
    """
    upgrade = [BROADSHEET, "upgrade", "--config", str(config)]
    subprocess.run(upgrade, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    args = [BROADSHEET, "feeds", "build", "--config", str(config), "--at", AT]
    args += ["--no-ping", "--out", str(out)]
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            errors.seek(0)
            raise SystemExit(f"{' '.join(args)} failed:\n{errors.read().decode()}")
    return Run(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024)


def change_one(config: Path, round_: int) -> None:
    """Edit the title of one article in the store (a different one each round).

    The article is the middle one of the archive, as ``feeds_bench.py`` edits:
    on archive pages, not in the current feeds.
    """
    settings = load_settings(config)
    store = Store.open(settings.store.url)
    try:
        with store.write() as tx:
            counts = tx.articles.live_counts(datetime.fromisoformat(AT))
            middle = sum(counts.values()) // 2 + round_
            newest = tx.articles.iter_live(datetime.fromisoformat(AT), bodies=False)
            target = next(itertools.islice(newest, middle, None))
            article = tx.articles.get(target.id)
            assert article is not None
            edited = dataclasses.replace(article, title=f"{article.title} (corrected {round_})")
            edited = dataclasses.replace(edited, content_hash=content_hash(edited))
            tx.articles.save(edited, now=datetime(2026, 1, 2, tzinfo=UTC))
    finally:
        store.close()


def spread(values: list[float], fmt: str = "{:.3f}") -> str:
    """min / median / max."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{fmt.format(low)} / {fmt.format(mid)} / {fmt.format(high)}"


def cpu_rounds(work: Path, count: int, rounds: int) -> list[str]:
    config = setup(work / f"cpu-{count}", count)
    full: list[Run] = []
    noop: list[Run] = []
    one: list[Run] = []
    for round_ in range(rounds):
        out = work / f"cpu-{count}" / f"feeds-{round_}"
        full.append(build(config, out))
        noop.append(build(config, out))
        change_one(config, round_)
        one.append(build(config, out))
    noop_ratio = [n.cpu / f.cpu for n, f in zip(noop, full, strict=True)]
    one_ratio = [o.cpu / f.cpu for o, f in zip(one, full, strict=True)]
    return [
        f"CPU through the CLI at {count:,} articles, {rounds} alternating rounds"
        " (min / median / max)",
        f"  full build                    {spread([r.cpu for r in full], '{:.2f}')} s CPU"
        f"  (peak RSS {max(r.rss for r in full):.0f} MiB)",
        f"  nothing changed               {spread([r.cpu for r in noop])} s CPU"
        f"  (peak RSS {max(r.rss for r in noop):.0f} MiB)",
        f"    share of full               {spread(noop_ratio, '{:.1%}')}  (target <= 5%)",
        f"  one article changed           {spread([r.cpu for r in one])} s CPU",
        f"    share of full               {spread(one_ratio, '{:.1%}')}  (target <= 5%)",
    ]


def memory_rounds(work: Path, sizes: list[int], rounds: int) -> list[str]:
    configs = {}
    for size in sizes:
        started = time.perf_counter()
        configs[size] = setup(work / f"mem-{size}", size)
        print(
            f"  (store of {size:,} articles imported in {time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
        )
    runs: dict[int, list[Run]] = {size: [] for size in sizes}
    for round_ in range(rounds):
        for size in sizes:
            runs[size].append(build(configs[size], work / f"mem-{size}" / f"feeds-{round_}"))
    lines = [
        f"Full build through the CLI, peak RSS, {rounds} alternating rounds (min / median / max)"
    ]
    for size in sizes:
        lines.append(
            f"  {size:>9,} articles          {spread([r.rss for r in runs[size]], '{:.0f}')} MiB,"
            f" {spread([r.cpu for r in runs[size]], '{:.1f}')} s CPU,"
            f" {spread([r.wall for r in runs[size]], '{:.1f}')} s wall"
        )
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
        ratios = [b.rss / a.rss for a, b in zip(runs[small], runs[large], strict=True)]
        lines.append(
            f"  {large:,} / {small:,}: peak RSS {spread(ratios, '{:.2f}')} x  (target <= 1.3x)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10_000, help="0 skips the CPU rounds")
    parser.add_argument("--sizes", default="5000,50000", help="'' skips the memory rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="Work folder (default: the system's)")
    args = parser.parse_args()
    rounds = max(1, args.rounds)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    work = Path(tempfile.mkdtemp(prefix="scale-bench-", dir=args.dir))
    lines = [f"scale benchmark (Python {sys.version.split()[0]}, work in {work.parent})"]
    try:
        if args.articles:
            lines += cpu_rounds(work, args.articles, rounds)
        if sizes:
            lines += memory_rounds(work, sizes, rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
