"""One edition for 10,000 subscribers, into complete MIME messages: fast path vs naive.

Run from the checkout::

    .venv/bin/python bench/edition_bench.py [--subscribers 10000] [--naive 50]

The demo publication (examples/polynya) is imported into a temporary folder
and this week's editions are built. Then, on one core:

- **prepared**: :class:`broadsheet.emails.edition.compose.PreparedEdition` (render and inline
  once, encode the shared parts once, splice each reader's values in);
- **naive**: per message, render the template, inline its CSS with
  premailer, and build an ``EmailMessage`` from scratch; timed on ``--naive``
  messages and scaled to the subscriber count.

Both paths count links (``[links] count_clicks``) and are donor-aware: the
demo gets two appeal variants per language, and a quarter of the readers
are recurring donors (thanked), a quarter lapsed one-off donors (asked to
renew), the rest never gave (an appeal variant each). The prepared path
picks the body holding the reader's block, encoded once per edition; the
naive one renders the reader's block into the page it renders.

It prints messages per second, peak memory and the ratio between the two.
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from broadsheet.config import Settings, load_settings  # noqa: E402
from broadsheet.model import EditionRecord, Frequency, Giving, Subscriber  # noqa: E402
from broadsheet.resources import example_dir  # noqa: E402
from broadsheet.store import Store  # noqa: E402

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
SECRET = "benchmark-secret"
VARIANTS = "".join(
    f"""
[[donation.{language}.variants]]
heading = "{heading} one"
text = "The first wording of the appeal, for comparison with the second."
button_label = "Give"

