"""Feed build benchmark: a generated archive, every feed set, against feedgen alone.

Generates an archive in memory (no store: the articles are built as
``broadsheet.model.Article`` values, as ``tx.articles.live(now)`` would return
them) of 10,000 articles by default in 2 languages, 10 sections, 50 tags and
40 authors, with realistic bodies (about 3 KB of HTML), lead images on half of
them and translations pairing articles across the two languages. Then it
measures, into a temporary folder:

- a full build (every set, RSS + Atom + JSON Feed, RFC 5005 archives,
  index.json, atomic writes);
- a rebuild with nothing changed (target: at most 5% of the full build);
- a rebuild after one article changed;
- peak memory (resident set size of the process, and its growth over the run);
- the baseline, in the same run: feedgen alone serialising the same entries
  into the same current RSS and Atom feeds, with no sanitising, no
  extensions, no archives and no manifest, and writing each document to a
  file as any build must (plainly: no temporary file, no rename, no
  comparison), in a folder beside the build's (target: the full build at
  most 1.5 times that). The ratio to its serialising alone is shown too. A
  second baseline adds the archive pages, so it serialises exactly the RSS
  and Atom documents the build writes.

Full builds and baselines alternate ``--repeat`` times (default 3), each
into a new folder, and the least CPU time of each is compared: other work on
a shared machine only ever adds time. Times are CPU seconds of this process
(``time.process_time``, which counts the kernel's work on the process's
behalf, such as writing files); wall-clock seconds are shown beside them.
The cost of creating one file in the output folder is measured first and
printed: on some file systems (ext4 without a journal, after many recent
deletions) it is large and varies from minute to minute, and the build
writes 3.5 times as many files as the baseline.

Usage::

    .venv/bin/python bench/feeds_bench.py            # 10,000 articles
    .venv/bin/python bench/feeds_bench.py --quick    # 1,000 articles
    .venv/bin/python bench/feeds_bench.py --articles 3000 --repeat 5
    .venv/bin/python bench/feeds_bench.py --dir /srv/scratch   # output elsewhere
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import feedgen.entry  # noqa: E402
import feedgen.feed  # noqa: E402
import feedgen.util  # noqa: E402
import feedgen.version  # noqa: E402
from feedgen.feed import FeedGenerator  # noqa: E402

from broadsheet.config import Settings, load_settings  # noqa: E402
from broadsheet.content.fields import content_hash  # noqa: E402
from broadsheet.feeds import archive  # noqa: E402
from broadsheet.feeds.build import build_feeds  # noqa: E402
from broadsheet.feeds.entries import live  # noqa: E402
from broadsheet.feeds.sets import ARCHIVED_SCOPES, feed_sets  # noqa: E402
from broadsheet.model import Article  # noqa: E402

CONFIG = """\
[site]
title = "Bench Review"
url = "https://bench.example"
languages = ["en", "ru"]
timezone = "Europe/Moscow"
logo = "/logo.png"
icon = "/icon.png"
description = "A generated publication for the feed benchmark."

[site.localized.ru]
title = "Бенч"

[store]
url = "sqlite:///bench.db"

[feeds]
out = "feeds"

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

WORDS_EN = [
    "policy",
    "budget",
    "region",
    "sanctions",
    "energy",
    "trade",
    "election",
    "governor",
    "ministry",
    "export",
    "pipeline",
    "market",
    "inflation",
    "currency",
    "border",
    "treaty",
    "reform",
    "pension",
    "migration",
    "harvest",
]
WORDS_RU = [
    "политика",
    "бюджет",
    "регион",
    "санкции",
    "энергия",
    "торговля",
    "выборы",
    "губернатор",
    "министерство",
    "экспорт",
    "рынок",
    "инфляция",
    "валюта",
    "граница",
    "договор",
    "реформа",
    "пенсия",
    "миграция",
    "урожай",
]


def sentence(rng: random.Random, words: list[str], size: int) -> str:
    text = " ".join(rng.choice(words) for _ in range(size))
    return text[:1].upper() + text[1:] + "."


