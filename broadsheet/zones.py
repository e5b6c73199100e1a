"""Wall-clock times in time zones: the instant a local time falls on, readers' zones.

Pure functions shared by the scheduler (when a job is due) and delivery (which
readers an edition sent in their local time is for), so both agree to the
second on the instant ``send_time`` falls on in a zone on a date:

- a wall time repeated by a fall-back change is its first occurrence;
- a wall time skipped by a spring-forward change is the first valid instant
  after the gap (the moment the clocks jumped).

A reader's zone is an IANA name (``Asia/Vladivostok``) or none; none, or a
name this system's time-zone data does not know, means the site's zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def _transition(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The first instant in ``(before, after]`` with the UTC offset that ``after`` has.

    Offsets change on whole seconds, so halving the interval in seconds finds
    the change exactly in a dozen steps.
    """
    target = after.astimezone(tz).utcoffset()
    low, high = before, after
    while high - low > timedelta(seconds=1):
        middle = low + timedelta(seconds=int((high - low).total_seconds()) // 2)
        if middle.astimezone(tz).utcoffset() == target:
            high = middle
        else:
            low = middle
    return high


def local_slot(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock time ``at`` on ``day`` in ``tz``.

    A wall time repeated by a fall-back change resolves to its first
    occurrence; one skipped by a spring-forward change resolves to the
    first valid instant after the gap (the moment the clocks jumped).
    """
    wall = datetime.combine(day, at)
    # fold=0 is the first occurrence of a repeated time; in a gap it reads the
    # time with the offset from before the change, landing after the gap.
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # A gap: fold=1 reads the time with the offset from after the change,
    # landing before the gap; the change itself lies between the two.
    early = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if not early < first:
        return first  # not a spring-forward gap; nothing better to offer
    return _transition(early, first, tz)


@lru_cache(maxsize=4096)
def _zone(name: str) -> ZoneInfo | None:
    """The zone called ``name``, or ``None`` when the time-zone data does not know it.

    Cached: ``ZoneInfo`` keeps only its eight latest zones alive, readers live
    in hundreds, and reading a zone's file costs about half a millisecond.
    The data does not change under a running process (``ZoneInfo`` assumes
    the same), so nothing here can go stale.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def reader_zone(name: str | None, default: ZoneInfo) -> ZoneInfo:
    """The zone called ``name``; ``default`` (the site's) for none or an unknown name."""
    if not name:
        return default
    return _zone(name) or default


def offset_label(day: date, at: time, slot: datetime) -> str:
    """``+0300``: the UTC offset that puts wall time ``at`` on ``day`` at ``slot``.

    That is the zone's own offset at ``slot``, except for a send time that a
    spring-forward change skips: 02:30 in New York on 8 March 2026 goes out at
    03:00 EDT (07:00 UTC), and its label is ``-0430``. Editions sent at
    different instants for the same local date therefore never share a label.
    """
    offset = datetime.combine(day, at, tzinfo=UTC) - slot.astimezone(UTC)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = int(abs(offset).total_seconds()) // 60
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def zones_at(
    names: Iterable[str | None], *, day: date, at: time, slot: datetime, default: ZoneInfo
) -> list[str | None]:
    """The names among ``names`` whose wall time ``at`` on ``day`` falls on ``slot``.

    ``None`` (no zone: the site's) is among them when ``default`` qualifies,
    and so is a name the time-zone data does not know.
    """
    slot = slot.astimezone(UTC)
    return [name for name in names if local_slot(day, at, reader_zone(name, default)) == slot]
