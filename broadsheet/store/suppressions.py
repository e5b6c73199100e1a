"""Suppressed addresses and domains; forgotten addresses as keyed hashes.

A suppression pattern is a whole address (``reader@mail.example``) or a
whole domain (``@mail.example``), both in the normalised form subscriber
addresses are stored in (IDNA domain, lower case). A domain pattern matches
that domain exactly, not its subdomains (``@mail.example`` does not cover
``reader@eu.mail.example``): mail domains are run separately. Nothing is
subscribed, imported or sent to an address a pattern covers.

An address erased by ``subscribers forget`` is kept only as a *digest*:
HMAC-SHA256 of the address under a key derived from the publication's
secret for this one purpose (:func:`forget_key`). A plain hash would be
reversed by hashing guesses (every address of a leaked list); without the
secret a digest says nothing, yet with it a later import or form request
for the same address is recognised and refused.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, delete, exists, func, or_, select

from broadsheet.store.schema import forgotten as forgotten_table
from broadsheet.store.schema import suppressions as table

_CHUNK = 500
"""Values per ``IN`` list: well under every backend's parameter limit."""


def domain_pattern(email: str) -> str:
    """The domain pattern (``@mail.example``) an address falls under."""
    return "@" + email.rpartition("@")[2]


def forget_key(secret: str) -> bytes:
    """The key forgotten addresses are hashed with, derived from the publication's secret.

    Derived for this purpose alone, so a digest never doubles as a link
    signature or the other way round.
    """
    if not secret:
        raise ValueError("empty secret")  # a bug in the caller
    return hmac.new(secret.encode("utf-8"), b"broadsheet forget", hashlib.sha256).digest()


def forget_digest(key: bytes, email: str) -> str:
    """The digest a forgotten (normalised) address is kept as: 64 hex digits."""
    return hmac.new(key, email.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Suppression:
    """One entry of the suppression list."""

    pattern: str
    reason: str
    source: str
    added: datetime


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def suppressed(email: ColumnElement[str], dialect: str) -> ColumnElement[bool]:
    """SQL that is true when the address in ``email`` (a column) is suppressed.

    Two lookups of the suppressions' primary key per address, the address's
    own and its domain's, so an anti-join of any number of subscribers with
    any number of suppressions costs one index probe pair per subscriber.

    Args:
        email: a column (or expression) holding a normalised address.
        dialect: ``sqlite`` or ``postgresql`` (their string functions differ).
    """
    position = func.strpos(email, "@") if dialect == "postgresql" else func.instr(email, "@")
    domain = func.substr(email, position)
    return or_(
        exists().where(table.c.pattern == email),
        exists().where(table.c.pattern == domain),
    )


class Suppressions:
    """Repository of the suppression list and the forgotten digests, bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- the list ---------------------------------------------------------------

    def add(self, pattern: str, reason: str, source: str, now: datetime) -> bool:
        """Suppress an address or a domain; whether it was new.

        A pattern already listed keeps its first reason and time.

        Args:
            pattern: a normalised address or ``@domain``.
            reason: why (``complaint``, ``manual``, ``import``, ``bounce``…).
            source: where from (a file name, ``command``, ``inbox``…).
            now: when.
        """
        present = self.conn.execute(
            select(table.c.pattern).where(table.c.pattern == pattern)
        ).first()
        if present is not None:
            return False
        self.conn.execute(
            table.insert().values(pattern=pattern, reason=reason, source=source, added=now)
        )
        return True

    def remove(self, pattern: str) -> bool:
        """Take a pattern off the list; whether it was there."""
        return self.conn.execute(delete(table).where(table.c.pattern == pattern)).rowcount > 0

    def get(self, pattern: str) -> Suppression | None:
        """The entry of one pattern."""
        row = self.conn.execute(select(table).where(table.c.pattern == pattern)).first()
        return Suppression(row.pattern, row.reason, row.source, row.added) if row else None

    def listing(self) -> list[Suppression]:
        """Every entry: domains first, then addresses, each alphabetically."""
        rows = self.conn.execute(select(table))
        found = [Suppression(row.pattern, row.reason, row.source, row.added) for row in rows]
        return sorted(found, key=lambda s: (not s.pattern.startswith("@"), s.pattern))

    def present(self, patterns: Collection[str]) -> set[str]:
        """Which of these patterns are listed."""
        found: set[str] = set()
        for chunk in _chunks(sorted(set(patterns))):
            found.update(
                self.conn.execute(select(table.c.pattern).where(table.c.pattern.in_(chunk)))
                .scalars()
                .all()
            )
        return found

    def matches(self, email: str) -> str | None:
        """The pattern that suppresses ``email`` (the address's own first), or ``None``."""
        return self.covering([email]).get(email)

    def covering(self, emails: Collection[str]) -> dict[str, str]:
        """The suppressed ones among ``emails``, each with the pattern covering it.

        An address listed itself is reported under its own pattern, else
        under its domain's.
        """
        wanted = set(emails) | {domain_pattern(email) for email in emails}
        found = self.present(wanted)
        result: dict[str, str] = {}
        for email in emails:
            for pattern in (email, domain_pattern(email)):
                if pattern in found:
                    result[email] = pattern
                    break
        return result

    def count(self) -> int:
        """How many entries the list has."""
        return int(self.conn.execute(select(func.count()).select_from(table)).scalar_one())

    # --- forgotten addresses ----------------------------------------------------

    def any_forgotten(self) -> bool:
        """Whether any address was ever forgotten (no key is needed when none was)."""
        return self.conn.execute(select(forgotten_table.c.digest).limit(1)).first() is not None

    def forgotten_among(self, digests: Collection[str]) -> set[str]:
        """Which of these digests belong to forgotten addresses."""
        found: set[str] = set()
        column = forgotten_table.c.digest
        for chunk in _chunks(sorted(set(digests))):
            found.update(self.conn.execute(select(column).where(column.in_(chunk))).scalars())
        return found

    def remember_forgotten(self, digest: str, *, now: datetime) -> bool:
        """Keep the digest of an address just erased; whether it is new."""
        column = forgotten_table.c.digest
        if self.conn.execute(select(column).where(column == digest)).first() is not None:
            return False
        self.conn.execute(forgotten_table.insert().values(digest=digest, forgotten=now))
        return True

    def unforget(self, digest: str) -> bool:
        """Drop a forgotten digest, so the address may be added again; whether it was there."""
        return (
            self.conn.execute(
                delete(forgotten_table).where(forgotten_table.c.digest == digest)
            ).rowcount
            > 0
        )

    def forgotten_count(self) -> int:
        """How many addresses were forgotten."""
        query = select(func.count()).select_from(forgotten_table)
        return int(self.conn.execute(query).scalar_one())
