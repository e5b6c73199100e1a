"""Sending an edition over SMTP: send_edition (ledger, claims, personalisation) vs bare smtplib.

Run from the checkout::

    .venv/bin/python bench/send_bench.py [--messages 20000] [--memory 10000,100000]
                                         [--rounds 3] [--pg postgresql://…]

The demo publication (examples/polynya) is imported into a temporary folder,
this week's English edition is built, and ``--messages`` subscribers are
added. An aiosmtpd sink that discards what it accepts runs in its own
process on 127.0.0.1. Then, alternating, ``--rounds`` times each:

- **baseline**: the same messages rendered beforehand (not timed), sent by
  ``smtplib`` over one connection: no store, no ledger, no rendering;
- **send_edition**: the real thing on a SQLite store (``--pg``: also on
  PostgreSQL): enqueue, claim, build each message, deliver, record each
  outcome before the next message.

The medians of the rounds are compared (the machine's other work moves
single rounds a lot). Then, each as alternating rounds whose ratios are
shown as min/median/max (``delivery.rate`` unset throughout):

- **busy machine**: a CPU burner subprocess keeps a core busy while bare
  ``smtplib`` and ``send_edition`` over one connection take turns, against
  the aiosmtpd sink and against Postfix (target: at least 0.8x);
- **connections**: ``delivery.connections = 4`` against 1, to Postfix
  (target: at least 2.5x).

Postfix is Debian's: a throwaway instance is configured in a temporary
folder (loopback only, every message accepted and discarded by the
``discard`` transport), started with ``postfix -c DIR start`` and stopped at
the end. It needs root; where it cannot start, its rows are skipped with
the reason. ``--no-postfix`` skips it too. Then peak memory: a fresh process per
size sends the edition to ``--memory`` subscribers and reports its peak
resident memory during the send (the subscribers come from the store a page
at a time, so the figures should match).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import multiprocessing
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from broadsheet.config import Settings, settings_from_mapping  # noqa: E402
from broadsheet.model import EditionRecord, Frequency  # noqa: E402
from broadsheet.resources import example_dir  # noqa: E402
from broadsheet.store import Store  # noqa: E402
from broadsheet.store.schema import subscribers as subscribers_table  # noqa: E402

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
SECRET = "benchmark-secret"
NAMES = ["Anna Petrova", "Борис Смирнов", "", "Jean-Luc O'Neill", "Мария", "Li Wei", ""]


# --- the sink ----------------------------------------------------------------------


def _sink_main(port: int, ready: Any, control: Any) -> None:
    """An aiosmtpd server that counts and discards; answers its count on request."""
    from aiosmtpd.controller import Controller

    class Discard:
        count = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            Discard.count += 1
            return "250 2.0.0 OK discarded"

    controller = Controller(Discard(), hostname="127.0.0.1", port=port, server_hostname="sink")
    controller.start()
    ready.set()
    while True:
        command = control.recv()
        if command == "count":
            control.send(Discard.count)
        else:
            break
    controller.stop()


class Sink:
    """The discarding SMTP server in its own process."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        self._control, theirs = context.Pipe()
        self._process = context.Process(target=_sink_main, args=(self.port, ready, theirs))
        self._process.start()
        if not ready.wait(30):
            raise RuntimeError("the SMTP sink did not start")

    def count(self) -> int:
        self._control.send("count")
        return int(self._control.recv())

    def stop(self) -> None:
        self._control.send("stop")
        self._process.join(10)


_POSTFIX_MAIN = """\
compatibility_level = 3.6
queue_directory = {folder}/queue
data_directory = {folder}/data
maillog_file = {folder}/maillog
maillog_file_prefixes = {folder}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = sink.localdomain
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_peername_lookup = no
default_transport = discard:
local_transport = discard:
relay_transport = discard:
virtual_transport = discard:
alias_maps =
alias_database =
local_recipient_maps =
message_size_limit = 0
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
"""

