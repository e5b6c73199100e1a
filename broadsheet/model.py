"""The domain model: plain, frozen values that every package shares.

The store reads and writes these; feeds, emails and the scheduler take them
as input. Nothing here knows about SQL, XML or HTML templates. Every
``datetime`` is timezone-aware and in UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime


class Frequency(enum.StrEnum):
    """How often a subscriber receives editions."""

    DAILY = "daily"
    WEEKLY = "weekly"


class SubscriberStatus(enum.StrEnum):
    """Where a subscriber stands.

    ``pending`` waits for the double opt-in confirmation; ``unsubscribed`` and
    ``bounced`` are final for mailing: no import or edition reactivates them.
    Only the subscriber (a confirmed preferences change or a new confirmed
    subscription) may bring an unsubscribed address back. ``suspended``
    follows repeated soft bounces (a full mailbox, say): nothing is sent to
    it until its owner confirms again.
    """

    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    SUSPENDED = "suspended"


class SendState(enum.StrEnum):
    """State of one edition for one subscriber in the send ledger."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    """A temporary failure (4xx): retried by later scheduler ticks until ``retry_for``."""


@dataclass(frozen=True, slots=True)
class Article:
    """One published (or draft) article in one language.

    Attributes:
        id: stable identity, unique across languages (``moscow-wary-of-belgrade``).
        guid: the feed entry id; chosen at first import and never changed,
            not even when ``url`` changes.
        language: a code from ``site.languages``.
        title: plain text, no markup.
        standfirst: plain text summary shown under the title; may be empty.
        body_html: sanitised HTML with absolute URLs.
        authors: names in byline order; may be empty.
        section: the section name, or ``None``.
        tags: tag names in the author's order.
        translations: language code -> id of the translated article.
        published: first publication time (UTC).
        updated: last substantive update (UTC), or ``None``.
        url: absolute URL of the article page.
        image: absolute URL of the lead image, or ``None``.
        image_alt: text alternative for the lead image ("" when unknown).
        draft: drafts are stored but never published.
        content_hash: digest of everything above but ``guid``; changes when
            the article does.
        source: where the article was imported from (a path or URL).
    """

    id: str
    guid: str
    language: str
    title: str
    standfirst: str
    body_html: str
    authors: tuple[str, ...]
    section: str | None
    tags: tuple[str, ...]
    translations: Mapping[str, str]
    published: datetime
    updated: datetime | None
    url: str
    image: str | None
    image_alt: str = ""
    draft: bool = False
    content_hash: str = ""
    source: str = ""

    @property
    def modified(self) -> datetime:
        """The later of ``published`` and ``updated``."""
        return self.updated if self.updated and self.updated > self.published else self.published

    def is_live(self, now: datetime) -> bool:
        """Whether readers may see the article at ``now``: not a draft, not future-dated."""
        return not self.draft and self.published <= now


@dataclass(frozen=True, slots=True)
class DailyViews:
    """Page views of one article on one day."""

    article_id: str
    day: date
    views: int


@dataclass(frozen=True, slots=True)
class SubscriberDetails:
    """What a subscriber asked for, checked and normalised, before it is stored.

    Attributes:
        email: normalised address (IDNA domain, lower case).
        name: display name, may be empty.
        language: edition language.
        frequency: daily or weekly.
        topics: sections of interest; empty means everything.
    """

    email: str
    name: str
    language: str
    frequency: Frequency
    topics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One newsletter subscriber.

    Attributes:
        id: the store's key; bound into signed links.
        email: normalised address (IDNA domain, lower case).
        name: display name, may be empty.
        language: edition language.
        frequency: daily or weekly.
        topics: sections of interest; empty means everything.
        status: see :class:`SubscriberStatus`.
        unsubscribed: when the subscriber last unsubscribed.
        timezone: the reader's IANA zone name, or ``None`` for the site's.

    One address may hold several subscriptions (one per language and
    frequency); each is one ``Subscriber`` with its own id and status.
    """

    id: int
    email: str
    name: str
    language: str
    frequency: Frequency
    topics: tuple[str, ...] = ()
    status: SubscriberStatus = SubscriberStatus.ACTIVE
    created: datetime | None = None
    confirmed: datetime | None = None
    unsubscribed: datetime | None = None
    timezone: str | None = None
    giving: Giving | None = None
    """What the reader gave (``broadsheet donors import``), loaded only to send:
    it chooses the donation block of their message and is never shown."""


