"""Subscribing, confirming, unsubscribing and preferences, apart from HTTP.

Every personal action is authorised by a signed token (see
:mod:`broadsheet.emails.edition.tokens`) bound to one subscriber and one purpose; a bad token
raises :class:`~broadsheet.emails.edition.tokens.BadToken` before anything is read or changed.
Double opt-in: a request to subscribe records a *pending* subscriber and
mails a confirmation link; only that link makes the address active.

Several newsletters per address: a subscription is an address and one
newsletter (language × frequency). One request may ask for any combination;
it records one pending subscription per newsletter and mails one
confirmation, whose token names the first of them; confirming activates
every subscription of the address that waits for it (pending, or
unsubscribed earlier and asked for again after that). The preferences page
(reached with a token for any one subscription) shows and changes every
subscription of its address: newsletters added or left, one set of topics
shared by all of them, and the time zone. A one-click unsubscribe leaves
only the subscription its token names.

Consent and changes are recorded in the address's history
(:class:`~broadsheet.model.SubscriberEvent`): ``requested`` with the
wording version and the client's network (never its full address),
``confirmed``, ``preferences`` and ``unsubscribed`` with their source.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import quopri
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import format_datetime, make_msgid

from broadsheet.config import Settings
from broadsheet.content.subscribers import (
    FieldProblem,
    SectionNames,
    check_subscriber,
    check_timezone,
)
from broadsheet.content.suppressions import Screen
from broadsheet.emails.delivery.protocol import DeliveryStatus
from broadsheet.emails.delivery.transports import Transport, make_transport
from broadsheet.emails.edition import headers, labels, links, render, tokens
from broadsheet.emails.edition.compose import OutgoingMessage, one_off_message
from broadsheet.emails.subscriptions import pagetext
from broadsheet.emails.subscriptions.welcome import welcome_message
from broadsheet.errors import BroadsheetError, DeliveryError
from broadsheet.model import (
    EventKind,
    Frequency,
    Subscriber,
    SubscriberDetails,
    SubscriberEvent,
    SubscriberStatus,
)
from broadsheet.store import Store, Tx

log = logging.getLogger(__name__)

__all__ = ["Outcome", "Subscriptions", "confirmation_message", "wording_version"]

Newsletter = tuple[str, str]
"""A newsletter as a reader picks it: ``(language, frequency)``."""


def wording_version(settings: Settings, language: str) -> str:
    """A short digest of the consent wording a reader of ``language`` saw.

    The subscribe page's introduction and the confirmation message's subject
    and text, as the publication words them: recorded with each request, so
    the history shows which wording a reader agreed to.
    """
    words = pagetext.words(settings.words, language)
    parts = [language] + [
        words[key] for key in ("subscribe_intro", "confirm_subject", "confirm_body", "privacy")
    ]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:12]


def unstored(row: SubscriberDetails) -> Subscriber:
    """A subscription that is not stored (id 0): what a refused request is answered with."""
    return Subscriber(
        id=0,
        email=row.email,
        name=row.name,
        language=row.language,
        frequency=row.frequency,
        topics=row.topics,
        status=SubscriberStatus.PENDING,
    )


def _network(client: str) -> str:
    """The client's network for the history: /24 of IPv4, /48 of IPv6; never the address."""
    from broadsheet.emails.subscriptions.ratelimit import client_key

    if not client:
        return ""
    network = client_key(client, ipv6_prefix=48, ipv4_prefix=24)
    return network if "/" in network else ""


@dataclass(frozen=True)
class Outcome:
    """What an action did.

    Attributes:
        subscriber: the subscriber, as stored afterwards.
        result: a word for what happened (``"confirmed"``, ``"already"``,
            ``"stale"``, ``"unsubscribed"``, ``"saved"``, ``"resumed"``, ``"pending"``).
    """

    subscriber: Subscriber
    result: str


