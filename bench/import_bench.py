"""Incremental import through the command line: full, nothing changed, one file changed.

Generates ``--articles`` Markdown files (10,000 by default) with the
generator of ``bench/peers_bench.py`` (full bodies of about 3 KB, two
languages, ten section folders), all modified an hour ago, as a
publication's files are. Each round, in a new store:

- ``broadsheet import content/`` from nothing (the full import, the baseline);
- the same again with nothing changed (the no-op);
- the same after one file's text was changed (one change);

and, unless ``--no-feeds``, ``broadsheet feeds build`` after each, so the
figures also cover the whole of "import + feeds build". Rounds alternate
whether the no-op or the one-change run comes first after the full import.
CPU is user + system time of the child processes
(``resource.getrusage(RUSAGE_CHILDREN)`` before and after), peak memory each
process's own maximum resident set size (``os.wait4``). The summary line
of each import is checked: the no-op must have read no file, the change
must have parsed one.

Printed: each round's figures, then min/median/max over the rounds of the
full import's CPU, and of the no-op and the one-change run as a share of
the full import (and of the full import + feeds build). Targets (issue 15):
at most 5 % each at 10,000 articles.

With ``--memory 5000,50000`` the peak RSS of a full import is measured at
each size (each a fresh process on a freshly generated folder) and the
ratio of the largest to the smallest printed (target: at most 1.3 between
5,000 and 50,000).

Usage::

    .venv/bin/python bench/import_bench.py                        # 10,000 articles, 3 rounds
    .venv/bin/python bench/import_bench.py --articles 200 --rounds 1 --memory 100,400
    .venv/bin/python bench/import_bench.py --rounds 0 --memory 5000,50000
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers_bench import CONFIG, Run, _broadsheet, generate, run  # noqa: E402

_SUMMARY = re.compile(
    r"(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) rejected "
    r"\((\d+) files not read, (\d+) read but not parsed, (\d+) parsed\)"
)


@dataclass
class Step:
    """An import, and the feeds build after it when measured."""

    imported: Run
    feeds: Run | None
    counts: tuple[int, ...]

    @property
    def cpu(self) -> float:
        return self.imported.cpu + (self.feeds.cpu if self.feeds else 0.0)


def _age(folder: Path, when: float) -> None:
    for path in folder.rglob("*.md"):
        os.utime(path, (when, when))


def _import(
    where: Path, content: Path, config: Path, feeds: bool, out: Path
) -> tuple[Run, Run | None, tuple[int, ...]]:
    command = _broadsheet()
    step = [*command, "import", str(content), "--format", "md", "--config", str(config)]
    with open(out, "w+b") as log:
        imported = run_logged(step, where, log)
        log.seek(0)
        text = log.read().decode(errors="replace")
    found = _SUMMARY.search(text)
    if found is None:
        raise SystemExit(f"no import summary in the output:\n{text}")
    built = None
    if feeds:
        built = run([*command, "feeds", "build", "--no-ping", "--config", str(config)], where)
    return imported, built, tuple(int(n) for n in found.groups())


def run_logged(command: list[str], cwd: Path, log: BinaryIO) -> Run:
    """:func:`peers_bench.run`, keeping the standard output (the import's summary)."""
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=_env())
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(command)}: exit {code}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(cpu=cpu, wall=wall, peak_mib=usage.ru_maxrss / 1024)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("BROADSHEET_SECRET", "import-bench-secret")
    env["NO_COLOR"] = "1"
    return env


def _publication(work: Path, name: str) -> tuple[Path, Path]:
    where = work / name
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir()
    config = where / "broadsheet.toml"
    config.write_text(CONFIG.format(store=where / "import.db", out=where / "feeds"), "utf-8")
    return where, config


def _change_one(content: Path, round_: int, when: float) -> None:
    """Rewrite one article's text (a different one each round), keeping it valid."""
    files = sorted(content.rglob("*.md"))
    path = files[(round_ * 7919) % len(files)]
    text = path.read_text("utf-8")
    path.write_text(text + f"\nA paragraph added in round {round_ + 1}.\n", "utf-8")
    os.utime(path, (when, when))


def _spread(values: list[float], unit: str = "") -> str:
    return (
        f"min {min(values):.2f}{unit}  median {statistics.median(values):.2f}{unit}  "
        f"max {max(values):.2f}{unit}"
    )


