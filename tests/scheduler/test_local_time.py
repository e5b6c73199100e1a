"""Editions in readers' local time (``[newsletters.daily] local_time = true``).

Real runs end to end: `broadsheet run --at` replays (and ``run_due`` ticks)
build the editions and deliver them into a real Maildir; the send ledger and
the Maildir say who got what, when. The site is in Moscow; the readers are in
Vladivostok (+10), Moscow (+03), Los Angeles (-08), New York, or nowhere
(the site's zone).
"""

from __future__ import annotations

import mailbox
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from email.utils import getaddresses
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.model import Frequency, SendState, SubscriberDetails
from broadsheet.scheduler.jobs import EditionJob
from broadsheet.scheduler.localtime import local_editions
from broadsheet.scheduler.runner import run_due
from broadsheet.store import Store
from broadsheet.zones import local_slot, offset_label
from tests.conftest import BASE_CONFIG, make_article
from tests.scheduler.support import Recorder, ticks

LOCAL = """
[newsletters.daily]
send_time = "{time}"
local_time = true
skip_if_empty = false
[newsletters.weekly]
enabled = false
[scheduler]
feeds_every_minutes = 0
"""

MOSCOW = ZoneInfo("Europe/Moscow")
READERS = {
    "vlad@example.org": "Asia/Vladivostok",
    "msk@example.org": "Europe/Moscow",
    "la@example.org": "America/Los_Angeles",
    "nozone@example.org": None,
}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def add_readers(store: Store, readers: dict[str, str | None], *, language: str = "en") -> None:
    now = utc("2026-11-01T00:00:00+00:00")
    with store.write() as tx:
        for email, zone in readers.items():
            details = SubscriberDetails(
                email=email, name="", language=language, frequency=Frequency.DAILY
            )
            tx.subscribers.upsert_active(details, source="test", now=now, timezone=zone)


def sent(store: Store) -> dict[str, list[tuple[str, datetime]]]:
    """Address -> ``(edition id, minute sent)`` of every message the ledger holds as sent."""
    out: dict[str, list[tuple[str, datetime]]] = {}
    with store.read() as tx:
        people = {s.id: s.email for s in tx.subscribers.listing()}
        for edition in tx.editions.listing():
            for entry in tx.ledger.entries(edition.id):
                if entry.state is SendState.SENT:
                    assert entry.sent is not None
                    # To the minute: a send takes a moment after the tick.
                    at = entry.sent.replace(second=0, microsecond=0)
                    out.setdefault(people[entry.subscriber_id], []).append((edition.id, at))
    return {email: sorted(rows, key=lambda row: row[1]) for email, rows in out.items()}


def maildir_recipients(settings: Settings) -> Counter[tuple[str, str]]:
    """``(recipient, Message-ID)`` of every message in the Maildir."""
    box = mailbox.Maildir(settings.delivery.maildir, create=False)
    found: Counter[tuple[str, str]] = Counter()
    for message in box:
        [(_, recipient)] = getaddresses([message["To"]])
        found[(recipient.lower(), str(message["Message-ID"]))] += 1
    return found


def ledger_messages(store: Store) -> Counter[tuple[str, str]]:
    """``(recipient, Message-ID)`` of every row the ledger holds as sent."""
    found: Counter[tuple[str, str]] = Counter()
    with store.read() as tx:
        people = {s.id: s.email for s in tx.subscribers.listing()}
        for edition in tx.editions.listing():
            for entry in tx.ledger.entries(edition.id, state=SendState.SENT):
                found[(people[entry.subscriber_id], entry.message_id)] += 1
    return found


@pytest.fixture
def local_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(LOCAL.format(time="07:00"))


@pytest.fixture
def local_store(local_settings: Settings) -> Iterator[Store]:
    store = Store.open(local_settings.store.url)
    with store.write() as tx:
        tx.articles.save(
            make_article(id="lead", published=utc("2026-12-02T12:00:00+03:00")),
            now=utc("2026-12-02T12:00:00+03:00"),
        )
    yield store
    store.close()