def generate(count: int, seed: int = 7) -> list[Article]:
    """``count`` articles, half in each language, translations paired."""
    return list(stream(count, seed))


def stream(count: int, seed: int = 7) -> Iterator[Article]:
    """The articles of :func:`generate`, one at a time (oldest first), for archives too
    large to hold."""
    rng = random.Random(seed)
    sections = [f"Section {n}" for n in range(10)]
    tags = [f"Tag {n}" for n in range(50)]
    authors = [f"Author {n}" for n in range(40)]
    start = datetime(2015, 1, 1, tzinfo=UTC)
    width = max(5, len(str(count)))
    for n in range(count):
        language = "en" if n % 2 == 0 else "ru"
        words = WORDS_EN if language == "en" else WORDS_RU
        article_id = f"article-{n:0{width}d}"
        partner_n = n + 1 if n % 2 == 0 else n - 1
        partner = f"article-{partner_n:0{width}d}"
        translations = {}
        if n % 4 < 2 and 0 <= partner_n < count:
            translations = {("ru" if language == "en" else "en"): partner}
        published = start + timedelta(hours=7 * n, minutes=rng.randrange(60))
        body = "\n".join(
            f'<p>{sentence(rng, words, 40)} <a href="https://bench.example/{language}/x-{p}/">'
            f"{rng.choice(words)}</a> {sentence(rng, words, 20)}</p>"
            for p in range(6)
        )
        article = Article(
            id=article_id,
            guid=f"tag:bench.example,{published.date().isoformat()}:{article_id}",
            language=language,
            title=sentence(rng, words, 8),
            standfirst=sentence(rng, words, 25),
            body_html=body,
            authors=tuple(rng.sample(authors, 1 + (n % 3 == 0))),
            section=rng.choice(sections),
            tags=tuple(rng.sample(tags, 3)),
            translations=translations,
            published=published,
            updated=published + timedelta(days=1) if n % 5 == 0 else None,
            url=f"https://bench.example/{language}/{article_id}/",
            image=f"https://bench.example/images/{n}.jpg" if n % 2 == 0 else None,
            image_alt="A generated picture" if n % 2 == 0 else "",
        )
        # As the store does on import: every article carries the digest of its fields.
        yield dataclasses.replace(article, content_hash=content_hash(article))


@dataclasses.dataclass
class Baseline:
    """What the baseline did: CPU seconds serialising and writing, bytes and files out."""

    serialise: float = 0.0
    write: float = 0.0
    wall: float = 0.0
    size: int = 0
    files: int = 0

    @property
    def cpu(self) -> float:
        return self.serialise + self.write