_POSTFIX_MASTER = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """A throwaway Postfix on 127.0.0.1 that accepts every message and discards it.

    Call :meth:`start`; it returns why it could not start, or ``None``.
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="send-bench-postfix-"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.started = False

    def _postfix(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["postfix", "-c", str(self.folder / "conf"), *command],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self) -> str | None:
        if shutil.which("postfix") is None:
            return "postfix is not installed (Debian: apt-get install postfix)"
        if os.geteuid() != 0:
            return "starting Postfix needs root"
        import pwd

        try:
            owner = pwd.getpwnam("postfix").pw_uid
        except KeyError:
            return "there is no postfix user"
        conf = self.folder / "conf"
        for name in ("conf", "queue", "data"):
            (self.folder / name).mkdir()
        self.folder.chmod(0o755)
        os.chown(self.folder / "data", owner, -1)
        (conf / "main.cf").write_text(_POSTFIX_MAIN.format(folder=self.folder))
        (conf / "master.cf").write_text(_POSTFIX_MASTER.format(port=self.port))
        started = self._postfix("start")
        self.started = True
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as smtp:
                    smtp.ehlo()
                return None
            except (OSError, smtplib.SMTPException):
                time.sleep(0.2)
        log = self.folder / "maillog"
        tail = log.read_text(errors="replace").splitlines()[-3:] if log.exists() else []
        return f"Postfix did not start ({started.returncode}): " + " | ".join(
            tail or [started.stderr.strip()]
        )

    def stop(self) -> None:
        if self.started:
            self._postfix("stop")
        shutil.rmtree(self.folder, ignore_errors=True)


class Burner:
    """Another process keeping one CPU busy while the block runs."""

    def __enter__(self) -> Burner:
        self._process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *_exc: object) -> None:
        self._process.kill()
        self._process.wait()


# --- the publication -----------------------------------------------------------------


def settings_for(
    folder: Path, *, port: int, store_url: str | None = None, connections: int = 1
) -> Settings:
    """The demo settings, sending over SMTP to the sink (and optionally another store)."""
    path = folder / "broadsheet.toml"
    data = tomllib.loads(path.read_text("utf-8"))
    data["delivery"] = {
        "transport": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "batch_size": 500,
        "retries": 0,
        "connections": connections,
    }
    if store_url:
        data["store"] = {"url": store_url}
    return settings_from_mapping(data, path)


def prepare(folder: Path) -> Path:
    """The demo publication in ``folder`` with this week's English edition built."""
    from broadsheet.config import load_settings
    from broadsheet.content.importer import import_articles
    from broadsheet.content.views import import_views
    from broadsheet.scheduler.editions import build_edition

    target = folder / "polynya"
    shutil.copytree(
        example_dir(), target, ignore=shutil.ignore_patterns("*.db", "public", "outbox")
    )
    settings = load_settings(target / "broadsheet.toml")
    store = Store.open(settings.store.url)
    try:
        import_articles(store, settings, str(target / "content"), now=NOW)
        import_views(store, target / "views.csv")
        with store.write() as tx:
            # The demo's own subscribers stay out of the figures.
            tx.conn.execute(subscribers_table.delete())
        outcome = build_edition(store, settings, language="en", frequency=Frequency.WEEKLY, now=NOW)
        assert outcome.edition is not None, outcome.skipped
    finally:
        store.close()
    return target


def edition_of(store: Store) -> EditionRecord:
    """The edition :func:`prepare` built (the benchmark's copies have longer ids)."""
    with store.read() as tx:
        editions = tx.editions.listing(language="en", frequency=Frequency.WEEKLY)
    return min(editions, key=lambda edition: len(edition.id))


def copy_edition(store: Store, edition: EditionRecord, new_id: str) -> str:
    with store.write() as tx:
        tx.editions.save(dataclasses.replace(edition, id=new_id), now=NOW)
    return new_id


