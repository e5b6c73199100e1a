"""``broadsheet run``, ``schedule`` and ``status`` on the demo publication, end to end.

Real actions throughout: the feeds are built, editions built and delivered
into a real Maildir, and ``broadsheet schedule`` runs as a separate process
that gets a real SIGTERM.
"""

from __future__ import annotations

import mailbox
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from email.utils import getaddresses
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings, load_settings
from broadsheet.model import Frequency, SendState, SubscriberStatus
from broadsheet.store import Store
from broadsheet.store.jobs import RunStatus
from tests.conftest import DEMO_NOW
from tests.scheduler.support import wait_for

AT = "2026-11-23T08:00:00+03:00"
WEEKLY = ("weekly-en-2026-11-23", "weekly-ru-2026-11-23")


def broadsheet(*args: str) -> list[str]:
    """The command line of the installed ``broadsheet`` script."""
    script = Path(sys.executable).with_name("broadsheet")
    if script.exists():
        return [str(script), *args]
    return [
        sys.executable,
        "-c",
        "import sys; from broadsheet.cli import main; sys.exit(main())",
        *args,
    ]


def maildir_messages(settings: Settings) -> list[tuple[str, str]]:
    """(Message-ID, recipient) of every message in the outbox."""
    folder = settings.delivery.maildir
    if not all((folder / sub).is_dir() for sub in ("tmp", "new", "cur")):
        return []  # not there yet, or its folders are being made right now
    box = mailbox.Maildir(settings.delivery.maildir, create=False)
    found = []
    for message in box:
        [(_, recipient)] = getaddresses([message["To"]])
        found.append((message["Message-ID"], recipient.lower()))
    return found


def edition_of(message_id: str) -> str:
    """The edition id a Message-ID was made from (``<weekly-en-2026-11-23.…@…>``)."""
    match = re.match(r"<((?:daily|weekly)-[a-z]+-\d{4}-\d{2}-\d{2})\.", message_id)
    assert match, message_id
    return match.group(1)


def per_edition(settings: Settings) -> Counter[str]:
    return Counter(edition_of(mid) for mid, _ in maildir_messages(settings))


def assert_ledger_matches_maildir(store: Store, settings: Settings) -> None:
    """Every message in the outbox is recorded sent, once; nothing sent is missing."""
    messages = maildir_messages(settings)
    ids = [mid for mid, _ in messages]
    assert len(ids) == len(set(ids)), "a message was delivered twice"
    with store.read() as tx:
        sent = {
            entry.message_id
            for edition in tx.ledger.editions()
            for entry in tx.ledger.entries(edition, state=SendState.SENT, limit=100_000)
        }
        in_flight = [
            edition
            for edition in tx.ledger.editions()
            if tx.ledger.counts(edition)[SendState.SENDING]
        ]
    assert set(ids) == sent
    assert in_flight == []


def invoke(*args: str, columns: int = 80) -> tuple[int, str, str]:
    runner = CliRunner(env={"COLUMNS": str(columns)})
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# --- broadsheet run ---------------------------------------------------------------------------


def test_run_at_monday_0800_builds_the_feeds_and_sends_the_weekly_editions_once(
    demo_settings: Settings,
) -> None:
    config = str(demo_settings.path)
    code, out, _ = invoke("run", "--config", config, "--at", AT)
    assert code == 0, out

    # The feeds.
    index = demo_settings.feeds.out / "index.json"
    assert index.is_file()
    assert re.search(r"^feeds\s+2026-11-23 08:00 MSK\s+ok\b", out, re.M)
    # The weekly editions, in both languages, one message per weekly reader.
    sent = per_edition(demo_settings)
    store = Store.open(demo_settings.store.url)
    try:
        with store.read() as tx:
            for edition_id in WEEKLY:
                language = edition_id.split("-")[1]
                readers = [
                    s
                    for s in tx.subscribers.listing()
                    if s.language == language
                    and s.frequency is Frequency.WEEKLY
                    and s.status is SubscriberStatus.ACTIVE
                ]
                counts = tx.ledger.counts(edition_id)
                assert sent[edition_id] == counts[SendState.SENT] > 0
                assert counts[SendState.SENT] + counts[SendState.SKIPPED] == len(readers)
                assert re.search(rf"edition:weekly:{language}\s.*ok.*\({edition_id}\)", out)
            runs = {r.job: r for r in tx.jobs.runs()}
        assert {runs[j].status for j in runs} == {RunStatus.OK}
        assert runs["edition:weekly:en"].slot == DEMO_NOW
        assert_ledger_matches_maildir(store, demo_settings)
        before = maildir_messages(demo_settings)
        feeds_before = {p: p.stat().st_mtime_ns for p in demo_settings.feeds.out.rglob("*")}

        # Again for the same time: nothing runs, nothing is sent, no feed is touched.
        code, out, _ = invoke("run", "--config", config, "--at", AT)
        assert code == 0
        assert out.startswith(
            "nothing due at 2026-11-23 08:00 MSK; next: feeds at 2026-11-23 08:15"
        )
        assert maildir_messages(demo_settings) == before
        assert {p: p.stat().st_mtime_ns for p in demo_settings.feeds.out.rglob("*")} == feeds_before
        with store.read() as tx:
            assert len(tx.jobs.runs()) == len(runs)
    finally:
        store.close()


