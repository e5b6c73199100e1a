"""Stopping an edition: ``send --cancel`` for good, and resuming one the brake paused.

An edition's hold (``editions.hold``) is ``""`` while it may be sent,
``paused`` when the brake stopped it (:mod:`broadsheet.emails.delivery.brake`)
and ``cancelled`` when someone stopped it for good:

- :func:`cancel_edition` marks it cancelled and turns its ``queued`` and
  ``deferred`` ledger rows into ``skipped`` ("edition cancelled"), so
  ``send --status`` still accounts for every reader. A sender working on it
  finishes the message in flight and stops within two seconds, sweeping the
  rows it gives back the same way. A campaign cancelled before its
  ``send_at`` is never sent: the scheduler leaves it out.
- :func:`hold_for_send` is what a send asks first: a cancelled edition is
  refused with a message saying so; a paused one is resumed when the send
  was asked for by hand (``broadsheet send EDITION``), and otherwise left
  alone (the scheduler never resumes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from broadsheet.emails.delivery.brake import BASELINE, CANCELLED, PAUSED, resume_baseline
from broadsheet.errors import DeliveryError
from broadsheet.model import SendState
from broadsheet.store import Store

log = logging.getLogger(__name__)

__all__ = ["CancelReport", "cancel_edition", "hold_for_send"]


@dataclass(frozen=True)
class CancelReport:
    """What :func:`cancel_edition` stopped.

    Attributes:
        edition_id: the edition.
        already: it was cancelled before (nothing changed).
        was_paused: the brake had paused it (and why).
        queued: queued rows that will not be sent now.
        deferred: deferred rows (waiting for a retry) that will not be sent now.
        sending: rows a sender held at the cancel; it stops at its next batch.
        sent: messages sent before the cancel.
        send_at: a campaign's scheduled time, when it was still to come.
        ledger: rows per state after the cancel.
    """

    edition_id: str
    already: bool = False
    was_paused: str = ""
    queued: int = 0
    deferred: int = 0
    sending: int = 0
    sent: int = 0
    send_at: datetime | None = None
    ledger: dict[str, int] = field(default_factory=dict)


def cancel_edition(store: Store, edition_id: str, *, now: datetime) -> CancelReport:
    """Stop ``edition_id`` for good: nothing more of it is sent, by anyone.

    Raises:
        DeliveryError: no such edition.
    """
    stamp = now.isoformat(timespec="seconds")
    with store.write() as tx:
        edition = tx.editions.get(edition_id)
        if edition is None:
            raise DeliveryError(f"no edition {edition_id!r} in the store")
        hold, reason = tx.editions.hold(edition_id)
        if hold == CANCELLED:
            counts = tx.ledger.counts(edition_id)
            return CancelReport(
                edition_id,
                already=True,
                sent=counts[SendState.SENT],
                ledger={str(s): n for s, n in counts.items()},
            )
        tx.editions.set_hold(edition_id, CANCELLED, f"cancelled by hand at {stamp}")
        changed = tx.ledger.cancel(edition_id, now=now, reason="edition cancelled")
        counts = tx.ledger.counts(edition_id)
    value = edition.extra.get("send_at")
    send_at = datetime.fromisoformat(value) if isinstance(value, str) and value else None
    log.warning("%s cancelled", edition_id)
    return CancelReport(
        edition_id,
        was_paused=reason if hold == PAUSED else "",
        queued=changed[SendState.QUEUED],
        deferred=changed[SendState.DEFERRED],
        sending=counts[SendState.SENDING],
        sent=counts[SendState.SENT],
        send_at=send_at if send_at is not None and send_at > now else None,
        ledger={str(s): n for s, n in counts.items()},
    )


def hold_for_send(
    store: Store, edition_id: str, *, now: datetime, resume: bool, refuse: bool = True
) -> tuple[str, str]:
    """What a send of ``edition_id`` may do about its hold.

    Args:
        resume: a paused edition is resumed (``broadsheet send`` by hand).
        refuse: a cancelled edition raises; otherwise it is returned as held.

    Returns:
        ``(held, resumed)``: what still holds the edition (``""``: it may
        be sent), and why it had been paused when this call resumed it.

    Raises:
        DeliveryError: the edition was cancelled (with ``refuse``).
    """
    with store.write() as tx:
        hold, reason = tx.editions.hold(edition_id)
        if not hold:
            return "", ""
        if hold == CANCELLED:
            if refuse:
                raise DeliveryError(
                    f"{edition_id} was cancelled ({reason}) and is never sent; "
                    "build a new edition or campaign to send it again"
                )
            return f"{hold}: {reason}", ""
        if hold != PAUSED or not resume:
            return f"{hold}: {reason}", ""
        tx.editions.set_hold(edition_id, "", "", expect=PAUSED)
        tx.editions.set_extra(edition_id, BASELINE, resume_baseline(tx, edition_id, now))
    log.warning("%s resumed (it was paused: %s)", edition_id, reason)
    return "", reason