def confirmation_message(
    settings: Settings,
    subscriber: Subscriber,
    *,
    secret: str,
    now: datetime,
    newsletters: Sequence[Subscriber] = (),
) -> OutgoingMessage:
    """The double opt-in message for a pending subscriber (or, for an active one,
    a note with the preferences link: a new request never changes them silently).

    Anyone can ask for a confirmation to any address, typing any name, so the
    name is not written into it at all: the greeting is neutral and ``To:``
    holds the bare address. A stranger's words (``WIN $1000 NOW at …``) never
    reach someone else's inbox; the name is used only once the address's
    owner has confirmed. Headers are built as editions' are
    (:func:`broadsheet.emails.edition.headers.address` and friends).
    ``newsletters`` are the subscriptions the link confirms, listed by name
    in the message when there are several.
    """
    language = subscriber.language
    already = subscriber.status is SubscriberStatus.ACTIVE
    title = settings.site.title_in(language)
    hours = settings.links.confirm_max_age_hours
    if already:
        url = links.preferences_url(settings, tokens.sign(secret, "preferences", subscriber.id))
    else:
        url = links.confirm_url(settings, tokens.sign(secret, "confirm", subscriber.id))
    words = settings.words
    text = pagetext.words(words, language)
    subject = pagetext.word(
        words, language, "already_subject" if already else "confirm_subject", title=title
    )
    context = {
        "lang": language,
        "dir": labels.text_direction(language),
        "t": text,
        "title": title,
        "subject": subject,
        "greeting": text["confirm_greeting"],
        "body": pagetext.word(
            words, language, "already_text" if already else "confirm_body", title=title, hours=hours
        ),
        "already": already,
        "newsletters": [
            pagetext.newsletter_name(words, language, s.language, str(s.frequency))
            for s in newsletters
        ]
        if len(newsletters) > 1 and not already
        else [],
        "url": url,
        "site_url": settings.site.url,
        "postal_address": settings.postal_address(language),
        "accent": settings.site.accent_color,
        **words.gettext_callables(language),
    }
    message_id = make_msgid("confirm", domain=settings.site.domain)
    head = [
        headers.address("From", settings.sender_name(language), settings.sender.email),
        headers.address("To", "", subscriber.email),
        headers.unstructured("Subject", subject),
        headers.fold("Date", [format_datetime(now)]),
        f"Message-ID: {message_id}\r\n",
    ]
    return one_off_message(
        settings,
        head,
        text=render.render("emails/confirm.txt.j2", context),
        html=render.render("emails/confirm.html.j2", context),
        message_id=message_id,
        recipient=subscriber.email,
    )


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")


def _hidden_breaks(name: str) -> bool:
    """Whether ``name`` holds an RFC 2047 encoded-word that decodes to a control or line break.

    No message writes a name as it was typed (headers encode it afresh), but
    a name built to turn into ``CRLF Bcc: …`` in a careless decoder is an
    attack, not a name: it is refused rather than stored.
    """
    for charset, kind, text in _ENCODED_WORD.findall(name):
        try:
            if kind in "qQ":
                data = quopri.decodestring(text.replace("_", " ").encode("ascii"), header=True)
            else:
                data = base64.b64decode(text + "=" * (-len(text) % 4))
        except (ValueError, binascii.Error):
            continue  # not decodable: no reader shows it as anything but text
        try:
            decoded = data.decode(charset.split("*")[0], errors="replace")
        except LookupError:
            decoded = data.decode("latin-1")
        if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in decoded):
            return True
    return False


def _confirms(current: Subscriber, token: str) -> bool:
    """Whether a confirm ``token`` activates ``current`` (pending, or unsubscribed before it)."""
    return current.status is SubscriberStatus.PENDING or (
        current.status is SubscriberStatus.UNSUBSCRIBED
        and current.unsubscribed is not None
        and tokens.signed_at(token) > current.unsubscribed.timestamp()
    )