def rounds(work: Path, articles: int, count: int, feeds: bool) -> None:
    content = work / "content"
    generate(content, articles)
    old = time.time() - 3600
    _age(content, old)
    size = sum(p.stat().st_size for p in content.rglob("*.md"))
    print(
        f"{articles} articles ({size / 2**20:.1f} MiB of Markdown), {count} rounds; "
        f"CPU = user + sys of the child processes; feeds build {'on' if feeds else 'off'}"
    )
    noop_share: list[float] = []
    change_share: list[float] = []
    noop_all: list[float] = []
    change_all: list[float] = []
    peaks: list[float] = []
    full_cpu: list[float] = []
    for round_ in range(count):
        where, config = _publication(work, "publication")
        log = work / "import.log"
        full = Step(*_import(where, content, config, feeds, log))
        assert full.counts[0] == articles, full.counts
        results: dict[str, Step] = {}
        order = ["noop", "change"] if round_ % 2 == 0 else ["change", "noop"]
        for kind in order:
            if kind == "change":
                _change_one(content, round_, old + 60 * (round_ + 1))
            results[kind] = Step(*_import(where, content, config, feeds, log))
        noop, change = results["noop"], results["change"]
        assert noop.counts[4] == articles and noop.counts[6] == 0, noop.counts
        assert change.counts[1] == 1 and change.counts[6] == 1, change.counts
        noop_share.append(100 * noop.imported.cpu / full.imported.cpu)
        change_share.append(100 * change.imported.cpu / full.imported.cpu)
        noop_all.append(100 * noop.cpu / full.cpu)
        change_all.append(100 * change.cpu / full.cpu)
        peaks.append(full.imported.peak_mib)
        full_cpu.append(full.imported.cpu)
        line = (
            f"round {round_ + 1} ({' then '.join(order)}): import full "
            f"{full.imported.cpu:.2f} s, no-op {noop.imported.cpu:.3f} s, one change "
            f"{change.imported.cpu:.3f} s; peak RSS full {full.imported.peak_mib:.0f} MiB, "
            f"no-op {noop.imported.peak_mib:.0f} MiB"
        )
        if feeds:
            assert full.feeds and noop.feeds and change.feeds
            line += (
                f"; feeds build full {full.feeds.cpu:.2f} s, after no-op {noop.feeds.cpu:.3f} s, "
                f"after one change {change.feeds.cpu:.3f} s"
            )
        print(line, flush=True)
    if not count:
        return
    print()
    print(f"full import CPU, s:                   {_spread(full_cpu)}")
    print(f"import no-op / full import, %:        {_spread(noop_share)}   (target <= 5)")
    print(f"import one change / full import, %:   {_spread(change_share)}   (target <= 5)")
    if feeds:
        print(f"import + feeds no-op / full, %:       {_spread(noop_all)}   (target <= 5)")
        print(f"import + feeds one change / full, %:  {_spread(change_all)}   (target <= 5)")
    print(f"import peak RSS (full): {max(peaks):.0f} MiB")


def memory(work: Path, sizes: list[int]) -> None:
    peaks: dict[int, float] = {}
    for size in sizes:
        folder = work / f"memory-{size}"
        content = folder / "content"
        generate(content, size)
        _age(content, time.time() - 3600)
        where, config = _publication(folder, "publication")
        imported, _, counts = _import(where, content, config, False, folder / "import.log")
        assert counts[0] == size, counts
        peaks[size] = imported.peak_mib
        print(
            f"memory: full import of {size} articles: peak RSS {imported.peak_mib:.0f} MiB, "
            f"CPU {imported.cpu:.1f} s",
            flush=True,
        )
        shutil.rmtree(folder, ignore_errors=True)
    low, high = min(sizes), max(sizes)
    print(
        f"memory: peak RSS at {high} / at {low}: {peaks[high] / peaks[low]:.2f}"
        "   (target <= 1.3 for 50,000 / 5,000)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-feeds", dest="feeds", action="store_false")
    parser.add_argument(
        "--memory", default="", help="sizes whose full import's peak RSS is compared: 5000,50000"
    )
    parser.add_argument("--dir", default=None, help="folder to work in (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="import-bench-", dir=args.dir) as temporary:
        work = Path(temporary)
        if args.rounds:
            rounds(work, args.articles, args.rounds, args.feeds)
        if args.memory:
            memory(work, [int(n) for n in args.memory.split(",")])


if __name__ == "__main__":
    main()