def test_run_without_at_reads_the_wall_clock(demo_settings: Settings) -> None:
    with time_machine.travel(DEMO_NOW + timedelta(minutes=3), tick=False):
        code, out, _ = invoke("run", "--config", str(demo_settings.path))
    assert code == 0
    assert "edition:weekly:en     2026-11-23 08:00 MSK  ok" in out
    assert per_edition(demo_settings)["weekly-en-2026-11-23"] > 0


def test_a_failing_job_makes_run_exit_1_and_the_rest_still_runs(
    demo_settings: Settings,
) -> None:
    # The feeds folder's place is taken by a file: the feeds job fails.
    demo_settings.feeds.out.parent.mkdir(parents=True, exist_ok=True)
    demo_settings.feeds.out.write_text("in the way")
    code, out, _ = invoke("run", "--config", str(demo_settings.path), "--at", AT)
    assert code == 1
    assert re.search(r"^feeds\s+2026-11-23 08:00 MSK\s+failed", out, re.M)
    assert re.search(r"^edition:weekly:ru\s.*\bok\b", out, re.M)
    status = ("status", "--config", str(demo_settings.path), "--at", "2026-11-23T08:01:00+03:00")
    code, table, _ = invoke(*status)
    assert code == 0
    feeds_row = next(line for line in table.splitlines() if "│ feeds" in line)
    assert "failed" in feeds_row and "08:15" in feeds_row
    # On a wide terminal the error fits on its row.
    code, wide, _ = invoke(*status, columns=300)
    feeds_row = next(line for line in wide.splitlines() if "│ feeds" in line)
    assert "cannot create the feeds folder: File exists" in feeds_row
    assert "│ 08:00: " in feeds_row  # the last error, with its slot

    # At the next slot it fails again; -q (as in a crontab) prints that alone.
    code, out, _ = invoke(
        "-q", "run", "--config", str(demo_settings.path), "--at", "2026-11-23T08:15"
    )
    assert code == 1
    assert re.fullmatch(r"feeds\s+2026-11-23 08:15 MSK\s+failed .*\n", out)
    code, out, _ = invoke(
        "-q", "run", "--config", str(demo_settings.path), "--at", "2026-11-23T08:16"
    )
    assert (code, out) == (0, "")


def test_status_before_and_after_a_run(demo_settings: Settings) -> None:
    config = str(demo_settings.path)
    code, table, _ = invoke("status", "--config", config, "--at", AT)
    assert code == 0
    assert "Polynya: jobs at 2026-11-23 08:00 (Europe/Moscow)" in table
    for name in ("feeds", "edition:daily:en", "edition:weekly:ru"):
        row = next(line for line in table.splitlines() if f"│ {name} " in line)
        assert "never" in row and "due now" in row
    invoke("run", "--config", config, "--at", AT)
    code, table, _ = invoke("status", "--config", config, "--at", "2026-11-23T08:01:00+03:00")
    weekly = next(line for line in table.splitlines() if "│ edition:weekly:en" in line)
    assert "ok" in weekly and "2026-11-30 08:00" in weekly
    daily = next(line for line in table.splitlines() if "│ edition:daily:en" in line)
    assert "07:00" in daily and "2026-11-24 07:00" in daily


# --- broadsheet schedule, a real process and a real SIGTERM ------------------------------------