def replay(settings: Settings, start: datetime, end: datetime, step: timedelta) -> list[str]:
    """`broadsheet run --at T` for every T in ``[start, end)``; the lines it printed."""
    runner = CliRunner()
    printed = []
    for now in ticks(start, end, step):
        at = now.isoformat()
        result = runner.invoke(
            cli, ["run", "--config", str(settings.path), "--at", at], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        printed.append(f"{at}: {result.output.strip()}")
    return printed


def test_three_readers_in_three_zones_each_get_it_at_their_local_send_time_once(
    local_settings: Settings, local_store: Store
) -> None:
    add_readers(local_store, READERS)
    # 2 December 19:00 UTC to 4 December 17:00 UTC, hourly: Vladivostok's 3 and
    # 4 December, Moscow's and Los Angeles' 3 December.
    start, end = utc("2026-12-02T19:00:00+00:00"), utc("2026-12-04T17:00:00+00:00")
    printed = replay(local_settings, start, end, timedelta(hours=1))
    got = sent(local_store)
    assert got == {
        "vlad@example.org": [
            ("daily-en-2026-12-03+1000", utc("2026-12-03T07:00:00+10:00")),
            ("daily-en-2026-12-04+1000", utc("2026-12-04T07:00:00+10:00")),
        ],
        "msk@example.org": [
            ("daily-en-2026-12-03+0300", utc("2026-12-03T07:00:00+03:00")),
            ("daily-en-2026-12-04+0300", utc("2026-12-04T07:00:00+03:00")),
        ],
        "nozone@example.org": [
            ("daily-en-2026-12-03+0300", utc("2026-12-03T07:00:00+03:00")),
            ("daily-en-2026-12-04+0300", utc("2026-12-04T07:00:00+03:00")),
        ],
        "la@example.org": [
            ("daily-en-2026-12-03-0800", utc("2026-12-03T07:00:00-08:00")),
            ("daily-en-2026-12-04-0800", utc("2026-12-04T07:00:00-08:00")),
        ],
    }, "\n".join(printed)
    # The Maildir holds exactly those messages, one each.
    expected = ledger_messages(local_store)
    assert sum(expected.values()) == 8 and set(expected.values()) == {1}
    assert maildir_recipients(local_settings) == expected
    # Each edition is cut off at its own slot.
    with local_store.read() as tx:
        editions = {e.id: e for e in tx.editions.listing(language="en")}
    for edition in editions.values():
        assert edition.until == edition.slot
        assert edition.extra["local"]["offset"] == edition.id[-5:]  # type: ignore[index]
    # Los Angeles' window starts at its own previous slot, not Moscow's.
    assert editions["daily-en-2026-12-04-0800"].since == utc("2026-12-03T07:00:00-08:00")
    # The archive page lists each day once: the copy in the site's zone.
    archive = (local_settings.emails.out / "en" / "index.html").read_text(encoding="utf-8")
    listed = re.findall(r"daily-en-[0-9-]+[+-][0-9]{4}", archive)
    assert sorted(set(listed)) == ["daily-en-2026-12-03+0300", "daily-en-2026-12-04+0300"]
    # Each replay again, in any order, sends nothing more.
    replay(local_settings, start, end, timedelta(minutes=30))
    replay(local_settings, utc("2026-12-03T15:00:00+00:00"), end, timedelta(hours=3))
    assert sent(local_store) == got
    assert maildir_recipients(local_settings) == expected


def test_a_reader_who_moves_midday_gets_one_edition_per_local_date(
    local_settings: Settings, local_store: Store
) -> None:
    add_readers(local_store, {"mover@example.org": "Asia/Vladivostok", "la@example.org": None})
    with local_store.write() as tx:
        tx.subscribers.set_timezone(
            "la@example.org", "America/Los_Angeles", now=utc("2026-12-01T00:00:00+00:00")
        )
    day = utc("2026-12-02T20:00:00+00:00")
    run = run_due(local_store, local_settings, now=day + timedelta(hours=1))  # Vladivostok 07:00
    outcome = run.get("edition:daily:en")
    assert run.ok and outcome is not None and outcome.note == "daily-en-2026-12-03+1000"
    # The reader moves to Los Angeles, where it is still 2 December.
    with local_store.write() as tx:
        tx.subscribers.set_timezone(
            "mover@example.org", "America/Los_Angeles", now=day + timedelta(hours=2)
        )
    replay(local_settings, day + timedelta(hours=2), day + timedelta(hours=44), timedelta(hours=1))
    got = sent(local_store)
    # Los Angeles' 3 December edition finds the day's edition had: skipped.
    assert got["mover@example.org"] == [
        ("daily-en-2026-12-03+1000", utc("2026-12-03T07:00:00+10:00")),
        ("daily-en-2026-12-04-0800", utc("2026-12-04T07:00:00-08:00")),
    ]
    assert [e for e, _ in got["la@example.org"]] == [
        "daily-en-2026-12-03-0800",
        "daily-en-2026-12-04-0800",
    ]
    with local_store.read() as tx:
        mover = tx.subscribers.subscription("mover@example.org", "en", Frequency.DAILY)
        assert mover is not None
        states = tx.ledger.states("daily-en-2026-12-03-0800", [mover.id])
    assert states == {mover.id: SendState.SKIPPED}


def test_a_site_time_edition_of_the_same_day_counts_too(
    local_settings: Settings, local_store: Store, make_settings: Callable[..., Settings]
) -> None:
    """Switching local_time on midday: who had the day's site edition gets no other."""
    add_readers(local_store, {"la@example.org": "America/Los_Angeles"})
    site = make_settings(LOCAL.format(time="07:00").replace("local_time = true", ""))
    morning = utc("2026-12-03T07:00:00+03:00")
    outcome = run_due(local_store, site, now=morning).get("edition:daily:en")
    assert outcome is not None and outcome.note == "daily-en-2026-12-03"
    later = utc("2026-12-03T07:00:00-08:00")
    outcome = run_due(local_store, local_settings, now=later).get("edition:daily:en")
    assert outcome is not None and outcome.note == "daily-en-2026-12-03-0800"
    assert outcome.counts["sent"] == 0 and outcome.counts["skipped"] == 1
    assert [e for e, _ in sent(local_store)["la@example.org"]] == ["daily-en-2026-12-03"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("send_time", "day", "expected_slot", "expected_id"),
    [
        # Spring forward: 02:30 does not exist in New York that Sunday; 03:00 EDT.
        ("02:30", date(2026, 3, 8), "2026-03-08T03:00:00-04:00", "daily-en-2026-03-08-0430"),
        # Fall back: 01:30 happens twice; the first, EDT.
        ("01:30", date(2026, 11, 1), "2026-11-01T01:30:00-04:00", "daily-en-2026-11-01-0400"),
    ],
)
def test_new_york_readers_across_a_change_get_one_edition_a_day(
    make_settings: Callable[..., Settings],
    send_time: str,
    day: date,
    expected_slot: str,
    expected_id: str,
) -> None:
    settings = make_settings(LOCAL.format(time=send_time))
    store = Store.open(settings.store.url)
    add_readers(store, {"ny@example.org": "America/New_York", "home@example.org": None})
    new_york = ZoneInfo("America/New_York")
    start = datetime.combine(day - timedelta(days=1), time(12), new_york).astimezone(UTC)
    for now in ticks(start, start + timedelta(days=3), timedelta(minutes=5)):
        assert run_due(store, settings, now=now).ok
    got = sent(store)
    store.close()
    ny = got["ny@example.org"]
    assert [edition for edition, _ in ny] == [
        f"daily-en-{day + timedelta(days=n)}{offset_label(day + timedelta(days=n), time.fromisoformat(send_time), local_slot(day + timedelta(days=n), time.fromisoformat(send_time), new_york))}"
        for n in (0, 1, 2)
    ]
    # On the day of the change: at the rule's instant, within one tick of it.
    edition, at = ny[0]
    assert edition == expected_id
    assert timedelta(0) <= at - utc(expected_slot) < timedelta(minutes=5)
    # The site's reader (Moscow) had Moscow's editions, one a day.
    assert [e for e, _ in got["home@example.org"]] == [
        f"daily-en-{day + timedelta(days=n)}+0300" for n in (0, 1, 2)
    ]


def test_one_slot_can_send_two_local_dates() -> None:
    """07:00 in Apia (+13) and in Niue (-11) is the same instant, a day apart."""
    job = EditionJob(
        language="en",
        frequency=Frequency.DAILY,
        at=time(7),
        tz=MOSCOW,
        local=True,
        zones=("Pacific/Apia", "Pacific/Niue", None, "No/Such_Zone"),
    )
    slot = utc("2026-12-03T07:00:00-11:00")
    groups = local_editions(job, slot)
    assert [(g.edition_id("daily", "en"), g.zones) for g in groups] == [
        ("daily-en-2026-12-03-1100", ("Pacific/Niue",)),
        ("daily-en-2026-12-04+1300", ("Pacific/Apia",)),
    ]
    # Moscow's own slot holds the site's readers and the unknown zone's.
    home = local_editions(job, utc("2026-12-03T07:00:00+03:00"))
    assert [(g.offset, g.zones) for g in home] == [("+0300", (None, "No/Such_Zone"))]
    # Slots are the distinct instants, and the next one is the soonest.
    now = utc("2026-12-03T05:00:00+00:00")
    assert job.next_slot(now) == slot
    assert job.latest_slot(now) == utc("2026-12-03T07:00:00+03:00")


def test_status_shows_the_offsets_of_the_last_and_next_editions(
    local_settings: Settings, local_store: Store
) -> None:
    add_readers(local_store, READERS)
    run_due(local_store, local_settings, now=utc("2026-12-03T07:00:00+03:00"))
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["status", "--config", str(local_settings.path), "--at", "2026-12-03T08:00:00+03:00"],
        catch_exceptions=False,
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "edition:daily:en" in line)
    assert "07:00 for +0300" in row
    assert "18:00 for -0800" in row  # 07:00 in Los Angeles, on Moscow's clock