[[donation.{language}.variants]]
heading = "{heading} two"
text = "The second wording of the appeal, for comparison with the first."
button_label = "Give monthly"
"""
    for language, heading in (("en", "Variant"), ("ru", "Вариант"))
)
NAMES = ["Anna Petrova", "Борис Смирнов", "", "Jean-Luc O'Neill", "Мария", "Li Wei", ""]


def demo(folder: Path) -> tuple[Settings, Store]:
    """The demo publication imported into ``folder``."""
    from broadsheet.content.importer import import_articles
    from broadsheet.content.views import import_views

    target = folder / "polynya"
    shutil.copytree(example_dir(), target, ignore=shutil.ignore_patterns("*.db", "public"))
    config = target / "broadsheet.toml"
    # Counted links on (every shared link through /r/TOKEN), as a counting publication sends.
    text = config.read_text(encoding="utf-8").replace(
        "[links]\n", "[links]\ncount_clicks = true\n", 1
    )
    config.write_text(text + VARIANTS, encoding="utf-8")
    settings = load_settings(config)
    store = Store.open(settings.store.url)
    import_articles(store, settings, str(target / "content"), now=NOW)
    import_views(store, target / "views.csv")
    return settings, store


def subscribers(count: int, language: str) -> list[Subscriber]:
    return [
        Subscriber(
            id=number,
            email=f"reader{number}@example.org",
            name=NAMES[number % len(NAMES)],
            language=language,
            frequency=Frequency.WEEKLY,
            giving=giving(number),
        )
        for number in range(1, count + 1)
    ]


def giving(number: int) -> Giving | None:
    """A recurring donor, a lapsed one-off donor, or (half the readers) none."""
    if number % 4 == 0:
        return Giving(last=NOW - timedelta(days=12), last_recurring=NOW - timedelta(days=12))
    if number % 4 == 1:
        return Giving(last=NOW - timedelta(days=400))
    return None


def prepared_run(
    record: EditionRecord, settings: Settings, readers: Sequence[Subscriber]
) -> tuple[float, int]:
    """Seconds for every message (preparation included) and the bytes made."""
    from broadsheet.emails.edition.compose import PreparedEdition

    start = time.perf_counter()
    edition = PreparedEdition.from_record(record, settings, secret=SECRET)
    total = 0
    for reader in readers:
        total += len(edition.message(reader).data)
    return time.perf_counter() - start, total


def naive_message(
    content: Any, settings: Settings, record: EditionRecord, reader: Subscriber, backend: str
) -> bytes:
    """Everything per message: render, inline, build an EmailMessage."""
    from broadsheet.emails.edition import appeals, labels, links, tokens
    from broadsheet.emails.edition.context import build_context
    from broadsheet.emails.edition.counted import LinkCounter, count_context
    from broadsheet.emails.edition.inline import inline
    from broadsheet.emails.edition.render import render

    counter = LinkCounter.for_edition(settings, record.id, secret=SECRET)
    counted = count_context(build_context(content, settings, mode="email"), counter)
    context: dict[str, Any] = dict(counted)
    variant = appeals.choose(
        reader.email,
        reader.giving,
        now=NOW,
        thanks_days=settings.donation_options.thanks_days,
        appeals=appeals.appeal_ids(settings, record.language),
    )
    context["donation"] = next(d for d in context["donations"] if d["variant"] == variant)
    context["donations"] = []
    context["greeting"] = labels.greeting(settings.words, record.language, reader.name)
    unsubscribe = links.unsubscribe_url(settings, tokens.sign(SECRET, "unsubscribe", reader.id))
    context["unsubscribe_url"] = unsubscribe
    context["preferences_url"] = links.preferences_url(
        settings, tokens.sign(SECRET, "preferences", reader.id)
    )
    html = inline(render("emails/edition.html.j2", context), backend=backend)  # type: ignore[arg-type]
    text = render("emails/edition.txt.j2", context)
    message = EmailMessage()
    message["From"] = f"{settings.sender.name} <{settings.sender.email}>"
    message["To"] = f"{reader.name} <{reader.email}>" if reader.name else reader.email
    message["Subject"] = record.subject
    message["Date"] = format_datetime(NOW)
    message["Message-ID"] = f"<{record.id}.{reader.id}@{settings.site.domain}>"
    message["List-Id"] = f"<{settings.list_id}>"
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message.as_bytes(policy=SMTP)


def naive_run(
    content: Any,
    settings: Settings,
    record: EditionRecord,
    readers: Sequence[Subscriber],
    backend: str,
) -> float:
    """Seconds per message of the naive path."""
    naive_message(content, settings, record, readers[0], backend)  # warm caches and imports
    start = time.perf_counter()
    for reader in readers:
        naive_message(content, settings, record, reader, backend)
    return (time.perf_counter() - start) / len(readers)


def peak_memory(run: Callable[[], object]) -> int:
    """Peak bytes allocated by Python while ``run`` runs (tracemalloc)."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def dkim_settings(settings: Settings, folder: Path) -> Settings | None:
    """``settings`` with a fresh DKIM key, or ``None`` when openssl is absent."""
    import dataclasses

    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    key = folder / "dkim.pem"
    subprocess.run(
        [openssl, "genrsa", "-traditional", "-out", str(key), "2048"],
        check=True,
        capture_output=True,
    )
    sender = dataclasses.replace(settings.sender, dkim_key=key)
    return dataclasses.replace(settings, sender=sender)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--naive", type=int, default=50, help="messages timed on the naive path")
    parser.add_argument("--dkim", type=int, default=500, help="messages timed with DKIM (0: skip)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    from broadsheet.scheduler.editions import build_edition, gather

    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        settings, store = demo(folder)
        for language in ("en", "ru"):
            outcome = build_edition(
                store, settings, language=language, frequency=Frequency.WEEKLY, now=NOW
            )
            record = outcome.edition
            assert record is not None
            with store.read() as tx:
                content = gather(
                    tx,
                    settings,
                    language=language,
                    frequency=Frequency.WEEKLY,
                    slot=record.slot,
                    now=NOW,
                ).content
            readers = subscribers(args.subscribers, language)
            seconds, total = prepared_run(record, settings, readers)
            peak = peak_memory(lambda: prepared_run(record, settings, readers))  # noqa: B023
            naive = naive_run(content, settings, record, readers[: args.naive], "premailer")
            naive_fast = naive_run(content, settings, record, readers[: args.naive], "css-inline")
            rate = args.subscribers / seconds
            rows.append(
                (
                    language,
                    "prepared, donor-aware (render + inline once)",
                    f"{rate:,.0f}",
                    f"{seconds:.2f}",
                    f"{peak / 2**20:.1f}",
                    f"{total / args.subscribers / 1024:.1f}",
                    f"{naive * rate:,.0f}x",
                )
            )
            rows.append(
                (
                    language,
                    f"naive, premailer per message ({args.naive} timed)",
                    f"{1 / naive:,.1f}",
                    f"{naive * args.subscribers:,.0f}",
                    "",
                    "",
                    "1x",
                )
            )
            rows.append(
                (
                    language,
                    f"naive, css-inline per message ({args.naive} timed)",
                    f"{1 / naive_fast:,.1f}",
                    f"{naive_fast * args.subscribers:,.0f}",
                    "",
                    "",
                    f"{naive / naive_fast:,.1f}x",
                )
            )
            signed = dkim_settings(settings, folder) if args.dkim else None
            if signed is not None:
                dkim_seconds, _ = prepared_run(record, signed, readers[: args.dkim])
                dkim_rate = args.dkim / dkim_seconds
                rows.append(
                    (
                        language,
                        f"prepared + DKIM rsa-sha256 ({args.dkim} timed)",
                        f"{dkim_rate:,.0f}",
                        f"{args.subscribers / dkim_rate:.2f}",
                        "",
                        "",
                        f"{naive * dkim_rate:,.0f}x",
                    )
                )
        store.close()
    header = ("lang", "path", "msgs/s", "s for all", "peak MiB", "KiB/msg", "vs naive")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(f"{args.subscribers:,} subscribers, one core, complete MIME messages (bytes)")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max resident set size of the whole run: {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
