"""What claimed readers gave, loaded for a whole batch in one query.

The donation block of each message depends on the reader's donations
(:mod:`broadsheet.emails.edition.appeals`); the sender loads them with the
batch it claims, inside the claim's transaction, so building a message
never reads the store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from broadsheet.model import Subscriber
from broadsheet.store import Tx
from broadsheet.store.ledger import Batch, Claimed


def readers(tx: Tx, people: Sequence[Subscriber]) -> list[Subscriber]:
    """``people`` with what each gave (``Subscriber.giving``)."""
    if not people:
        return list(people)
    found = tx.donations.giving({person.email for person in people})
    if not found:
        return list(people)
    return [
        dataclasses.replace(person, giving=found[person.email]) if person.email in found else person
        for person in people
    ]


def claimed(tx: Tx, batch: Batch) -> Batch:
    """``batch`` with what each claimed reader gave."""
    people = readers(tx, [item.subscriber for item in batch.items])
    items: list[Claimed] = [
        dataclasses.replace(item, subscriber=person)
        for item, person in zip(batch.items, people, strict=True)
    ]
    return dataclasses.replace(batch, items=items)