def _to_confirm(tx: Tx, person: Subscriber, token: str) -> list[Subscriber]:
    """The subscriptions of ``person``'s address a confirm ``token`` activates.

    The subscription the token names, when :func:`_confirms` says so, and
    every other subscription of the address that is pending, or that
    unsubscribed before the token was signed and was asked for again
    (a ``requested`` event) after its unsubscription: one confirmation
    answers one request, whatever newsletters it named.
    """
    signed = tokens.signed_at(token)
    asked_again: dict[int, float] = {}
    for event in tx.events.history(person.email):
        if event.kind is EventKind.REQUESTED and event.subscriber_id is not None:
            asked_again[event.subscriber_id] = event.time.timestamp()
    chosen = []
    for held in tx.subscribers.of_address(person.email):
        if held.id == person.id:
            if _confirms(held, token):
                chosen.append(held)
        elif held.status is SubscriberStatus.PENDING or (
            held.status is SubscriberStatus.UNSUBSCRIBED
            and held.unsubscribed is not None
            and held.unsubscribed.timestamp() < min(asked_again.get(held.id, 0.0), signed)
        ):
            chosen.append(held)
    return chosen


class Subscriptions:
    """The subscription actions of one publication.

    Args:
        store: the publication's store.
        settings: its settings.
        secret: the link-signing secret.
        clock: the current time (aware, UTC).
        transport: opens the transport confirmation messages go through
            (default: ``delivery.transport``); it is closed after each message.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        secret: str,
        clock: Callable[[], datetime],
        transport: Callable[[], Transport] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.secret = secret
        self.clock = clock
        self._transport = transport or (lambda: make_transport(settings))
        # SQLite lets one writer in at a time and makes the others sleep and
        # poll; queueing this process's writers on a lock is far quicker.
        self._lock = threading.Lock() if store.dialect == "sqlite" else None

    @contextmanager
    def _write(self) -> Iterator[Tx]:
        if self._lock is None:
            with self.store.write() as tx:
                yield tx
            return
        with self._lock, self.store.write() as tx:
            yield tx

    # --- tokens -------------------------------------------------------------

    def _max_age(self, purpose: str) -> int:
        if purpose == "confirm":
            return self.settings.links.confirm_max_age_hours * 3600
        return self.settings.links.unsubscribe_max_age_days * 86400

    def subscriber(self, token: str, purpose: str) -> Subscriber:
        """The subscriber a token is for.

        Raises:
            BadToken: forged, altered, expired, for another purpose, or for a
                subscriber no longer stored.
        """
        subscriber_id = tokens.verify(self.secret, token, purpose, self._max_age(purpose))
        with self.store.read() as tx:
            found = tx.subscribers.get(subscriber_id)
        if found is None:
            raise tokens.BadToken(f"this {purpose} link is for a subscriber no longer stored")
        return found

    def sign(self, purpose: str, subscriber: Subscriber) -> str:
        """A fresh token for ``subscriber``."""
        return tokens.sign(self.secret, purpose, subscriber.id)

    # --- actions ------------------------------------------------------------

    def request(
        self,
        *,
        email: str,
        name: str = "",
        language: str = "",
        frequency: str = "",
        topics: Sequence[str] | str = (),
        newsletters: Sequence[Newsletter] = (),
        timezone: str = "",
        client: str = "",
    ) -> Outcome:
        """Record a request to subscribe and mail the confirmation link.

        ``newsletters`` lists the ``(language, frequency)`` pairs asked for;
        without it, the one ``language`` and ``frequency`` name. One message
        answers the whole request.

        An address already active stays as it is and is mailed a link to its
        preferences instead, so the answer never tells a stranger whether an
        address is subscribed. An unsubscribed address also stays as it is
        until its owner follows the confirmation link (which brings back its
        earlier preferences); a bounced one is never mailed again, and the
        request is answered as any other.

        Raises:
            FieldProblem: a field fails its check (nothing is stored), or the
                mail server refused the address for good.
            DeliveryError: the confirmation could not be sent now.
        """
        if any(unicodedata.category(c) in ("Zl", "Zp") for c in name):
            raise FieldProblem("name", "cannot hold a line break")
        if _hidden_breaks(name):
            raise FieldProblem(
                "name", "holds a MIME encoded-word (=?…?=) that decodes to a line break"
            )
        sections = SectionNames.of(self.store, self.settings)
        asked = list(dict.fromkeys(newsletters)) or [(language, frequency)]
        rows = [
            check_subscriber(
                self.settings,
                email=email,
                name=name,
                language=lang,
                frequency=freq,
                topics=topics,
                sections=sections,
            )
            for lang, freq in asked
        ]
        zone = check_timezone(timezone)
        rows = list({(r.language, r.frequency): r for r in rows}.values())
        now = self.clock()
        wording = wording_version(self.settings, rows[0].language)
        network = _network(client)
        with self._write() as tx:
            if Screen.with_secret(self.secret).refusals(tx, [rows[0].email]):
                # Suppressed, or its owner asked to be forgotten: nothing is
                # stored or mailed, and the answer is the same as any other's
                # (the log names no address: a forgotten one stays forgotten).
                log.info("no confirmation: the address is suppressed or was forgotten")
                return Outcome(unstored(rows[0]), "pending")
            # Bounces apply to the address: no newsletter is added to it and
            # nothing is mailed (the answer is the same as any other's).
            bounced = next(
                (
                    s
                    for s in tx.subscribers.of_address(rows[0].email)
                    if s.status is SubscriberStatus.BOUNCED
                ),
                None,
            )
            if bounced is not None:
                log.info("no confirmation to %s: the address bounced earlier", bounced.email)
                return Outcome(bounced, "pending")
            held = []
            for row in rows:
                person = tx.subscribers.add_pending(row, source="web", now=now, timezone=zone)
                held.append(person)
                if person.status in (SubscriberStatus.ACTIVE, SubscriberStatus.BOUNCED):
                    continue
                tx.events.record(
                    SubscriberEvent(
                        email=person.email,
                        kind=EventKind.REQUESTED,
                        time=now,
                        source="form",
                        subscriber_id=person.id,
                        detail={
                            "newsletter": f"{person.language} {person.frequency}",
                            "wording": wording,
                            "network": network,
                        },
                    )
                )
        waiting = [p for p in held if p.status not in (SubscriberStatus.ACTIVE,)]
        live = [p for p in held if p.status is not SubscriberStatus.BOUNCED]
        if not live:
            log.info("no confirmation to %s: the address bounced earlier", held[0].email)
            return Outcome(held[0], "pending")
        unconfirmed = [p for p in waiting if p.status is not SubscriberStatus.BOUNCED]
        person = unconfirmed[0] if unconfirmed else live[0]
        addressed = person
        if person.status is SubscriberStatus.UNSUBSCRIBED:
            # Written to the requester as asked; stored only once confirmed.
            addressed = replace(person, name=rows[0].name)
        message = confirmation_message(
            self.settings, addressed, secret=self.secret, now=now, newsletters=unconfirmed
        )
        transport = self._transport()
        try:
            result = transport.deliver(message, recipient=person.email)
        finally:
            transport.close()
        if result.status is DeliveryStatus.BOUNCED:
            log.info("confirmation to %s refused: %s", person.email, result.reply)
            raise FieldProblem("email", f"the mail server refused this address ({result.reply})")
        if result.status is DeliveryStatus.FAILED:
            raise DeliveryError(f"the confirmation to {person.email} failed: {result.reply}")
        log.info("confirmation sent to %s", person.email)
        return Outcome(person, "already" if person.status is SubscriberStatus.ACTIVE else "pending")

    def waiting(self, token: str) -> list[Subscriber]:
        """The subscriptions a confirm ``token`` would activate (see :meth:`confirm`).

        Raises:
            BadToken: see :meth:`subscriber`.
        """
        person = self.subscriber(token, "confirm")
        with self.store.read() as tx:
            return _to_confirm(tx, person, token)

    def confirmable(self, token: str) -> Outcome:
        """What confirming would do, changing nothing: for the page a confirm link opens.

        The result is ``"pending"`` (the button would confirm), ``"already"``
        or ``"stale"`` (see :meth:`confirm`). Link scanners and previews fetch
        every link in a message, so only :meth:`confirm`, behind a POST,
        may activate an address.

        Raises:
            BadToken: see :meth:`subscriber`.
        """
        person = self.subscriber(token, "confirm")
        if _confirms(person, token):
            return Outcome(person, "pending")
        if person.status is SubscriberStatus.ACTIVE:
            return Outcome(person, "already")
        return Outcome(person, "stale")

    def confirm(self, token: str) -> Outcome:
        """Activate the subscriptions a confirm token's address waits to have confirmed.

        The token names one subscription; every subscription of its address
        that waits for a confirmation is activated with it (see
        :func:`_to_confirm`). An address that unsubscribed after the link was
        sent stays so, as does a bounced one; a link sent after the
        unsubscription (the answer to a new request) brings the address
        back. An address this call confirms is sent its welcome message
        (:mod:`.welcome`), once.
        """
        person = self.subscriber(token, "confirm")
        now = self.clock()
        with self._write() as tx:
            current = tx.subscribers.get(person.id) or person
            chosen = _to_confirm(tx, current, token)
            for waiting in chosen:
                tx.subscribers.set_status(
                    waiting.id, SubscriberStatus.ACTIVE, now=now, reason="confirmed"
                )
                tx.events.record(
                    SubscriberEvent(
                        email=waiting.email,
                        kind=EventKind.CONFIRMED,
                        time=now,
                        source="form",
                        subscriber_id=waiting.id,
                        detail={"newsletter": f"{waiting.language} {waiting.frequency}"},
                    )
                )
            if chosen:
                result = "confirmed"
            elif current.status is SubscriberStatus.ACTIVE:
                result = "already"
            else:
                result = "stale"
            after = tx.subscribers.get(person.id) or current
            if after.status is not SubscriberStatus.ACTIVE and chosen:
                after = tx.subscribers.get(chosen[0].id) or after
        if result == "confirmed":
            self._welcome(after)
        return Outcome(after, result)

    def _welcome(self, person: Subscriber) -> None:
        """Send ``person`` the welcome message, once: see :mod:`.welcome`.

        An address already welcomed for another newsletter gets none. The
        welcome is claimed (``subscribers.welcomed``) before it is sent,
        in one statement that also requires the address to be active, so two
        confirmations at once send one message and an address unsubscribed
        meanwhile gets none. A failure is logged and the claim given back:
        the confirmation stands either way.
        """
        with self._write() as tx:
            # One welcome per address: a newsletter added later is not welcomed again.
            others = [s for s in tx.subscribers.of_address(person.email) if s.id != person.id]
            if any(tx.subscribers.welcomed(s.id) is not None for s in others):
                return
            if not tx.subscribers.claim_welcome(person.id, now=self.clock()):
                return
        try:
            message = welcome_message(self.settings, person, secret=self.secret, now=self.clock())
            transport = self._transport()
            try:
                result = transport.deliver(message, recipient=person.email)
            finally:
                transport.close()
            ok = (DeliveryStatus.SENT, DeliveryStatus.ALREADY)
            failure = None if result.status in ok else result.reply
        except (BroadsheetError, OSError) as exc:
            failure = str(exc)
        if failure is None:
            log.info("welcome sent to %s", person.email)
            return
        log.warning("welcome to %s not sent: %s", person.email, failure)
        with self._write() as tx:
            tx.subscribers.unclaim_welcome(person.id)

    def unsubscribe(self, token: str, *, reason: str = "one-click") -> Outcome:
        """Unsubscribe the one subscription an unsubscribe token is for (again is fine).

        The address's other newsletters are left as they are. ``reason`` is
        the source recorded in the history (``one-click``, ``link``, ``preferences``).
        """
        subscriber_id = tokens.verify(
            self.secret, token, "unsubscribe", self._max_age("unsubscribe")
        )
        # One transaction: one-click requests come in bursts.
        with self._write() as tx:
            current = tx.subscribers.get(subscriber_id)
            if current is None:
                raise tokens.BadToken("this unsubscribe link is for a subscriber no longer stored")
            if current.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
                now = self.clock()
                tx.subscribers.set_status(
                    subscriber_id, SubscriberStatus.UNSUBSCRIBED, now=now, reason=reason
                )
                tx.events.record(
                    SubscriberEvent(
                        email=current.email,
                        kind=EventKind.UNSUBSCRIBED,
                        time=now,
                        source=reason,
                        subscriber_id=current.id,
                        detail={"newsletter": f"{current.language} {current.frequency}"},
                    )
                )
                log.info("%s unsubscribed (%s)", current.email, reason)
                current = replace(current, status=SubscriberStatus.UNSUBSCRIBED)
        return Outcome(current, "unsubscribed")

    def of_address(self, person: Subscriber) -> list[Subscriber]:
        """Every subscription of ``person``'s address, as stored now."""
        with self.store.read() as tx:
            return tx.subscribers.of_address(person.email)

    def topics(self, language: str) -> list[str]:
        """The sections a subscriber in ``language`` can choose from."""
        with self.store.read() as tx:
            return tx.articles.sections(language)

    def update(
        self,
        token: str,
        *,
        language: str,
        frequency: str,
        topics: Sequence[str],
        resume: bool = False,
    ) -> Outcome:
        """Move the subscription a preferences token is for to another newsletter.

        The form of one newsletter per address (and API clients that post
        ``language`` and ``frequency``); :meth:`change` is the form of several.
        ``resume`` brings an unsubscribed subscription back: the subscriber's
        own request, made through a link only they received.

        Raises:
            BadToken: see :meth:`subscriber`.
            FieldProblem: a bad language or frequency, or a newsletter the
                address already holds in another subscription.
        """
        person = self.subscriber(token, "preferences")
        row = check_subscriber(
            self.settings,
            email=person.email,
            name=person.name,
            language=language,
            frequency=frequency,
            topics=topics,
            sections=SectionNames.of(self.store, self.settings),
            keep=person.topics,
        )
        now = self.clock()
        result = "saved"
        with self._write() as tx:
            other = tx.subscribers.subscription(person.email, row.language, row.frequency)
            if other is not None and other.id != person.id:
                raise FieldProblem(
                    "frequency",
                    f"this address already takes the {row.language} {row.frequency} newsletter",
                )
            tx.subscribers.set_preferences(
                person.id,
                language=row.language,
                frequency=Frequency(row.frequency),
                topics=row.topics,
                now=now,
            )
            current = tx.subscribers.get(person.id) or person
            changes: dict[str, object] = {}
            if (person.language, person.frequency) != (row.language, row.frequency):
                changes["newsletter"] = f"{row.language} {row.frequency}"
                changes["was"] = f"{person.language} {person.frequency}"
            if person.topics != tuple(row.topics):
                changes["topics"] = ";".join(row.topics)
            if changes:
                self._record(tx, current, EventKind.PREFERENCES, now, changes)
            if resume and current.status is SubscriberStatus.UNSUBSCRIBED:
                tx.subscribers.set_status(
                    person.id,
                    SubscriberStatus.ACTIVE,
                    now=now,
                    reason="resumed on preferences page",
                )
                self._record(tx, current, EventKind.PREFERENCES, now, {"resumed": True})
                result = "resumed"
            after = tx.subscribers.get(person.id) or current
        return Outcome(after, result)

    def change(
        self,
        token: str,
        *,
        newsletters: Sequence[Newsletter],
        topics: Sequence[str],
        timezone: str = "",
    ) -> Outcome:
        """Set which newsletters the address a preferences token is for receives.

        Every newsletter named is active afterwards (added, or brought back
        if it was left: the owner asks for it through a link only they
        received); every other subscription of the address that is active
        or pending is unsubscribed. ``topics`` are shared by all of them; an
        empty ``timezone`` keeps the stored one. A bounced subscription is
        never brought back here. An empty list of newsletters leaves them all.

        Raises:
            BadToken: see :meth:`subscriber`.
            FieldProblem: a bad newsletter, topic or time zone (nothing changes).
        """
        person = self.subscriber(token, "preferences")
        sections = SectionNames.of(self.store, self.settings)
        with self.store.read() as tx:
            held = tx.subscribers.of_address(person.email)
        kept_topics = {t for s in held for t in s.topics}
        rows = [
            check_subscriber(
                self.settings,
                email=person.email,
                name=person.name,
                language=lang,
                frequency=freq,
                topics=topics,
                sections=sections,
                keep=kept_topics,
            )
            for lang, freq in dict.fromkeys(newsletters)
        ]
        shared = check_subscriber(
            self.settings,
            email=person.email,
            topics=topics,
            sections=sections,
            keep=kept_topics,
        ).topics
        zone = check_timezone(timezone)
        wanted = {(r.language, r.frequency) for r in rows}
        now = self.clock()
        with self._write() as tx:
            changed: list[str] = []
            for current in tx.subscribers.of_address(person.email):
                key = (current.language, current.frequency)
                if key in wanted:
                    wanted.discard(key)
                    if current.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.PENDING):
                        tx.subscribers.set_status(
                            current.id, SubscriberStatus.ACTIVE, now=now, reason="preferences"
                        )
                        self._record(tx, current, EventKind.PREFERENCES, now, {"resumed": True})
                        changed.append("resumed")
                    if tx.subscribers.set_topics(current.id, shared, now=now):
                        self._record(
                            tx, current, EventKind.PREFERENCES, now, {"topics": ";".join(shared)}
                        )
                        changed.append("topics")
                elif current.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
                    tx.subscribers.set_status(
                        current.id, SubscriberStatus.UNSUBSCRIBED, now=now, reason="preferences"
                    )
                    self._record(tx, current, EventKind.UNSUBSCRIBED, now, {}, source="preferences")
                    changed.append("left")
            for language, frequency in sorted(wanted):
                added = tx.subscribers.add_pending(
                    SubscriberDetails(person.email, person.name, language, frequency, shared),
                    source="preferences",
                    now=now,
                    timezone=zone or person.timezone,
                )
                tx.subscribers.set_status(
                    added.id, SubscriberStatus.ACTIVE, now=now, reason="preferences"
                )
                self._record(tx, added, EventKind.PREFERENCES, now, {"added": True})
                changed.append("added")
            if zone is not None and tx.subscribers.set_timezone(person.email, zone, now=now):
                self._record(tx, person, EventKind.PREFERENCES, now, {"timezone": zone}, one=False)
                changed.append("timezone")
            after = tx.subscribers.get(person.id) or person
        return Outcome(after, "resumed" if "resumed" in changed else "saved")

    @staticmethod
    def _record(
        tx: Tx,
        subscription: Subscriber,
        kind: EventKind,
        now: datetime,
        detail: dict[str, object],
        *,
        source: str = "preferences",
        one: bool = True,
    ) -> None:
        newsletter = {"newsletter": f"{subscription.language} {subscription.frequency}"}
        tx.events.record(
            SubscriberEvent(
                email=subscription.email,
                kind=kind,
                time=now,
                source=source,
                subscriber_id=subscription.id if one else None,
                detail={**(newsletter if one else {}), **detail},
            )
        )
