"""One edition turned into one complete message per subscriber, cheaply.

:meth:`PreparedEdition.from_record` does everything an edition's messages
share once: it splits the stored (already inlined) HTML and text at their
personal placeholders, transfer-encodes the fixed pieces, and folds the
shared headers. :meth:`PreparedEdition.message` then only signs two tokens,
fills three values and joins bytes::

    prepared = PreparedEdition.from_record(edition, settings, secret=secret)
    for subscriber in subscribers:
        outgoing = prepared.message(subscriber)
        transport.deliver(outgoing)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP

from broadsheet.config import Settings
from broadsheet.emails.edition import appeals, headers, labels, links, tokens
from broadsheet.emails.edition.dkim import DkimSigner
from broadsheet.emails.edition.mime import Alternative, EncodedPart
from broadsheet.emails.edition.personalize import Personal, Template
from broadsheet.emails.edition.returnpath import ReturnPaths, plain_sender
from broadsheet.model import EditionRecord, Subscriber


def one_off_message(
    settings: Settings,
    head: list[str],
    *,
    text: str,
    html: str,
    message_id: str,
    recipient: str,
) -> OutgoingMessage:
    """A message sent to one reader outside an edition (a confirmation, a welcome).

    ``head`` holds the headers as :mod:`~broadsheet.emails.edition.headers`
    writes them; Reply-To and Auto-Submitted are added here, the MIME body
    (text, then HTML) is written by the email package, and the whole is
    DKIM-signed when ``sender.dkim_key`` is set.
    """
    head = list(head)
    if settings.sender.reply_to:
        head.append(headers.address("Reply-To", "", settings.sender.reply_to))
    head.append("Auto-Submitted: auto-generated\r\n")
    body = EmailMessage(policy=SMTP)
    body.set_content(text)
    body.add_alternative(html, subtype="html")
    data = "".join(head).encode("ascii") + body.as_bytes()
    signer = DkimSigner.for_sender(settings)
    return OutgoingMessage(
        message_id=message_id,
        sender=plain_sender(settings),
        recipient=recipient,
        data=signer.sign(data) if signer is not None else data,
    )


def _splice(part: str, span: tuple[int, int], block: str) -> str:
    """``part`` with ``block`` in place of what ``span`` holds (the plain appeal)."""
    return part[: span[0]] + block + part[span[1] :]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A complete message, ready for a transport.

    Attributes:
        message_id: the Message-ID header's value (with its angle brackets);
            the same edition and subscriber always give the same id.
        sender: the envelope sender (MAIL FROM), where bounces go: with
            ``inbound.bounce_address`` set, one naming the edition and the
            subscriber (:mod:`~broadsheet.emails.edition.returnpath`).
        recipient: the envelope recipient.
        data: the RFC 5322 message, CRLF line ends.
    """

    message_id: str
    sender: str
    recipient: str
    data: bytes