@dataclass(frozen=True, slots=True)
class Giving:
    """A reader's donations as a message needs them: when, not how much.

    Attributes:
        last: the latest donation (UTC).
        last_recurring: the latest payment of a recurring donation, if any.
    """

    last: datetime
    last_recurring: datetime | None = None


@dataclass(frozen=True, slots=True)
class Donation:
    """One donation as imported (``broadsheet donors import``).

    Attributes:
        email: the donor's normalised address.
        given: when (UTC).
        amount_minor: the amount in the currency's minor unit (cents).
        currency: ISO 4217 code, upper case.
        recurring: a payment of a monthly (or other repeating) donation.
        row_key: a digest of the processor's transaction id, or of the row.
    """

    email: str
    given: datetime
    amount_minor: int
    currency: str
    recurring: bool
    row_key: str


@dataclass(frozen=True, slots=True)
class EditionRecord:
    """An edition as stored: what was selected, and its rendered parts.

    Attributes:
        id: e.g. ``weekly-en-2026-11-23``.
        language: edition language.
        frequency: daily or weekly.
        slot: the scheduled time the edition belongs to (UTC).
        since: cutoff start: articles published after this are new.
        until: cutoff end (the edition's ``now``).
        new_ids: ids of the new articles, lead story first.
        top_ids: ids of the top reads.
        subject: the subject line, already rendered.
        html: the inlined HTML with personal placeholders left in.
        text: the plain-text twin with personal placeholders left in.
        sections: sections of the articles in the edition (for topic filters).
        path: folder the edition's files were written to.
    """

    id: str
    language: str
    frequency: Frequency
    slot: datetime
    since: datetime
    until: datetime
    new_ids: tuple[str, ...]
    top_ids: tuple[str, ...]
    subject: str
    html: str
    text: str
    sections: tuple[str, ...] = ()
    path: str = ""
    built: datetime | None = None
    extra: Mapping[str, object] = field(default_factory=dict)


class EventKind(enum.StrEnum):
    """What happened to an address, as ``subscriber_events`` records it."""

    REQUESTED = "requested"
    """Asked to subscribe (the form); consent waits for confirmation."""
    CONFIRMED = "confirmed"
    """Confirmed a request: consent given (double opt-in)."""
    IMPORTED = "imported"
    """Added by a subscribers CSV import: the publisher vouches for consent."""
    ADDED = "added"
    """Added by ``broadsheet subscribers add``: the publisher vouches for consent."""
    PREFERENCES = "preferences"
    """Changed language, frequency, topics or time zone."""
    UNSUBSCRIBED = "unsubscribed"
    """Left a newsletter (one-click, preferences, mailto, command)."""
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    SUSPENDED = "suspended"
    """Too many soft bounces in the window."""
    COMPLAINT = "complaint"
    """Reported a message as spam (a feedback-loop report)."""
    SUPPRESSED = "suppressed"
    UNSUPPRESSED = "unsuppressed"
    PURGED = "purged"
    """Never confirmed, erased after ``purge_unconfirmed_days``."""


@dataclass(frozen=True, slots=True)
class SubscriberEvent:
    """One line of an address's history.

    Attributes:
        email: the address.
        kind: what happened.
        time: when (UTC).
        source: how it came: ``form``, ``import``, ``command``, ``one-click``,
            ``preferences``, ``mailto``, ``inbox``, ``scheduler``.
        subscriber_id: the subscription concerned, if one.
        edition_id: the edition concerned (a bounce, a complaint), if one.
        message_id: the Message-ID of the mail that reported it (inbox).
        detail: anything else worth keeping (a DSN status, the wording
            version, a truncated client network); never a full IP address.
    """

    email: str
    kind: EventKind
    time: datetime
    source: str
    subscriber_id: int | None = None
    edition_id: str | None = None
    message_id: str = ""
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EditionLink:
    """One link an edition's messages carry through a counted redirect (``/r/TOKEN``).

    It names the edition's link, never a reader: every reader of the edition
    gets the same counted URL, so a click says which link was followed, not who
    followed it.

    Attributes:
        key: the link's key in its edition (a digest of block, variant and URL).
        url: where the redirect leads: the real URL, UTM parameters included.
        block: the part of the message it sits in (``lead``, ``new``,
            ``top_reads``, ``donation``, ``footer``…).
        variant: the appeal variant of a donation block, ``""`` for none.
        clicks: how often it was followed (0 when it is recorded).
    """

    key: str
    url: str
    block: str
    variant: str = ""
    clicks: int = 0