def test_a_weekly_edition_goes_out_on_each_reader_s_own_weekday() -> None:
    job = EditionJob(
        language="en",
        frequency=Frequency.WEEKLY,
        at=time(8),
        tz=MOSCOW,
        weekday=0,
        local=True,
        zones=("America/Los_Angeles", "Asia/Vladivostok"),
    )
    # Monday 30 November 2026, 08:00 in Vladivostok is Sunday 22:00 UTC.
    sunday = utc("2026-11-29T12:00:00+00:00")
    slots = []
    moment = sunday
    for _ in range(3):
        moment = job.next_slot(moment)
        slots.append(moment)
    assert slots == [
        utc("2026-11-30T08:00:00+10:00"),
        utc("2026-11-30T08:00:00+03:00"),
        utc("2026-11-30T08:00:00-08:00"),
    ]
    ids = [g.edition_id("weekly", "en") for slot in slots for g in local_editions(job, slot)]
    assert ids == [
        "weekly-en-2026-11-30+1000",
        "weekly-en-2026-11-30+0300",
        "weekly-en-2026-11-30-0800",
    ]
    # A week later, not before.
    assert job.next_slot(slots[-1]) == utc("2026-12-07T08:00:00+10:00")


def test_offsets_due_in_one_tick_run_oldest_first_each_once(
    local_settings: Settings, local_store: Store
) -> None:
    """After downtime, every offset still within grace goes out; one past it is skipped."""
    add_readers(
        local_store,
        {"dubai@example.org": "Asia/Dubai", "msk@example.org": None, "in@example.org": None},
    )
    with local_store.write() as tx:
        tx.subscribers.set_timezone(
            "in@example.org", "Asia/Kolkata", now=utc("2026-12-01T00:00:00+00:00")
        )
    recorder = Recorder()
    yesterday = run_due(
        local_store, local_settings, now=utc("2026-12-02T04:00:00+00:00"), actions=recorder.actions
    )
    assert yesterday.ok
    # Kolkata 07:00 is 01:30 UTC, Dubai's 03:00, Moscow's 04:00; back up at 04:40 UTC.
    now = utc("2026-12-03T04:40:00+00:00")
    report = run_due(local_store, local_settings, now=now, actions=recorder.actions)
    daily = [(o.slot, str(o.status)) for o in report.outcomes if o.job == "edition:daily:en"]
    assert daily == [
        (utc("2026-12-03T07:00:00+05:30"), "skipped"),  # 190 minutes late, grace 180
        (utc("2026-12-03T07:00:00+04:00"), "ok"),
        (utc("2026-12-03T07:00:00+03:00"), "ok"),
    ]
    for later in (timedelta(minutes=1), timedelta(hours=3)):
        again = run_due(local_store, local_settings, now=now + later, actions=recorder.actions)
        assert again.outcomes == ()
    # The day before, the first tick ran all three (each within grace), oldest first.
    assert [c.slot for c in recorder.calls if c.job == "edition:daily:en"] == [
        utc("2026-12-02T07:00:00+05:30"),
        utc("2026-12-02T07:00:00+04:00"),
        utc("2026-12-02T07:00:00+03:00"),
        utc("2026-12-03T07:00:00+04:00"),
        utc("2026-12-03T07:00:00+03:00"),
    ]