@pytest.fixture
def busy_demo(demo_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The demo with 150 more weekly English readers and a send rate of 30 a second."""
    from broadsheet.content.subscribers import import_subscribers

    path = demo_settings.path
    text = path.read_text(encoding="utf-8")
    text = text.replace('transport = "maildir"\n', 'transport = "maildir"\nrate = 30\n', 1)
    path.write_text(text + "\n[scheduler]\ntick_seconds = 1\n", encoding="utf-8")
    settings = load_settings(path)
    rows = ["email,name,language,frequency,topics"]
    rows += [f"reader{n:03d}@example.org,Reader {n},en,weekly," for n in range(150)]
    csv = tmp_path / "more.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    store = Store.open(settings.store.url)
    try:
        assert import_subscribers(store, settings, csv, now=DEMO_NOW).ok
    finally:
        store.close()
    yield settings


def start_schedule(settings: Settings, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        broadsheet(*flags, "schedule", "--config", str(settings.path), "--at", AT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "BROADSHEET_SECRET": "a-test-secret-of-enough-length"},
    )


def stop(process: subprocess.Popen[str], signum: int = signal.SIGTERM) -> tuple[int, str]:
    process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    return process.returncode, err


@pytest.mark.slow
def test_schedule_in_the_background_stops_cleanly_on_sigterm(demo_settings: Settings) -> None:
    # No -v: a service logs its runs all the same.
    process = start_schedule(demo_settings)
    try:
        store = Store.open(demo_settings.store.url)

        def first_tick_done() -> bool:
            with store.read() as tx:
                runs = tx.jobs.runs()
            return len(runs) == 5 and all(r.status is not RunStatus.RUNNING for r in runs)

        assert wait_for(first_tick_done, timeout=120, poll=0.2)
        store.close()
        code, err = stop(process)
    finally:
        process.kill()
    assert code == 0, err
    assert "SIGTERM: stopping after the message in flight" in err
    assert "scheduler stopped" in err
    assert "edition:weekly:ru 2026-11-23 08:00 MSK: ok" in err  # one line per run
    assert per_edition(demo_settings)["weekly-ru-2026-11-23"] > 0


@pytest.mark.slow
def test_sigterm_in_the_middle_of_a_send_loses_and_repeats_nothing(busy_demo: Settings) -> None:
    settings = busy_demo
    store = Store.open(settings.store.url)
    try:
        with store.read() as tx:
            readers = {
                s.email
                for s in tx.subscribers.listing()
                if s.language == "en"
                and s.frequency is Frequency.WEEKLY
                and s.status is SubscriberStatus.ACTIVE
                and not s.topics
            }
        assert len(readers) > 150
        process = start_schedule(settings, "-v")
        try:
            # Part of the weekly English edition is out: stop.
            assert wait_for(lambda: per_edition(settings)["weekly-en-2026-11-23"] >= 20, 120)
            code, err = stop(process)
        finally:
            process.kill()
        sys.stderr.write(err)  # the scheduler's log, shown when the test fails
        assert code == 0, err
        assert "SIGTERM: stopping after the message in flight" in err
        assert "edition:weekly:en 2026-11-23 08:00 MSK: interrupted" in err

        first = per_edition(settings)["weekly-en-2026-11-23"]
        assert 20 <= first < len(readers), "the send was not interrupted"
        assert_ledger_matches_maildir(store, settings)
        with store.read() as tx:
            run = tx.jobs.get("edition:weekly:en", DEMO_NOW)
            counts = tx.ledger.counts("weekly-en-2026-11-23")
            assert tx.jobs.get("edition:weekly:ru", DEMO_NOW) is None  # never started
        assert run is not None and run.status is RunStatus.INTERRUPTED
        assert run.counts["sent"] == counts[SendState.SENT] == first
        assert counts[SendState.QUEUED] > 0

        # Run again a few minutes later (without the rate limit, to be quick):
        # the rest goes out, nothing twice.
        config = settings.path.read_text(encoding="utf-8")
        settings.path.write_text(config.replace("rate = 30\n", ""), encoding="utf-8")
        result = subprocess.run(
            broadsheet("run", "--config", str(settings.path), "--at", "2026-11-23T08:05:00+03:00"),
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "BROADSHEET_SECRET": "a-test-secret-of-enough-length"},
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert re.search(
            r"^edition:weekly:en\s.*\bok\b.*already_sent=" + str(first), result.stdout, re.M
        )

        messages = maildir_messages(settings)
        weekly_en = [to for mid, to in messages if edition_of(mid) == "weekly-en-2026-11-23"]
        assert Counter(weekly_en) == Counter(readers | set(weekly_en))
        assert sorted(weekly_en) == sorted(set(weekly_en))  # exactly one each
        assert readers <= set(weekly_en)
        assert_ledger_matches_maildir(store, settings)
        with store.read() as tx:
            run = tx.jobs.get("edition:weekly:en", DEMO_NOW)
            assert tx.ledger.counts("weekly-en-2026-11-23")[SendState.QUEUED] == 0
        assert run is not None and run.status is RunStatus.OK and run.attempts == 2
    finally:
        store.close()
