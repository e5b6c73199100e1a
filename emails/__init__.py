"""Newsletters: the entry points a scheduler or a host application calls.

The package has three rooms, each a subpackage: the edition (render once,
inline once, personalise, MIME), delivery (the send ledger's use, transports,
worker processes) and subscriptions (the flows the web app calls). What a
caller outside ``broadsheet.emails`` may use is listed in ``__all__``;
``lint-imports`` keeps the scheduler to it.

    rendered = render_edition(content, settings, now=now)
    write_edition(rendered, settings, archive=[rendered.record])
    send_edition(store, settings, rendered.record.id, now=now, transport=MemoryTransport())
"""

from broadsheet.emails.delivery.holds import CancelReport, cancel_edition
from broadsheet.emails.delivery.memory import MemoryTransport, SentMessage
from broadsheet.emails.delivery.proof import ProofReport, send_test
from broadsheet.emails.delivery.sender import (
    SendReport,
    enqueue_edition,
    retry_deferred,
    send_all,
    send_edition,
)
from broadsheet.emails.delivery.transports import (
    DeliveryResult,
    DeliveryStatus,
    MaildirTransport,
    SMTPTransport,
    Transport,
    TransportUnavailable,
    make_transport,
)
from broadsheet.emails.edition.build import (
    FILES,
    RenderedEdition,
    edition_paths,
    render_archive,
    render_edition,
    write_archive,
    write_edition,
)
from broadsheet.emails.edition.campaign import (
    Campaign,
    campaign_id,
    is_campaign,
    read_campaign,
    render_campaign,
)
from broadsheet.emails.edition.clip import EditionTooLarge, oversize, refuse_oversize
from broadsheet.emails.edition.context import EditionContent
from broadsheet.emails.edition.links import archive_url, edition_url
from broadsheet.emails.subscriptions.flows import Outcome, Subscriptions, confirmation_message

__all__ = [
    "FILES",
    "Campaign",
    "CancelReport",
    "DeliveryResult",
    "DeliveryStatus",
    "EditionContent",
    "EditionTooLarge",
    "MaildirTransport",
    "MemoryTransport",
    "Outcome",
    "ProofReport",
    "RenderedEdition",
    "SMTPTransport",
    "SendReport",
    "SentMessage",
    "Subscriptions",
    "Transport",
    "TransportUnavailable",
    "archive_url",
    "campaign_id",
    "cancel_edition",
    "confirmation_message",
    "edition_paths",
    "edition_url",
    "enqueue_edition",
    "is_campaign",
    "make_transport",
    "oversize",
    "read_campaign",
    "refuse_oversize",
    "render_archive",
    "render_campaign",
    "render_edition",
    "retry_deferred",
    "send_all",
    "send_edition",
    "send_test",
    "write_archive",
    "write_edition",
]