def add_subscribers(store: Store, count: int) -> None:
    """``count`` active English weekly subscribers, inserted in chunks."""
    chunk = 5000
    for start in range(0, count, chunk):
        rows = [
            {
                "email": f"reader{n}@example.org",
                "name": NAMES[n % len(NAMES)],
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
            for n in range(start, min(start + chunk, count))
        ]
        with store.write() as tx:
            tx.conn.execute(subscribers_table.insert(), rows)


# --- the runs --------------------------------------------------------------------------


def baseline(store: Store, settings: Settings, edition: EditionRecord, port: int) -> float:
    """Messages per second of smtplib sending pre-rendered messages over one connection."""
    from broadsheet.emails.edition.compose import PreparedEdition

    prepared = PreparedEdition.from_record(edition, settings, secret=SECRET)
    with store.read() as tx:
        readers = list(tx.subscribers.iter_active("en", Frequency.WEEKLY))
    messages = [prepared.message(reader) for reader in readers]
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for message in messages:
            smtp.sendmail(message.sender, [message.recipient], message.data)
    return len(messages) / (time.perf_counter() - start)


def ours(store: Store, settings: Settings, edition_id: str) -> tuple[float, int]:
    """Messages per second of send_edition, and how many it sent."""
    from broadsheet.emails.delivery.sender import send_edition

    start = time.perf_counter()
    report = send_edition(store, settings, edition_id, now=NOW, transport="smtp")
    seconds = time.perf_counter() - start
    assert report.failed == 0 and report.remaining == 0, report
    return report.sent / seconds, report.sent


def _vm_hwm() -> int:
    """Peak resident memory of this process in bytes (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_child(folder: Path, port: int, count: int) -> dict[str, float]:
    """In a fresh process: a store with ``count`` subscribers; send; peak memory of the send."""
    settings = settings_for(folder, port=port)
    source = Store.open(settings.store.url)
    edition = edition_of(source)
    source.close()
    target = folder.parent / f"memory-{count}.db"
    target.unlink(missing_ok=True)
    settings = settings_for(folder, port=port, store_url=f"sqlite:///{target}")
    store = Store.open(settings.store.url)
    with store.write() as tx:
        tx.editions.save(edition, now=NOW)
    add_subscribers(store, count)
    before = _vm_hwm()
    # Forget the peak of the set-up (Linux: writing 5 to clear_refs resets VmHWM).
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    rate, sent = ours(store, settings, edition.id)
    store.close()
    return {
        "count": count,
        "sent": sent,
        "rate": rate,
        "peak": _vm_hwm(),
        "setup_peak": before,
        "reset": reset,
    }


# --- main --------------------------------------------------------------------------------


def alternate(rounds: int, first: Callable[[], float], second: Callable[[], float]) -> list[float]:
    """``second() / first()`` per round (rates), the two taking turns to go first."""
    ratios = []
    for n in range(rounds):
        if n % 2:
            b = second()
            a = first()
        else:
            a = first()
            b = second()
        ratios.append(b / a)
    return ratios


def spread(ratios: Sequence[float]) -> str:
    """``min / median / max`` of the ratios."""
    return " / ".join(
        f"{value:.2f}x" for value in (min(ratios), statistics.median(ratios), max(ratios))
    )


def each(ratios: Sequence[float]) -> str:
    return " ".join(f"{r:.2f}" for r in ratios)


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--memory", default="10000,100000", help="subscriber counts, or ''")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--pg", default=None, help="also run send_edition on this PostgreSQL database"
    )
    parser.add_argument("--no-postfix", action="store_true", help="skip the Postfix rows")
    parser.add_argument("--child-memory", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    os.environ.setdefault("BROADSHEET_SECRET", SECRET)
    if args.child_memory:
        print(json.dumps(memory_child(Path(args.folder), args.port, args.child_memory)))
        return

    work = Path(tempfile.mkdtemp(prefix="send-bench-"))
    sink = Sink()
    try:
        print(f"preparing the demo edition and {args.messages} subscribers…", file=sys.stderr)
        folder = prepare(work)
        settings = settings_for(folder, port=sink.port)
        store = Store.open(settings.store.url)
        add_subscribers(store, args.messages)
        edition = edition_of(store)
        size = len(_sample_message(settings, edition).data)
        results: dict[str, list[float]] = {"baseline": [], "send_edition": []}
        stores = [("send_edition", store, settings)]
        pg_store = None
        if args.pg:
            pg_settings = settings_for(folder, port=sink.port, store_url=args.pg)
            pg_store = Store.open(pg_settings.store.url)
            with pg_store.write() as tx:
                tx.editions.save(edition, now=NOW)
            add_subscribers(pg_store, args.messages)
            stores.append(("send_edition (PostgreSQL)", pg_store, pg_settings))
            results["send_edition (PostgreSQL)"] = []
        for round_ in range(args.rounds):
            print(f"round {round_ + 1} of {args.rounds}…", file=sys.stderr)
            results["baseline"].append(baseline(store, settings, edition, sink.port))
            for name, where, where_settings in stores:
                edition_id = copy_edition(where, edition, f"{edition.id}-r{round_}")
                rate, sent = ours(where, where_settings, edition_id)
                assert sent == args.messages
                results[name].append(rate)
        expected = args.messages * args.rounds * (1 + len(stores))
        delivered = sink.count()
        assert delivered == expected, (delivered, expected)
        base = statistics.median(results["baseline"])
        rows = [["run", "messages/s (median)", "each round", "ratio to baseline"]]
        for name, rates in results.items():
            rows.append(
                [
                    name,
                    f"{statistics.median(rates):.0f}",
                    " ".join(f"{r:.0f}" for r in rates),
                    f"{statistics.median(rates) / base:.2f}x",
                ]
            )
        print(f"\n{args.messages} messages of {size / 1024:.1f} KiB each to a local aiosmtpd sink")
        print(table(rows))

        postfix = None
        sinks = [("aiosmtpd", sink.port)]
        if args.no_postfix:
            print("\nPostfix: skipped (--no-postfix)")
        else:
            postfix = Postfix()
            why = postfix.start()
            if why is None:
                sinks.append(("Postfix", postfix.port))
            else:
                print(f"\nPostfix: skipped: {why}")
        try:
            rows = [["comparison", "ratio min / median / max", "each round"]]
            runs = iter(range(10**6))

            def send(port: int, connections: int) -> float:
                where = settings_for(folder, port=port, connections=connections)
                edition_id = copy_edition(store, edition, f"{edition.id}-x{next(runs)}")
                return ours(store, where, edition_id)[0]

            for name, port in sinks:
                print(f"busy machine, {name}…", file=sys.stderr)
                with Burner():
                    ratios = alternate(
                        args.rounds,
                        functools.partial(baseline, store, settings, edition, port),
                        functools.partial(send, port, 1),
                    )
                rows.append([f"{name}, busy: 1 connection / smtplib", spread(ratios), each(ratios)])
            if postfix is not None and len(sinks) > 1:
                print("connections, Postfix…", file=sys.stderr)
                postfix_port = postfix.port
                ratios = alternate(
                    args.rounds,
                    lambda: send(postfix_port, 1),
                    lambda: send(postfix_port, 4),
                )
                rows.append(["Postfix: 4 connections / 1", spread(ratios), each(ratios)])
            print("\nalternating rounds, delivery.rate unset (targets: busy >= 0.8x, 4/1 >= 2.5x)")
            print(table(rows))
        finally:
            if postfix is not None:
                postfix.stop()
        store.close()
        if pg_store is not None:
            pg_store.close()

        counts = [int(c) for c in args.memory.split(",") if c.strip()]
        if counts:
            rows = [["subscribers", "messages/s", "peak RSS during send", "peak RSS of set-up"]]
            for count in counts:
                print(f"memory: sending to {count} subscribers…", file=sys.stderr)
                child = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child-memory",
                        str(count),
                        "--folder",
                        str(folder),
                        "--port",
                        str(sink.port),
                    ],
                    capture_output=True,
                    text=True,
                )
                if child.returncode:
                    raise SystemExit(f"the memory run for {count} failed:\n{child.stderr}")
                out = child.stdout
                figures = json.loads(out.strip().splitlines()[-1])
                rows.append(
                    [
                        str(count),
                        f"{figures['rate']:.0f}",
                        f"{figures['peak'] / 2**20:.1f} MiB",
                        f"{figures['setup_peak'] / 2**20:.1f} MiB",
                    ]
                )
            print("\npeak memory (a fresh process per size; set-up peak forgotten before sending)")
            print(table(rows))
    finally:
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)


def _sample_message(settings: Settings, edition: EditionRecord) -> Any:
    from broadsheet.emails.edition.compose import PreparedEdition
    from broadsheet.model import Subscriber

    prepared = PreparedEdition.from_record(edition, settings, secret=SECRET)
    return prepared.message(
        Subscriber(1, "reader1@example.org", "Anna Petrova", "en", Frequency.WEEKLY)
    )


if __name__ == "__main__":
    main()
