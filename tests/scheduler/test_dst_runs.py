"""Ticks through daylight-saving changes: each edition once per local day, on time.

The send time is 02:30, inside the spring-forward gap and the fall-back
overlap of both zones' 2026 changes (both on a Sunday), for the daily
edition and a weekly one on Sunday.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broadsheet.config import Settings
from broadsheet.scheduler.jobs import local_time
from broadsheet.scheduler.runner import run_due
from broadsheet.store import Store
from tests.conftest import BASE_CONFIG
from tests.scheduler.support import Recorder, ticks

EXTRA = """
[newsletters.daily]
send_time = "{time}"
[newsletters.weekly]
send_time = "{time}"
weekday = "sunday"
[scheduler]
feeds_every_minutes = 60
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("zone", "sunday", "send_time", "expected_on_sunday"),
    [
        # Spring forward: 02:30 does not exist; it runs at 03:00 local.
        ("Europe/Berlin", date(2026, 3, 29), "02:30", "2026-03-29 03:00 CEST"),
        ("America/New_York", date(2026, 3, 8), "02:30", "2026-03-08 03:00 EDT"),
        # Fall back: 02:30 (Berlin) and 01:30 (New York) happen twice; once, the first.
        ("Europe/Berlin", date(2026, 10, 25), "02:30", "2026-10-25 02:30 CEST"),
        ("America/New_York", date(2026, 11, 1), "01:30", "2026-11-01 01:30 EDT"),
    ],
)
def test_editions_run_once_per_local_day_across_a_change(
    make_settings: Callable[..., Settings],
    zone: str,
    sunday: date,
    send_time: str,
    expected_on_sunday: str,
) -> None:
    base = BASE_CONFIG.replace('timezone = "Europe/Moscow"', f'timezone = "{zone}"')
    settings = make_settings(EXTRA.format(time=send_time), base=base)
    tz = ZoneInfo(zone)
    store = Store.open(settings.store.url)
    recorder = Recorder()
    # From Friday noon to Tuesday noon, local, a tick every 5 minutes.
    start = datetime.combine(sunday - timedelta(days=2), datetime.min.time(), tz) + timedelta(
        hours=12
    )
    end = start + timedelta(days=4)
    for now in ticks(start.astimezone(UTC), end.astimezone(UTC), timedelta(minutes=5)):
        report = run_due(store, settings, now=now, actions=recorder.actions)
        assert report.ok
    store.close()

    daily = [local_time(slot, tz) for slot in recorder.slots("edition:daily:en")]
    # Friday's slot was long past its grace at the first tick (noon): skipped.
    # Then one a day, at the send time, but on Sunday as the change dictates.
    assert daily[1] == expected_on_sunday
    others = [daily[0], *daily[2:]]
    assert [d.rsplit(" ", 1)[0] for d in others] == [
        f"{sunday + timedelta(days=n)} {send_time}" for n in (-1, 1, 2)
    ]
    assert recorder.slots("edition:daily:en") == recorder.slots("edition:daily:ru")
    weekly = [local_time(slot, tz) for slot in recorder.slots("edition:weekly:en")]
    assert weekly == [expected_on_sunday]
    # Each ran within one tick of its slot, never before it.
    for call in recorder.calls:
        assert timedelta(0) <= call.now - call.slot < timedelta(minutes=5)
    # Feeds: one build per hour of real time (95, 96 or 97 local hours in those
    # four days), whatever the local clock did.
    feeds = recorder.slots("feeds")
    hours = int((end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() // 3600)
    assert hours == {3: 95, 10: 97, 11: 97}[sunday.month]
    assert feeds == [start.astimezone(UTC) + timedelta(hours=n) for n in range(hours + 1)]
