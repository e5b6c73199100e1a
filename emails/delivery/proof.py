"""Test sends: an edition to a few given addresses, outside the ledger.

``broadsheet send EDITION --to ADDRESS`` lets an editor see the edition in
their own mail program before the subscribers get it. The messages are the
edition's own (``PreparedEdition``), personalised as one subscriber or as a
neutral reader, with the Subject marked as a test (the catalogs'
``subject.test``) and a Message-ID of their own, so a test never stands in
for the real message. Nothing is written to the store: a test send is never
counted as sent and never keeps anyone from the real send.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from broadsheet.config import Settings
from broadsheet.emails.delivery.transports import DeliveryStatus, Transport, make_transport
from broadsheet.errors import DeliveryError
from broadsheet.model import Frequency, Subscriber
from broadsheet.store import Store

__all__ = ["ProofReport", "send_test"]

NEUTRAL_ID = 0
"""The subscriber id of the neutral reader (store ids start at 1): links
signed for it unsubscribe nobody."""


@dataclass(frozen=True, slots=True)
class ProofReport:
    """What a test send did.

    Attributes:
        edition_id: the edition sent.
        subject: the Subject the messages carried.
        as_email: the subscriber the messages were personalised as, or
            ``None`` for the neutral reader.
        delivered: the addresses that got it, with the transport's reply.
        failed: the addresses that did not, with the reason.
    """

    edition_id: str
    subject: str
    as_email: str | None
    delivered: tuple[tuple[str, str], ...]
    failed: tuple[tuple[str, str], ...]


def marked_subject(settings: Settings, language: str, subject: str) -> str:
    """``subject`` marked as a test (``subject.test`` of the catalogs, in ``language``)."""
    template = (
        settings.words.built_in_word("subject.test", language)
        or settings.words.built_in_word("subject.test", "en")
        or "[Test] {subject}"
    )
    try:
        return template.format(subject=subject)
    except (KeyError, IndexError, ValueError):
        return f"[Test] {subject}"


def send_test(
    store: Store,
    settings: Settings,
    edition_id: str,
    *,
    to: Sequence[str],
    now: datetime,
    as_email: str | None = None,
    transport: str | Transport | None = None,
) -> ProofReport:
    """Send a stored edition to ``to`` only, as a test, leaving the ledger alone.

    Args:
        store: the publication's store (only read).
        settings: the publication's settings.
        edition_id: e.g. ``weekly-en-2026-11-23``.
        to: the addresses that get the test (one message each).
        now: the Date of the messages; also makes their Message-IDs unique.
        as_email: personalise as this subscriber (greeting, links); default:
            a neutral reader without a name, whose links unsubscribe nobody.
        transport: ``"maildir"`` or ``"smtp"`` (default ``delivery.transport``)
            or a transport object (closed at the end).

    Returns:
        The addresses delivered to and those that failed.

    Raises:
        DeliveryError: no such edition, no address, an ``as_email`` that is
            no subscriber, or a transport that cannot deliver.
    """
    from broadsheet.emails.edition.compose import PreparedEdition
    from broadsheet.emails.edition.returnpath import plain_sender

    addresses = [a.strip() for a in to if a.strip()]
    if not addresses:
        raise DeliveryError("a test send needs at least one address (--to ADDRESS)")
    with store.read() as tx:
        edition = tx.editions.get(edition_id)
        held = tx.subscribers.of_address(as_email.strip().lower()) if as_email else []
        # The subscription to this edition's newsletter, else the address's first.
        reader = next(
            (
                s
                for s in held
                if edition is not None
                and (s.language, str(s.frequency)) == (edition.language, edition.frequency)
            ),
            held[0] if held else None,
        )
        if reader is not None:
            # The reader's own donation block: what they gave chooses it.
            reader = dataclasses.replace(
                reader, giving=tx.donations.giving([reader.email]).get(reader.email)
            )
    if edition is None:
        raise DeliveryError(
            f"no edition {edition_id!r} in the store; build it first with "
            "`broadsheet edition build --language LANG --frequency daily|weekly`"
        )
    if as_email and reader is None:
        raise DeliveryError(f"--as {as_email}: no subscriber has this address")
    if reader is None:
        reader = Subscriber(
            id=NEUTRAL_ID,
            email=addresses[0],
            name="",
            language=edition.language,
            frequency=Frequency(edition.frequency),
        )
    subject = marked_subject(settings, edition.language, edition.subject)
    secret = store.link_secret(settings.secret(), env_name=settings.links.secret_env)
    stamp = int(now.timestamp())
    chosen = (
        make_transport(settings, transport)
        if transport is None or isinstance(transport, str)
        else transport
    )
    delivered: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    try:
        for number, address in enumerate(addresses, start=1):
            person = dataclasses.replace(reader, email=address)
            # An id of its own per address: the Message-ID (and Feedback-ID)
            # differ from the real message's and from each other.
            trial = dataclasses.replace(
                edition, id=f"{edition.id}.test{stamp}.{number}", subject=subject
            )
            prepared = PreparedEdition.from_record(trial, settings, secret=secret, now=now)
            try:
                message = prepared.message(person, as_reader=reader)
            except ValueError as exc:
                failed.append((address, str(exc)))
                continue
            # No ledger row stands behind a test: its bounces go to the plain
            # bounce address, never to one naming an edition and a subscriber.
            message = dataclasses.replace(message, sender=plain_sender(settings))
            result = chosen.deliver(message, recipient=address)
            if result.status in (DeliveryStatus.SENT, DeliveryStatus.ALREADY):
                delivered.append((address, result.reply))
            else:
                failed.append((address, result.reply))
    finally:
        chosen.close()
    return ProofReport(
        edition_id=edition.id,
        subject=subject,
        as_email=None if reader.id == NEUTRAL_ID else reader.email,
        delivered=tuple(delivered),
        failed=tuple(failed),
    )
