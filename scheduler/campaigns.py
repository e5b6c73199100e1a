"""Build one campaign: read its file, have it rendered in the edition's layout, record.

A campaign built once keeps its id: building the same file again returns the
stored record (a campaign that may have begun sending is never rendered
again). The scheduler sends campaigns whose ``send_at`` has come
(:func:`due_campaigns`), each once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from broadsheet.config import Settings
from broadsheet.model import EditionRecord
from broadsheet.scheduler.editions import counting_secret
from broadsheet.scheduler.localtime import in_archive
from broadsheet.store import Store, Tx

log = logging.getLogger(__name__)

KIND = "campaign"
"""``extra["kind"]`` of a campaign's record (as :mod:`broadsheet.emails` writes it)."""


@dataclass(frozen=True)
class CampaignOutcome:
    """What :func:`build_campaign` did.

    Attributes:
        edition: the campaign's record (new or already stored).
        paths: its files by role (``html``, ``text``, ``web``, ``json``, ``archive``).
        created: whether this call built it.
        changed: the file differs from the one the stored campaign was built
            from (which is kept as it was).
    """

    edition: EditionRecord
    paths: dict[str, Path] = field(default_factory=dict)
    created: bool = False
    changed: bool = False


def _stored_for(store: Store, language: str, source: str) -> EditionRecord | None:
    """The campaign already built from the file ``source``, if any."""
    from broadsheet import emails

    with store.read() as tx:
        for record in tx.editions.listing(language=language):
            if emails.is_campaign(record) and record.extra.get("source") == source:
                return record
    return None


def build_campaign(
    store: Store, settings: Settings, path: Path, *, now: datetime
) -> CampaignOutcome:
    """Build the campaign in the Markdown file ``path`` (or return the one built from it).

    Raises:
        ContentError: the file is wrong (``file:line: field: reason``).
        RenderError: a template or the CSS inliner failed.
    """
    from broadsheet import emails  # rendering is loaded only when a campaign is built

    source = str(path.resolve())
    campaign = emails.read_campaign(path, settings, source=source)
    existing = _stored_for(store, campaign.language, source)
    if existing is not None:
        log.info("campaign %s exists (built %s): returned as stored", existing.id, existing.built)
        return CampaignOutcome(
            edition=existing,
            paths=emails.edition_paths(settings, existing.language, existing.id),
            changed=existing.extra.get("digest") != campaign.digest,
        )
    identifier = emails.campaign_id(campaign, settings, now=now)
    paths = emails.edition_paths(settings, campaign.language, identifier)
    rendered = emails.render_campaign(
        campaign,
        settings,
        identifier=identifier,
        now=now,
        secret=counting_secret(store, settings),
    )
    with store.write() as tx:
        raced = tx.editions.get(identifier)
        if raced is not None:
            return CampaignOutcome(edition=raced, paths=paths)
        tx.editions.save(rendered.record, now=now)
        tx.links.record(identifier, rendered.links)
        listing = [e for e in tx.editions.listing(language=campaign.language) if in_archive(e)]
        emails.write_edition(rendered, settings, archive=listing)
        stored = tx.editions.get(identifier) or rendered.record
    log.info("campaign %s built: %s", identifier, paths["folder"])
    return CampaignOutcome(edition=stored, paths=paths, created=True)


def send_at(record: EditionRecord) -> datetime | None:
    """When the scheduler sends the campaign ``record``, or ``None`` (only by hand)."""
    value = record.extra.get("send_at")
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def scheduled_campaigns(tx: Tx) -> list[tuple[str, datetime]]:
    """``(id, send_at)`` of every stored campaign with a ``send_at``, unless cancelled."""
    found = []
    for identifier, extra in tx.editions.kinds(KIND):
        value = extra.get("send_at")
        if isinstance(value, str) and value and tx.editions.hold(identifier)[0] != "cancelled":
            found.append((identifier, datetime.fromisoformat(value)))
    return found
