"""Counted links: an edition's links through ``broadsheet serve``'s ``/r/TOKEN``.

With ``[links] count_clicks = true``, every link an edition's message carries
that is the same for all its readers (the articles, their translations, the
donation button, the masthead, the web copy, the archive, the other
languages' editions) is replaced by ``{links.base_url}/r/TOKEN``. The token
(:func:`broadsheet.emails.edition.tokens.sign_link`) names the edition and the
link's key, a digest of the link's block, appeal variant and real URL; the
real URL (UTM parameters included) is recorded in the store with the
edition, and ``serve`` adds one to that link's count and redirects there.
So the store learns how often a link of an edition was followed, never by
whom, and only URLs an edition carried can be redirected to.

Never counted: the personal links (unsubscribe, preferences; they carry a
reader's token and are filled in per message), images (a counted image
would be an open-tracking pixel), and the public web copy and archive pages,
which are not messages. With counting off, :class:`LinkCounter` hands every
URL back unchanged, so the message links straight to the page, with UTM.

The donation block's appeal variants call the same counter, once per
alternative, with ``variant`` set, so each alternative's links are counted
apart::

    counter = LinkCounter.for_edition(settings, edition_id, secret=secret)
    button = counter.count(appeal_url, block="donation", variant="thanks")
    ...
    rendered_links = counter.links  # stored with the edition
"""

from __future__ import annotations

import hashlib

from broadsheet.config import Settings
from broadsheet.emails.edition import tokens
from broadsheet.emails.edition.context import (
    Donation,
    EditionContext,
    Item,
    OtherEdition,
    Translation,
)
from broadsheet.model import EditionLink

__all__ = ["BLOCKS", "LinkCounter", "count_context", "link_key", "redirect_url"]

BLOCKS = (
    "masthead",
    "lead",
    "read_also",
    "new",
    "top_reads",
    "donation",
    "other_editions",
    "web_copy",
    "archive",
)
"""The blocks a counted link may sit in, in the order of the message."""


def link_key(block: str, variant: str, url: str) -> str:
    """The key of a link in its edition: 12 hexadecimal digits of its block, variant and URL."""
    digest = hashlib.sha256(f"{block}\n{variant}\n{url}".encode()).hexdigest()
    return digest[:12]


def redirect_url(settings: Settings, token: str) -> str:
    """The counted link ``/r/TOKEN`` on ``broadsheet serve``."""
    return f"{settings.links_url}/r/{token}"


class LinkCounter:
    """Turns one edition's links into counted links, and keeps what it turned.

    Args:
        settings: the publication's settings (``links.base_url``).
        edition_id: the edition whose links are counted.
        secret: the link-signing secret; ``None`` turns counting off.
    """

    def __init__(self, settings: Settings, edition_id: str, *, secret: str | None) -> None:
        self.settings = settings
        self.edition_id = edition_id
        self.secret = secret
        self._links: dict[str, EditionLink] = {}

    @classmethod
    def for_edition(cls, settings: Settings, edition_id: str, *, secret: str | None) -> LinkCounter:
        """The counter of ``edition_id``: counting when ``links.count_clicks`` is on.

        Raises:
            ValueError: counting is on and no secret is given (a bug in the caller).
        """
        if not settings.links.count_clicks:
            return cls(settings, edition_id, secret=None)
        if not secret:
            raise ValueError("links.count_clicks is on: the link-signing secret is needed")
        return cls(settings, edition_id, secret=secret)

    @property
    def counting(self) -> bool:
        """Whether links are counted (else :meth:`count` returns them unchanged)."""
        return self.secret is not None

    @property
    def links(self) -> tuple[EditionLink, ...]:
        """Every link counted so far, in the order first met."""
        return tuple(self._links.values())

    def count(self, url: str, *, block: str, variant: str = "") -> str:
        """The URL the message carries for ``url`` in ``block`` (and appeal ``variant``).

        Args:
            url: where the reader should land, UTM parameters included.
            block: one of :data:`BLOCKS` (or a theme's own block name, up to 32 characters).
            variant: the donation appeal's variant (``thanks``, ``renew``, ``v1``…), else ``""``.
        """
        if self.secret is None or not url:
            return url
        if len(block) > 32 or len(variant) > 64:
            raise ValueError(f"block {block!r} or variant {variant!r} is too long")
        key = link_key(block, variant, url)
        self._links.setdefault(key, EditionLink(key=key, url=url, block=block, variant=variant))
        return redirect_url(self.settings, tokens.sign_link(self.secret, self.edition_id, key))


def _item(item: Item, block: str, counter: LinkCounter) -> Item:
    counted = Item(**item)
    counted["url"] = counter.count(item["url"], block=block)
    counted["translations"] = [
        Translation(
            language=other["language"],
            label=other["label"],
            url=counter.count(other["url"], block=block),
        )
        for other in item["translations"]
    ]
    return counted


def _donation(donation: Donation, counter: LinkCounter, variant: str) -> Donation:
    counted = Donation(**donation)
    counted["url"] = counter.count(donation["url"], block="donation", variant=variant)
    return counted


def count_context(
    context: EditionContext, counter: LinkCounter, *, variant: str = ""
) -> EditionContext:
    """``context`` (an email's) with its shared links counted by ``counter``.

    The personal placeholders and image URLs are left as they are. With the
    counter not counting, ``context`` is returned unchanged.

    Args:
        context: the email's template context (``mode="email"``).
        counter: the edition's counter.
        variant: the donation appeal variant this context renders, if any.
    """
    if not counter.counting:
        return context
    if context["mode"] != "email":
        raise ValueError("only messages carry counted links, not the web copy")  # a bug
    counted = EditionContext(**context)
    counted["site_url"] = counter.count(context["site_url"], block="masthead")
    lead = context["lead"]
    counted["lead"] = _item(lead, "lead", counter) if lead else None
    counted["read_also"] = [_item(i, "read_also", counter) for i in context["read_also"]]
    counted["new"] = [_item(i, "new", counter) for i in context["new"]]
    counted["top"] = [_item(i, "top_reads", counter) for i in context["top"]]
    donation = context["donation"]
    wordings = context["donations"]
    if donation is not None:
        # With its wordings, the plain appeal is the first of them.
        plain = wordings[0].get("variant", variant) if wordings else variant
        counted["donation"] = _donation(donation, counter, plain)
    # Every wording of the donation block (thanks, renew, v1…), each counted
    # apart: the token names the variant a click came from, never the reader.
    counted["donations"] = [
        _donation(wording, counter, wording.get("variant", variant)) for wording in wordings
    ]
    counted["other_editions"] = [
        OtherEdition(
            language=other["language"],
            label=other["label"],
            url=counter.count(other["url"], block="other_editions"),
        )
        for other in context["other_editions"]
    ]
    counted["view_url"] = counter.count(context["view_url"], block="web_copy")
    counted["archive_url"] = counter.count(context["archive_url"], block="archive")
    if context["more_url"]:
        counted["more_url"] = counter.count(context["more_url"], block="web_copy")
    return counted