def baseline(
    articles: list[Article], settings: Settings, *, archives: bool, out: Path | None
) -> Baseline:
    """feedgen alone: the same entries into the same RSS and Atom documents.

    With ``out``, each document is also written there, as any build must
    write its output: plainly (``Path.write_bytes``), with no temporary file,
    no rename and no comparison with what is on disk. Serialising and writing
    are timed apart, so both ratios can be shown.
    """
    published = live(articles)
    plans: list[tuple[str, list[Article]]] = []
    for feed in feed_sets(published, settings):
        members = list(feed.articles)
        archived = feed.scope in ARCHIVED_SCOPES
        size = settings.feeds.archive_size if archived else None
        shown = archive.current_size(len(members), settings.feeds.items, size)
        plans.append((feed.base, members[:shown]))
        if archives and size:
            for page in archive.pages(len(members), size):
                plans.append((f"{feed.base}-{page.number}", archive.page_entries(members, page)))
    # feedgen as shipped, with its own date formatter.
    patched = feedgen.feed.formatRFC2822, feedgen.entry.formatRFC2822
    feedgen.feed.formatRFC2822 = feedgen.entry.formatRFC2822 = feedgen.util.formatRFC2822
    result = Baseline()
    folders: set[Path] = set()
    wall = time.perf_counter()
    try:
        for base, members in plans:
            for fmt in ("rss", "atom"):
                started = time.process_time()
                fg = FeedGenerator()
                fg.id(f"https://bench.example/feeds/{base}.{fmt}")
                fg.title(settings.site.title)
                fg.description(settings.site.description)
                fg.link(href=f"https://bench.example/feeds/{base}.{fmt}", rel="self")
                fg.link(href=settings.site.url, rel="alternate")
                fg.updated(max(a.modified for a in members))
                fg.lastBuildDate(max(a.modified for a in members))
                for article in members:
                    fe = fg.add_entry(order="append")
                    fe.id(article.guid)
                    fe.title(article.title)
                    fe.link(href=article.url)
                    fe.updated(article.modified)
                    fe.published(article.published)
                    fe.author([{"name": name} for name in article.authors])
                    fe.content(article.body_html, type="html")
                    fe.summary(article.standfirst)
                    fe.category(
                        [{"term": article.section or ""}] + [{"term": t} for t in article.tags]
                    )
                data = fg.rss_str(pretty=True) if fmt == "rss" else fg.atom_str(pretty=True)
                result.size += len(data)
                written = time.process_time()
                result.serialise += written - started
                if out is not None:
                    path = out / f"{base}.{fmt}"
                    if path.parent not in folders:
                        path.parent.mkdir(parents=True, exist_ok=True)
                        folders.add(path.parent)
                    path.write_bytes(data)
                    result.files += 1
                    result.write += time.process_time() - written
    finally:
        feedgen.feed.formatRFC2822, feedgen.entry.formatRFC2822 = patched
    result.wall = time.perf_counter() - wall
    return result


def coverage(articles: list[Article], settings: Settings) -> tuple[int, int, int]:
    """Entries in the current feeds, the distinct articles among them, and all published."""
    published = live(articles)
    slots, distinct = 0, set[str]()
    for feed in feed_sets(published, settings):
        size = settings.feeds.archive_size if feed.scope in ARCHIVED_SCOPES else None
        shown = feed.articles[
            : archive.current_size(len(feed.articles), settings.feeds.items, size)
        ]
        slots += len(shown)
        distinct.update(a.id for a in shown)
    return slots, len(distinct), len(published)


def file_cost(folder: Path, count: int = 300) -> float:
    """CPU milliseconds this process spends creating one new file in ``folder``.

    On some file systems this is far from negligible, and it varies with what
    else the machine has been doing (ext4 without a journal, for one, skips
    inodes freed in the last minutes one by one), which is why both sides of
    the comparison write their files to the same kind of folder.
    """
    folder.mkdir(parents=True)
    started = time.process_time()
    for n in range(count):
        (folder / f"{n}.xml").write_bytes(b"<x/>")
    return (time.process_time() - started) / count * 1000


