"""Editions in readers' local time: which editions a slot sends, and to whom.

With ``[newsletters.FREQUENCY] local_time = true`` an edition job reads its
``send_time`` on each reader's wall clock. Its slots are every distinct
instant ``send_time`` falls on in the zones of its active readers (and in the
site's zone, which readers without a zone follow). At each slot it sends one
edition per local date that reaches ``send_time`` at that instant, with its
own id::

    daily-ru-2026-12-03+0300      FREQUENCY-LANGUAGE-LOCAL_DATE then the offset

The offset is the one that puts ``send_time`` on that date at the slot
(:func:`broadsheet.zones.offset_label`), so an id names exactly one instant,
and ids stay short (at most 29 characters) and the same on every run.

Everything here is pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from broadsheet.model import EditionRecord, Frequency
from broadsheet.scheduler.jobs import EditionJob, Job
from broadsheet.zones import local_slot, offset_label, reader_zone

PERIOD_DAYS = {Frequency.DAILY: 1, Frequency.WEEKLY: 7}
"""Days between two editions of each frequency, on a reader's wall clock."""

Newsletter = tuple[str, str]
"""``(language, frequency)``."""


@dataclass(frozen=True)
class LocalEdition:
    """One edition of a slot in readers' local time.

    Attributes:
        day: the readers' local date (a weekly edition's is its weekday).
        slot: when it is sent (UTC): ``send_time`` on ``day`` in ``zones``.
        at: ``send_time``.
        zones: the zone names it is for (``None``: the site's), as known when
            the slot ran; delivery reads the readers' zones again when it queues.
        since: the earliest previous slot of those zones: articles published
            after it are new, so nobody misses one across a daylight-saving change.
    """

    day: date
    slot: datetime
    at: time
    zones: tuple[str | None, ...]
    since: datetime

    @property
    def offset(self) -> str:
        """``+0300``: see :func:`broadsheet.zones.offset_label`."""
        return offset_label(self.day, self.at, self.slot)

    def base_id(self, frequency: Frequency | str, language: str) -> str:
        """``daily-ru-2026-12-03``: the id a site-time edition of that date has."""
        return f"{frequency}-{language}-{self.day.isoformat()}"

    def edition_id(self, frequency: Frequency | str, language: str) -> str:
        """``daily-ru-2026-12-03+0300``."""
        return self.base_id(frequency, language) + self.offset

    def extra(self, frequency: Frequency | str, language: str, site_zone: str) -> dict[str, object]:
        """What the edition record keeps, for delivery to choose its readers by."""
        return {
            "day": self.day.isoformat(),
            "at": self.at.strftime("%H:%M"),
            "offset": self.offset,
            "site_zone": site_zone,
            "base": self.base_id(frequency, language),
            "zones": [name or "" for name in self.zones],
        }


def in_archive(edition: EditionRecord) -> bool:
    """Whether the language's archive page lists ``edition``.

    The editions of one local-time slot share their articles; the archive
    lists the day's copy in the site's zone (the one readers without a zone
    get) and leaves out the copies for other offsets, whose web copies stay
    where their messages link them.
    """
    local = edition.extra.get("local")
    if not isinstance(local, Mapping):
        return True
    zones = local.get("zones")
    return not isinstance(zones, list) or "" in zones


def local_editions(job: EditionJob, slot: datetime) -> list[LocalEdition]:
    """The editions ``job`` sends at ``slot``, by local date.

    The site's own zone always has its edition (readers without a zone get it,
    and it is the day's web copy), even when no reader is in that zone.
    """
    slot = slot.astimezone(UTC)
    names: list[str | None] = [None, *(name for name in job.zones if name is not None)]
    by_day: dict[date, list[str | None]] = {}
    for name in names:
        zone = reader_zone(name, job.tz)
        local = slot.astimezone(zone).date()
        # A send time pushed past midnight by a gap belongs to the day before.
        for day in (local, local - timedelta(days=1)):
            if job.weekday is not None and day.weekday() != job.weekday:
                continue
            if local_slot(day, job.at, zone) == slot:
                by_day.setdefault(day, []).append(name)
                break
    period = timedelta(days=PERIOD_DAYS[job.frequency])
    return [
        LocalEdition(
            day=day,
            slot=slot,
            at=job.at,
            zones=tuple(group),
            since=min(local_slot(day - period, job.at, reader_zone(n, job.tz)) for n in group),
        )
        for day, group in sorted(by_day.items())
    ]


def with_reader_zones(
    jobs: Sequence[Job], zones: Mapping[Newsletter, Sequence[str | None]]
) -> list[Job]:
    """``jobs``, each local-time edition job given its readers' distinct zones.

    Args:
        jobs: the jobs of a tick.
        zones: ``(language, frequency)`` -> the distinct zone names of its
            active readers (``None`` for readers without one).
    """
    return [
        replace(job, zones=tuple(zones.get((job.language, str(job.frequency)), ())))
        if isinstance(job, EditionJob) and job.local
        else job
        for job in jobs
    ]
