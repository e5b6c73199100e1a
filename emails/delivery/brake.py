"""The brake: an edition whose bounce or complaint rate passes a threshold stops sending.

Mailbox providers judge a sender by the share of its messages that bounce
or are reported as spam (Gmail and Yahoo ask bulk senders to stay under
0.3 % complaints). An edition that goes past ``[inbound] brake_bounce_rate``
or ``brake_complaint_rate`` is *paused*: its senders stop at their next
batch, the scheduler's retries leave it alone, ``broadsheet status`` says
why, and ``broadsheet send EDITION`` resumes it. ``send EDITION --cancel``
*cancels* an edition for good.

The rates of an edition are counted over the messages it handed to a server
(ledger rows ``sent`` or ``bounced``), once at least ``brake_minimum`` of them:

- bounce rate: distinct addresses refused at delivery (rows ``bounced``) or
  reported by a hard-bounce event naming the edition, over that count;
- complaint rate: distinct addresses with a complaint event naming the
  edition, over that count.

After a resume the brake looks only at what happened since: the counts at
the resume are kept in the edition's ``extra["brake_baseline"]``, and the
edition pauses again when the messages handed over since then (again at
least ``brake_minimum``) draw bounces or complaints past a threshold.

:func:`check_brake` is called after the inbox records a bounce or a
complaint, by senders between batches, and by scheduler ticks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from broadsheet.store import Store, Tx

if TYPE_CHECKING:
    from broadsheet.config import Settings

log = logging.getLogger(__name__)

__all__ = [
    "BASELINE",
    "CANCELLED",
    "PAUSED",
    "BrakeLimits",
    "brake_reason",
    "check_brake",
    "check_brake_in",
    "held_by",
    "pause_reason",
    "resume_baseline",
]

PAUSED = "paused"
"""``editions.hold`` of an edition the brake stopped (``send`` resumes it)."""
CANCELLED = "cancelled"
"""``editions.hold`` of an edition stopped for good (``send --cancel``)."""

BASELINE = "brake_baseline"
"""The key in ``extra`` of the counts at the last resume."""


@dataclass(frozen=True)
class BrakeLimits:
    """The thresholds of ``[inbound]``.

    Attributes:
        bounce_rate: share of hard bounces past which an edition pauses.
        complaint_rate: share of complaints past which an edition pauses.
        minimum: messages handed over before the brake may act.
    """

    bounce_rate: float = 0.05
    complaint_rate: float = 0.003
    minimum: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> BrakeLimits:
        """The limits of ``settings.inbound``."""
        inbound = settings.inbound
        return cls(
            bounce_rate=inbound.brake_bounce_rate,
            complaint_rate=inbound.brake_complaint_rate,
            minimum=inbound.brake_minimum,
        )


def _percent(share: float) -> str:
    return f"{share * 100:.2f}".rstrip("0").rstrip(".") + " %"


def brake_reason(
    limits: BrakeLimits,
    counts: tuple[int, int, int],
    baseline: Mapping[str, Any] | None = None,
) -> str | None:
    """Why an edition with these counts must pause, or ``None`` when it may go on.

    Args:
        limits: the thresholds.
        counts: ``(handed over, bounced, complaints)`` of the edition.
        baseline: the counts at the last resume (``handed``, ``bounced``,
            ``complaints``); only what came since counts.
    """
    handed, bounced, complaints = counts
    since = ""
    if baseline:
        handed -= int(baseline.get("handed", 0))
        bounced -= int(baseline.get("bounced", 0))
        complaints -= int(baseline.get("complaints", 0))
        since = " since it was resumed"
    if handed < max(limits.minimum, 1):
        return None
    complaint_rate = complaints / handed
    if complaint_rate > limits.complaint_rate:
        return (
            f"complaint rate {_percent(complaint_rate)} ({complaints} of {handed} messages"
            f"{since}) is over inbound.brake_complaint_rate {_percent(limits.complaint_rate)}"
        )
    bounce_rate = bounced / handed
    if bounce_rate > limits.bounce_rate:
        return (
            f"bounce rate {_percent(bounce_rate)} ({bounced} of {handed} messages"
            f"{since}) is over inbound.brake_bounce_rate {_percent(limits.bounce_rate)}"
        )
    return None


def held_by(tx: Tx, edition_id: str) -> str:
    """What holds an edition now: ``"paused: …"``, ``"cancelled: …"``, or ``""``."""
    hold, reason = tx.editions.hold(edition_id)
    return (f"{hold}: {reason}" if reason else hold) if hold else ""


def pause_reason(tx: Tx, limits: BrakeLimits, edition_id: str) -> str | None:
    """Why the brake would pause ``edition_id`` now; ``None`` when it is within its
    limits or already held. Only reads, so a sender can ask outside its write
    transactions."""
    if tx.editions.hold(edition_id)[0]:
        return None
    baseline = tx.editions.extra_value(edition_id, BASELINE)
    return brake_reason(
        limits,
        tx.ledger.brake_counts(edition_id),
        baseline if isinstance(baseline, Mapping) else None,
    )


def check_brake_in(tx: Tx, limits: BrakeLimits, edition_id: str, now: datetime) -> str | None:
    """:func:`check_brake` inside a write transaction the caller holds."""
    held = held_by(tx, edition_id)
    if held:
        return held
    why = pause_reason(tx, limits, edition_id)
    if why is None:
        return None
    stamp = now.isoformat(timespec="seconds")
    if not tx.editions.set_hold(edition_id, PAUSED, f"{why} ({stamp})", expect=""):
        return held_by(tx, edition_id) or None  # someone else changed the hold meanwhile
    log.warning(
        "%s paused: %s; `broadsheet send %s` resumes it, `--cancel` stops it",
        edition_id,
        why,
        edition_id,
    )
    return f"{PAUSED}: {why} ({stamp})"


def check_brake(store: Store, settings: Settings, edition_id: str, now: datetime) -> str | None:
    """Pause ``edition_id`` if its bounce or complaint rate is past its threshold.

    Call it after recording a hard bounce or a complaint that names the
    edition; senders and scheduler ticks call it too.

    Returns:
        ``None`` while the edition may be sent; otherwise what holds it,
        ``"paused: complaint rate 0.5 % (…)"`` or ``"cancelled: …"`` (also
        when it was held before this call).
    """
    limits = BrakeLimits.from_settings(settings)
    with store.write() as tx:
        return check_brake_in(tx, limits, edition_id, now)


def resume_baseline(tx: Tx, edition_id: str, now: datetime) -> dict[str, Any]:
    """The counts to keep at a resume, so the brake judges only what comes after."""
    handed, bounced, complaints = tx.ledger.brake_counts(edition_id)
    return {
        "handed": handed,
        "bounced": bounced,
        "complaints": complaints,
        "at": now.isoformat(timespec="seconds"),
    }