def test_local_time_on_postgresql(make_settings: Callable[..., Settings], pg_url: str) -> None:
    base = BASE_CONFIG.replace('url = "sqlite:///broadsheet.db"', f'url = "{pg_url}"')
    settings = make_settings(LOCAL.format(time="07:00"), base=base)
    store = Store.open(settings.store.url)
    try:
        add_readers(store, READERS)
        start, end = utc("2026-12-02T20:00:00+00:00"), utc("2026-12-03T16:00:00+00:00")
        for now in ticks(start, end, timedelta(minutes=30)):
            assert run_due(store, settings, now=now).ok
        # Vladivostok's reader moves west after their edition: no second one that day.
        with store.write() as tx:
            tx.subscribers.set_timezone("vlad@example.org", "America/Los_Angeles", now=end)
        for now in ticks(start, end, timedelta(minutes=30)):
            assert run_due(store, settings, now=now).ok
        got = {email: [e for e, _ in rows] for email, rows in sent(store).items()}
        assert ledger_messages(store) == maildir_recipients(settings)
    finally:
        store.close()
    assert got == {
        "vlad@example.org": ["daily-en-2026-12-03+1000"],
        "msk@example.org": ["daily-en-2026-12-03+0300"],
        "nozone@example.org": ["daily-en-2026-12-03+0300"],
        "la@example.org": ["daily-en-2026-12-03-0800"],
    }