class PreparedEdition:
    """An edition with everything its messages share already built.

    Use :meth:`from_record`; then :meth:`message` once per subscriber.
    """

    def __init__(
        self,
        edition: EditionRecord,
        settings: Settings,
        *,
        secret: str,
        now: datetime | None = None,
    ) -> None:
        self.edition = edition
        self.settings = settings
        self.secret = secret
        self.domain = settings.site.domain
        self.return_paths = ReturnPaths(settings, secret)
        self.language = edition.language
        moment = now or edition.built or edition.slot
        self._now = moment
        self.body = Alternative(
            EncodedPart(Template.parse(edition.text), subtype="plain"),
            EncodedPart(Template.parse(edition.html), subtype="html"),
            seed=edition.id,
        )
        # One body per wording of the donation block, encoded once each, when
        # the record kept them (and they still match its parts): a reader's
        # message picks one, so the block costs nothing per message.
        kept = edition.extra.get("donation")
        kept = kept if isinstance(kept, Mapping) else {}
        text_blocks = appeals.Blocks.from_json(kept.get("text"), edition.text)
        html_blocks = appeals.Blocks.from_json(kept.get("html"), edition.html)
        self._bodies: dict[str, Alternative] = {}
        if text_blocks is not None and html_blocks is not None:
            for variant, html_block in html_blocks.by_variant.items():
                text_block = text_blocks.by_variant.get(variant)
                if text_block is None:
                    continue
                self._bodies[variant] = (
                    self.body
                    if variant == appeals.APPEAL
                    else Alternative(
                        EncodedPart(
                            Template.parse(_splice(edition.text, text_blocks.span, text_block)),
                            subtype="plain",
                        ),
                        EncodedPart(
                            Template.parse(_splice(edition.html, html_blocks.span, html_block)),
                            subtype="html",
                        ),
                        seed=edition.id,
                    )
                )
        offered = appeals.appeal_ids(settings, edition.language)
        self._appeals = tuple(v for v in offered if v in self._bodies) or (appeals.APPEAL,)
        self._thanks_days = settings.donation_options.thanks_days
        self._mailto = links.unsubscribe_mailto(settings)
        self._before_to = headers.address(
            "From", settings.sender_name(edition.language), settings.sender.email
        ).encode("utf-8")
        shared_lines = [
            headers.unstructured("Subject", edition.subject),
            headers.fold("Date", [headers.date(moment, settings)]),
        ]
        self._after_to = "".join(shared_lines).encode("ascii")
        list_name = headers.clean(settings.sender_name(edition.language), limit=60) or "newsletter"
        after_id = [
            headers.fold("List-Id", [*headers.text_tokens(list_name), f"<{settings.list_id}>"])
        ]
        if settings.sender.reply_to:
            after_id.append(headers.address("Reply-To", "", settings.sender.reply_to))
        self._after_id = "".join(after_id).encode("utf-8")
        feedback = settings.sender.feedback_id or f"broadsheet:{self.domain}"
        self._after_unsubscribe = (
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            + headers.unstructured("Feedback-ID", f"{edition.id}:{feedback}")
            + "MIME-Version: 1.0\r\n"
        ).encode("utf-8") + self.body.content_type
        self._signer: DkimSigner | None = DkimSigner.for_sender(settings)
        # What tokens.sign and links.*_url do per call, done once: the keyed
        # HMACs are copied per message, and the token's time part (whole
        # seconds) is made again only when the second changes.
        links_url = settings.links_url
        self._unsubscribe_prefix = f"{links_url}/unsubscribe?token="
        self._preferences_prefix = f"{links_url}/preferences?token="
        self._unsubscribe_prefix_html = html.escape(self._unsubscribe_prefix, quote=True)
        self._preferences_prefix_html = html.escape(self._preferences_prefix, quote=True)
        self._unsubscribe_mac = hmac.new(
            tokens._key(secret, "unsubscribe"), digestmod=hashlib.sha256
        )
        self._preferences_mac = hmac.new(
            tokens._key(secret, "preferences"), digestmod=hashlib.sha256
        )
        self._second = -1
        self._second_text = ""

    @classmethod
    def from_record(
        cls,
        edition: EditionRecord,
        settings: Settings,
        *,
        secret: str,
        now: datetime | None = None,
    ) -> PreparedEdition:
        """Prepare ``edition`` for sending.

        Args:
            edition: the stored edition (inlined HTML and text with placeholders).
            settings: the publication's settings.
            secret: the link-signing secret.
            now: the Date of the messages; default: when the edition was built.
        """
        return cls(edition, settings, secret=secret, now=now)

    def personal(self, subscriber: Subscriber) -> Personal:
        """The greeting and signed personal links of one subscriber."""
        unsubscribe = tokens.sign(self.secret, "unsubscribe", subscriber.id)
        preferences = tokens.sign(self.secret, "preferences", subscriber.id)
        return Personal(
            greeting=labels.greeting(self.settings.words, self.language, subscriber.name),
            unsubscribe_url=links.unsubscribe_url(self.settings, unsubscribe),
            preferences_url=links.preferences_url(self.settings, preferences),
        )

    def _tokens(self, subscriber_id: int, signed_at: int | None = None) -> tuple[str, str]:
        """``tokens.sign`` for unsubscribe and preferences, byte for byte, cheaper."""
        if subscriber_id < 0:
            raise ValueError("subscriber ids are not negative")  # a bug in the caller
        second = int(time.time()) if signed_at is None else signed_at
        if second != self._second:
            self._second_text = tokens._base36(second)
            self._second = second
        body = f"{tokens._base36(subscriber_id)}.{self._second_text}"
        data = body.encode("ascii")
        signed = []
        for keyed in (self._unsubscribe_mac, self._preferences_mac):
            mac = keyed.copy()
            mac.update(data)
            signature = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")
            signed.append(f"{body}.{signature}")
        return signed[0], signed[1]

    def donation_variant(self, subscriber: Subscriber) -> str | None:
        """The donation block ``subscriber``'s message carries (``v1``, ``thanks``…).

        ``None`` when the edition has no per-reader block (no ``[donation.LANG]``,
        or a theme's own template without the markers).
        """
        if not self._bodies:
            return None
        return appeals.choose(
            subscriber.email,
            subscriber.giving,
            now=self._now,
            thanks_days=self._thanks_days,
            appeals=self._appeals,
        )

    def message_id(self, subscriber: Subscriber) -> str:
        """The Message-ID of this edition for ``subscriber``."""
        return headers.message_id(self.edition.id, subscriber.id, self.domain, secret=self.secret)

    def message(
        self,
        subscriber: Subscriber,
        *,
        as_reader: Subscriber | None = None,
        signed_at: int | None = None,
    ) -> OutgoingMessage:
        """The complete message for ``subscriber``: string work, no rendering.

        ``as_reader`` (a test send's ``--as``) chooses the donation block
        instead of ``subscriber``. ``signed_at`` (seconds since the epoch)
        is when its personal links are signed; default: now, as sending
        wants (a replay or a test passes a time, so the message is the same
        byte for byte).
        """
        unsubscribe_token, preferences_token = self._tokens(int(subscriber.id), signed_at)
        greeting = labels.greeting(self.settings.words, self.language, subscriber.name)
        unsubscribe_url = self._unsubscribe_prefix + unsubscribe_token
        message_id = self.message_id(subscriber)
        if not subscriber.email.isascii():
            raise ValueError(
                f"the address {subscriber.email} is not plain ASCII before the @ "
                "(an internationalised mailbox needs SMTPUTF8, which these messages do not use)"
            )
        per_reader = headers.address("To", subscriber.name, subscriber.email).encode("ascii")
        identity = f"Message-ID: {message_id}\r\n".encode("ascii")
        list_unsubscribe = headers.fold(
            "List-Unsubscribe",
            [
                f"<{unsubscribe_url}>,",
                f"<mailto:{self._mailto}?subject=unsubscribe-{unsubscribe_token}>",
            ],
        ).encode("utf-8")
        # Personal.values(escape=...) without building a Personal: a token
        # holds only URL-safe characters, so escaping the prefix is enough.
        text_values = {
            "greeting": greeting,
            "unsubscribe_url": unsubscribe_url,
            "preferences_url": self._preferences_prefix + preferences_token,
        }
        html_values = {
            "greeting": html.escape(greeting, quote=True),
            "unsubscribe_url": self._unsubscribe_prefix_html + unsubscribe_token,
            "preferences_url": self._preferences_prefix_html + preferences_token,
        }
        body = self.body
        if self._bodies:
            variant = self.donation_variant(as_reader or subscriber) or appeals.APPEAL
            body = self._bodies.get(variant, self.body)
        data = b"".join(
            (
                self._before_to,
                per_reader,
                self._after_to,
                identity,
                self._after_id,
                list_unsubscribe,
                self._after_unsubscribe,
                b"\r\n",
                body.body(text_values, html_values),
            )
        )
        if self._signer is not None:
            data = self._signer.sign(data)
        return OutgoingMessage(
            message_id=message_id,
            sender=self.return_paths.sender(subscriber.id, self.edition.id),
            recipient=subscriber.email,
            data=data,
        )
