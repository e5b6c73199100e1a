"""Subscribing, confirming, unsubscribing and preferences, apart from HTTP.

Every personal action is authorised by a signed token (see
:mod:`broadsheet.emails.edition.tokens`) bound to one subscriber and one purpose; a bad token
raises :class:`~broadsheet.emails.edition.tokens.BadToken` before anything is read or changed.
Double opt-in: a request to subscribe records a *pending* subscriber and
mails a confirmation link; only that link makes the address active.
"""

from __future__ import annotations

import base64
import binascii
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
from broadsheet.content.subscribers import FieldProblem, SectionNames, check_subscriber
from broadsheet.emails.delivery.protocol import DeliveryStatus
from broadsheet.emails.delivery.transports import Transport, make_transport
from broadsheet.emails.edition import headers, labels, links, render, tokens
from broadsheet.emails.edition.compose import OutgoingMessage, one_off_message
from broadsheet.emails.subscriptions import pagetext
from broadsheet.emails.subscriptions.welcome import welcome_message
from broadsheet.errors import BroadsheetError, DeliveryError
from broadsheet.model import Frequency, Subscriber, SubscriberStatus
from broadsheet.store import Store, Tx

log = logging.getLogger(__name__)

__all__ = ["Outcome", "Subscriptions", "confirmation_message"]


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
    settings: Settings, subscriber: Subscriber, *, secret: str, now: datetime
) -> OutgoingMessage:
    """The double opt-in message for a pending subscriber (or, for an active one,
    a note with the preferences link: a new request never changes them silently).

    Anyone can ask for a confirmation to any address, typing any name, so the
    name is not written into it at all: the greeting is neutral and ``To:``
    holds the bare address. A stranger's words (``WIN $1000 NOW at …``) never
    reach someone else's inbox; the name is used only once the address's
    owner has confirmed. Headers are built as editions' are
    (:func:`broadsheet.emails.edition.headers.address` and friends).
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
        "url": url,
        "site_url": settings.site.url,
        "postal_address": settings.sender.postal_address,
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
    ) -> Outcome:
        """Record a request to subscribe and mail the confirmation link.

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
        row = check_subscriber(
            self.settings,
            email=email,
            name=name,
            language=language,
            frequency=frequency,
            topics=topics,
            sections=SectionNames.of(self.store, self.settings),
        )
        now = self.clock()
        with self._write() as tx:
            person = tx.subscribers.add_pending(row, source="web", now=now)
        if person.status is SubscriberStatus.BOUNCED:
            log.info("no confirmation to %s: the address bounced earlier", person.email)
            return Outcome(person, "pending")
        addressed = person
        if person.status is SubscriberStatus.UNSUBSCRIBED:
            # Written to the requester as asked; stored only once confirmed.
            addressed = replace(person, name=row.name, language=row.language)
        message = confirmation_message(self.settings, addressed, secret=self.secret, now=now)
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
        """Activate the pending subscriber a confirm token is for.

        An address that unsubscribed after the link was sent stays so, as
        does a bounced one; a link sent after the unsubscription (the answer
        to a new request) brings the address back. An address this call
        confirms is sent its welcome message (:mod:`.welcome`), once.
        """
        person = self.subscriber(token, "confirm")
        with self._write() as tx:
            current = tx.subscribers.get(person.id) or person
            if _confirms(current, token):
                tx.subscribers.set_status(
                    person.id, SubscriberStatus.ACTIVE, now=self.clock(), reason="confirmed"
                )
                result = "confirmed"
            elif current.status is SubscriberStatus.ACTIVE:
                result = "already"
            else:
                result = "stale"
            after = tx.subscribers.get(person.id) or current
        if result == "confirmed":
            self._welcome(after)
        return Outcome(after, result)

    def _welcome(self, person: Subscriber) -> None:
        """Send ``person`` the welcome message, once: see :mod:`.welcome`.

        The welcome is claimed (``subscribers.welcomed``) before it is sent,
        in one statement that also requires the address to be active, so two
        confirmations at once send one message and an address unsubscribed
        meanwhile gets none. A failure is logged and the claim given back:
        the confirmation stands either way.
        """
        with self._write() as tx:
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
        """Unsubscribe the subscriber an unsubscribe token is for (again is fine)."""
        subscriber_id = tokens.verify(
            self.secret, token, "unsubscribe", self._max_age("unsubscribe")
        )
        # One transaction: one-click requests come in bursts.
        with self._write() as tx:
            current = tx.subscribers.get(subscriber_id)
            if current is None:
                raise tokens.BadToken("this unsubscribe link is for a subscriber no longer stored")
            if current.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
                tx.subscribers.set_status(
                    subscriber_id, SubscriberStatus.UNSUBSCRIBED, now=self.clock(), reason=reason
                )
                log.info("%s unsubscribed (%s)", current.email, reason)
                current = replace(current, status=SubscriberStatus.UNSUBSCRIBED)
        return Outcome(current, "unsubscribed")

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
        """Change what the subscriber a preferences token is for receives.

        ``resume`` brings an unsubscribed address back: the subscriber's own
        request, made through a link only they received.

        Raises:
            BadToken: see :meth:`subscriber`.
            FieldProblem: a bad language or frequency.
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
            tx.subscribers.set_preferences(
                person.id,
                language=row.language,
                frequency=Frequency(row.frequency),
                topics=row.topics,
                now=now,
            )
            current = tx.subscribers.get(person.id) or person
            if resume and current.status is SubscriberStatus.UNSUBSCRIBED:
                tx.subscribers.set_status(
                    person.id,
                    SubscriberStatus.ACTIVE,
                    now=now,
                    reason="resumed on preferences page",
                )
                result = "resumed"
            after = tx.subscribers.get(person.id) or current
        return Outcome(after, result)
