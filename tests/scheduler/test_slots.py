"""Slots: when each job is due, on the wall clock and across daylight-saving changes.

Pure functions, so plain values in and out; the DST cases use real zones
(Europe/Berlin, America/New_York, Australia/Lord_Howe) and their 2026 rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadsheet.config import Settings
from broadsheet.model import Frequency
from broadsheet.scheduler.jobs import (
    EditionJob,
    FeedsJob,
    interval_slot_at_or_before,
    jobs_from_settings,
    local_slot,
    local_time,
    wall_slot_after,
    wall_slot_at_or_before,
)
from tests.conftest import DEMO_NOW

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MOSCOW = ZoneInfo("Europe/Moscow")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


# --- feeds: every N minutes, aligned to the hour in UTC ----------------------------


@pytest.mark.parametrize(
    ("now", "latest", "following"),
    [
        (utc(2026, 11, 23, 5, 7, 30), utc(2026, 11, 23, 5, 0), utc(2026, 11, 23, 5, 15)),
        (utc(2026, 11, 23, 5, 15), utc(2026, 11, 23, 5, 15), utc(2026, 11, 23, 5, 30)),
        (utc(2026, 11, 23, 5, 59, 59), utc(2026, 11, 23, 5, 45), utc(2026, 11, 23, 6, 0)),
        (utc(2026, 12, 31, 23, 50), utc(2026, 12, 31, 23, 45), utc(2027, 1, 1, 0, 0)),
    ],
)
def test_feeds_slots_fall_on_quarter_hours(
    now: datetime, latest: datetime, following: datetime
) -> None:
    job = FeedsJob(every=timedelta(minutes=15))
    assert job.latest_slot(now) == latest
    assert job.next_slot(now) == following


def test_feeds_slots_ignore_the_zone_of_now_and_daylight_saving() -> None:
    job = FeedsJob(every=timedelta(minutes=15))
    # 02:07 CET is 01:07 UTC, the minute the clocks in Berlin jump.
    local = datetime(2026, 3, 29, 2, 7, tzinfo=BERLIN)
    assert job.latest_slot(local) == utc(2026, 3, 29, 1, 0)
    # A whole day of slots on the spring-forward day: 96, evenly spaced.
    slots = []
    now = utc(2026, 3, 28, 23, 0)
    while now < utc(2026, 3, 29, 23, 0):
        slots.append(job.latest_slot(now))
        now = job.next_slot(now)
    assert len(slots) == 96
    assert {b - a for a, b in zip(slots, slots[1:], strict=False)} == {timedelta(minutes=15)}


@pytest.mark.parametrize("minutes", [1, 7, 45, 60, 90, 1440])
def test_any_interval_gives_evenly_spaced_slots_from_the_epoch(minutes: int) -> None:
    every = timedelta(minutes=minutes)
    slot = interval_slot_at_or_before(DEMO_NOW + timedelta(seconds=1), every)
    assert slot <= DEMO_NOW + timedelta(seconds=1) < slot + every
    assert (slot - datetime(1970, 1, 1, tzinfo=UTC)) % every == timedelta(0)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        interval_slot_at_or_before(datetime(2026, 11, 23, 5, 0), timedelta(minutes=15))  # noqa: DTZ001


# --- editions: wall-clock times in the site's zone ------------------------------------


def weekly_en() -> EditionJob:
    return EditionJob("en", Frequency.WEEKLY, time(8, 0), MOSCOW, weekday=0)


def test_the_weekly_slot_is_monday_at_its_send_time() -> None:
    job = weekly_en()
    assert job.latest_slot(DEMO_NOW) == DEMO_NOW  # Monday 08:00 MSK exactly
    assert job.latest_slot(DEMO_NOW - timedelta(seconds=1)) == DEMO_NOW - timedelta(days=7)
    assert job.next_slot(DEMO_NOW) == DEMO_NOW + timedelta(days=7)
    assert job.next_slot(DEMO_NOW - timedelta(seconds=1)) == DEMO_NOW
    # From any day of the week, the latest slot is the Monday before.
    for hours in range(0, 7 * 24, 5):
        now = DEMO_NOW + timedelta(hours=hours)
        assert job.latest_slot(now) == DEMO_NOW
    assert job.edition_id(DEMO_NOW) == "weekly-en-2026-11-23"


def test_the_daily_slot_is_every_day_at_its_send_time() -> None:
    job = EditionJob("ru", Frequency.DAILY, time(7, 0), MOSCOW)
    seven = DEMO_NOW - timedelta(hours=1)
    assert job.latest_slot(DEMO_NOW) == seven
    assert job.next_slot(DEMO_NOW) == seven + timedelta(days=1)
    assert job.latest_slot(seven - timedelta(microseconds=1)) == seven - timedelta(days=1)
    assert job.name == "edition:daily:ru"
    assert job.edition_id(seven) == "daily-ru-2026-11-23"


def test_the_send_time_is_local_even_when_the_utc_date_differs() -> None:
    # 01:30 in Moscow is 22:30 UTC the evening before.
    job = EditionJob("en", Frequency.WEEKLY, time(1, 30), MOSCOW, weekday=0)
    slot = job.latest_slot(DEMO_NOW)
    assert slot == utc(2026, 11, 22, 22, 30)
    assert job.edition_id(slot) == "weekly-en-2026-11-23"


# --- daylight saving ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "at", "expected_utc", "expected_local"),
    [
        # Spring forward: 02:00 -> 03:00. 02:30 does not exist: the first
        # valid instant after the gap is 03:00 local.
        (BERLIN, date(2026, 3, 29), time(2, 30), utc(2026, 3, 29, 1, 0), "03:00 CEST"),
        (BERLIN, date(2026, 3, 29), time(2, 0), utc(2026, 3, 29, 1, 0), "03:00 CEST"),
        (BERLIN, date(2026, 3, 29), time(3, 0), utc(2026, 3, 29, 1, 0), "03:00 CEST"),
        (BERLIN, date(2026, 3, 29), time(1, 59), utc(2026, 3, 29, 0, 59), "01:59 CET"),
        # Fall back: 03:00 -> 02:00. 02:30 happens twice: the first one.
        (BERLIN, date(2026, 10, 25), time(2, 30), utc(2026, 10, 25, 0, 30), "02:30 CEST"),
        (BERLIN, date(2026, 10, 25), time(3, 0), utc(2026, 10, 25, 2, 0), "03:00 CET"),
        (NEW_YORK, date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 0), "03:00 EDT"),
        (NEW_YORK, date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30), "01:30 EDT"),
        # A half-hour change: Lord Howe Island moves from 02:00 to 02:30.
        (
            ZoneInfo("Australia/Lord_Howe"),
            date(2026, 10, 4),
            time(2, 15),
            utc(2026, 10, 3, 15, 30),
            "02:30 +11",
        ),
    ],
)
def test_skipped_and_repeated_local_times(
    zone: ZoneInfo, day: date, at: time, expected_utc: datetime, expected_local: str
) -> None:
    slot = local_slot(day, at, zone)
    assert slot == expected_utc
    assert local_time(slot, zone).endswith(expected_local)
    assert slot.astimezone(zone).date() == day


@pytest.mark.parametrize(
    ("zone", "days", "at"),
    [
        (BERLIN, (date(2026, 3, 27), date(2026, 4, 1)), time(2, 30)),
        (BERLIN, (date(2026, 10, 23), date(2026, 10, 28)), time(2, 30)),
        (NEW_YORK, (date(2026, 3, 6), date(2026, 3, 11)), time(2, 30)),
        (NEW_YORK, (date(2026, 10, 30), date(2026, 11, 4)), time(1, 30)),
    ],
)
def test_daily_slots_across_a_change_come_once_per_local_day(
    zone: ZoneInfo, days: tuple[date, date], at: time
) -> None:
    job = EditionJob("en", Frequency.DAILY, at, zone)
    first, last = days
    now = local_slot(first, at, zone) - timedelta(seconds=1)
    seen = []
    while True:
        now = job.next_slot(now)
        if now.astimezone(zone).date() > last:
            break
        seen.append(now)
        assert job.latest_slot(now) == now
        # Within a minute after the slot, and through the repeated hour, the
        # latest slot is still that one.
        for later in (timedelta(seconds=59), timedelta(hours=1), timedelta(hours=2)):
            if now + later < job.next_slot(now):
                assert job.latest_slot(now + later) == now
    local_days = [s.astimezone(zone).date() for s in seen]
    assert local_days == [first + timedelta(days=i) for i in range((last - first).days + 1)]
    assert all(b > a for a, b in zip(seen, seen[1:], strict=False))


def test_a_weekly_slot_on_the_spring_forward_sunday() -> None:
    job = EditionJob("en", Frequency.WEEKLY, time(2, 30), BERLIN, weekday=6)
    slot = job.next_slot(utc(2026, 3, 27, 12, 0))
    assert local_time(slot, BERLIN) == "2026-03-29 03:00 CEST"
    assert job.next_slot(slot) == local_slot(date(2026, 4, 5), time(2, 30), BERLIN)


ZONES = [
    "UTC",
    "Europe/Moscow",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
]


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    # hypothesis wants naive bounds; the times are made UTC in the test.
    moment=st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001
        max_value=datetime(2030, 12, 31),  # noqa: DTZ001
    ),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 1, 15, 30, 45, 59]),
    weekday=st.one_of(st.none(), st.integers(0, 6)),
)
def test_latest_and_next_slots_bracket_now(
    zone: str, moment: datetime, hour: int, minute: int, weekday: int | None
) -> None:
    tz = ZoneInfo(zone)
    now = moment.replace(tzinfo=UTC)
    at = time(hour, minute)
    latest = wall_slot_at_or_before(now, at, tz, weekday=weekday)
    following = wall_slot_after(now, at, tz, weekday=weekday)
    assert latest <= now < following
    # Nothing in between: they are consecutive slots.
    assert wall_slot_after(latest, at, tz, weekday=weekday) == following
    assert wall_slot_at_or_before(following - timedelta(seconds=1), at, tz, weekday=weekday) == (
        latest
    )
    for slot in (latest, following):
        local = slot.astimezone(tz)
        if weekday is not None:
            assert local.weekday() == weekday
        wall = datetime.combine(local.date(), at)
        if local.replace(tzinfo=None) != wall:
            # Only a time that does not exist that day moves, and only forward.
            assert (
                wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall
            )
            assert local.replace(tzinfo=None) > wall


# --- jobs from the configuration --------------------------------------------------------


def test_jobs_from_the_default_configuration(settings: Settings) -> None:
    jobs = jobs_from_settings(settings)
    assert [job.name for job in jobs] == [
        "feeds",
        "edition:daily:en",
        "edition:daily:ru",
        "edition:weekly:en",
        "edition:weekly:ru",
    ]
    feeds, daily_en, *_, weekly_ru = jobs
    assert feeds == FeedsJob(every=timedelta(minutes=15))
    assert daily_en == EditionJob(
        "en", Frequency.DAILY, time(7, 0), MOSCOW, None, timedelta(minutes=180)
    )
    assert isinstance(weekly_ru, EditionJob) and weekly_ru.weekday == 0


def test_jobs_follow_the_configuration(make_settings: Callable[..., Settings]) -> None:
    settings_ = make_settings(
        """
        [newsletters.daily]
        enabled = false
        [newsletters.weekly]
        send_time = "18:45"
        weekday = "friday"
        grace_minutes = 0
        [scheduler]
        feeds_every_minutes = 0
        tick_seconds = 45
        """
    )
    jobs = jobs_from_settings(settings_)
    assert [job.name for job in jobs] == ["edition:weekly:en", "edition:weekly:ru"]
    job = jobs[0]
    assert isinstance(job, EditionJob)
    assert (job.at, job.weekday) == (time(18, 45), 4)
    # A grace of 0 still lets the first tick after the slot send it.
    assert job.grace == timedelta(seconds=45)
    slot = job.latest_slot(DEMO_NOW)
    assert not job.is_late(slot, slot + timedelta(seconds=45))
    assert job.is_late(slot, slot + timedelta(seconds=46))