class Clock:
    """CPU and wall-clock time since creation."""

    def __init__(self) -> None:
        self.cpu = time.process_time()
        self.wall = time.perf_counter()

    def stop(self) -> tuple[float, float]:
        return time.process_time() - self.cpu, time.perf_counter() - self.wall


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def spread(values: list[float]) -> str:
    """The least of ``values`` (the least disturbed run), with the range of all."""
    if len(values) == 1:
        return f"{values[0]:7.2f} s CPU"
    return f"{min(values):7.2f} s CPU (runs {min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 articles")
    parser.add_argument(
        "--repeat", type=int, default=3, help="Full builds and baselines to run, alternating"
    )
    parser.add_argument(
        "--dir", default=None, help="Folder for the output (default: the system's temporary folder)"
    )
    args = parser.parse_args()
    count = 1_000 if args.quick else args.articles
    repeat = max(1, args.repeat)

    work = Path(tempfile.mkdtemp(prefix="feeds-bench-", dir=args.dir))
    try:
        (work / "broadsheet.toml").write_text(CONFIG, encoding="utf-8")
        settings = load_settings(work / "broadsheet.toml")
        articles = generate(count)
        per_file = file_cost(work / "probe")
        gc.collect()
        memory_before = rss_mb()

        # Full builds and baselines alternate, each into a new folder beside
        # the others (nothing is deleted until the end: on some file systems
        # deleting files makes creating the next ones dearer).
        full_cpu: list[float] = []
        bases: list[Baseline] = []
        for run in range(repeat):
            gc.collect()
            clock = Clock()
            full = build_feeds(articles, settings, out=work / f"feeds-{run}", ping=False)
            cpu, wall = clock.stop()
            full_cpu.append(cpu)
            if run == 0:
                full_wall, memory_after = wall, rss_mb()
            gc.collect()
            bases.append(baseline(articles, settings, archives=False, out=work / f"base-{run}"))
        out = full.out
        files = len(full.written)
        total_bytes = sum(p.stat().st_size for p in full.written)

        clock = Clock()
        again = build_feeds(articles, settings, out=out, ping=False)
        again_s = clock.stop()
        assert again.written == [], "a rebuild with nothing changed wrote files"

        changed = list(articles)
        middle = count // 2
        edited = dataclasses.replace(changed[middle], title=changed[middle].title + " (corrected)")
        changed[middle] = dataclasses.replace(edited, content_hash=content_hash(edited))
        clock = Clock()
        one = build_feeds(changed, settings, out=out, ping=False)
        one_s = clock.stop()

        gc.collect()
        with_archives = baseline(articles, settings, archives=True, out=work / "base-archives")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    slots, distinct, published = coverage(articles, settings)
    ratios = [f / b.cpu for f, b in zip(full_cpu, bases, strict=True)]
    full_s = min(full_cpu)
    base = min(b.cpu for b in bases)
    serialise = min(b.serialise for b in bases)

    def seconds(value: tuple[float, float]) -> str:
        return f"{value[0]:7.2f} s CPU ({value[1]:6.2f} s wall)"

    def share(part: tuple[float, float]) -> str:
        return f"{part[0] / full_s:6.1%} of full"

    rows = [
        ("articles", f"{count:,}"),
        ("feeds (index entries)", f"{len(full.feeds):,}"),
        ("files written (full build)", f"{files:,} ({total_bytes / 2**20:,.1f} MiB)"),
        (
            "entries in the current feeds",
            f"{slots:,} per format, of {distinct:,} articles (archives hold all {published:,})",
        ),
        ("new file in the output folder", f"{per_file:7.3f} ms CPU each"),
        ("full build", f"{spread(full_cpu)}  ({full_wall:.2f} s wall, first run)"),
        ("rebuild, nothing changed", f"{seconds(again_s)}  {share(again_s)} (target <= 5%)"),
        (
            "rebuild, one article changed",
            f"{seconds(one_s)}  {share(one_s)}, {len(one.written)} files written",
        ),
        (
            "baseline: feedgen alone, current feeds",
            f"{spread([b.cpu for b in bases])}  ({bases[0].size / 2**20:,.1f} MiB of RSS + Atom,"
            f" {bases[0].files} files)",
        ),
        ("  of which writing its files", spread([b.write for b in bases])),
        ("  full build / baseline", f"{full_s / base:7.2f} x  (target <= 1.5x)"),
        (
            "  the same, round by round",
            " / ".join(
                f"{value:.2f}" for value in (min(ratios), statistics.median(ratios), max(ratios))
            )
            + " x (min / median / max)",
        ),
        (
            "  full build / baseline's serialising",
            f"{full_s / serialise:7.2f} x  (files unwritten)",
        ),
        (
            "baseline incl. archive pages",
            f"{with_archives.cpu:7.2f} s CPU  ({with_archives.size / 2**20:,.1f} MiB of RSS + Atom,"
            f" {with_archives.files} files)",
        ),
        ("  full build / that baseline", f"{full_s / with_archives.cpu:7.2f} x"),
        ("peak memory (process RSS)", f"{memory_after:7.0f} MiB"),
        ("  growth during the full build", f"{memory_after - memory_before:7.0f} MiB"),
    ]
    width = max(len(name) for name, _ in rows)
    print(
        f"feeds benchmark (Python {sys.version.split()[0]}, feedgen {feedgen.version.version_str},"
        f" output in {work.parent}, best of {repeat})"
    )
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
