"""The clipping guard: an edition's email small enough that no client cuts it.

Gmail shows only the first 102 KB of a message's HTML and hides the rest
behind "[Message clipped]": the donation appeal and the unsubscribe footer,
at the bottom, are the first things lost. :func:`fit` measures the largest
personalised HTML part a reader can get (decoded, as the client sees it:
the inlined HTML with the longest greeting a subscriber's name allows and
signed links for the largest subscriber id) against ``[emails] clip_limit``
and, over it, leaves blocks out of the email in :data:`STEPS` order until
it fits:

1. ``read_also``: the Read also block;
2. ``standfirsts``: the standfirsts of the new articles after the lead;
3. ``top_reads``: the Top reads block;
4. ``older_items``: the oldest new articles after the lead, as few as needed.

Once anything is left out the email links to the web copy ("More in this
edition's web copy"), which always holds the whole edition. The masthead,
the lead story, the donation block and the footer are never left out; when
the edition still does not fit, :func:`fit` says so and sending refuses it
(:func:`oversize`). Only the lead story carries an image, so there is no
step for images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broadsheet.config import Settings
from broadsheet.content.subscribers import MAX_NAME
from broadsheet.emails.edition import labels as words
from broadsheet.emails.edition import links, tokens
from broadsheet.emails.edition.context import EditionContext
from broadsheet.emails.edition.personalize import Personal, fill_html
from broadsheet.errors import BroadsheetError
from broadsheet.model import EditionRecord

STEPS = ("read_also", "standfirsts", "top_reads", "older_items")
"""What is left out of an email over the limit, in this order."""

_LARGEST_ID = 2**63 - 1
"""The largest subscriber id a store holds: the longest token in a link."""


class EditionTooLarge(BroadsheetError):
    """An edition's email is over ``emails.clip_limit`` even with every droppable block left out."""


@dataclass(frozen=True)
class Fit:
    """The email of an edition, made to fit.

    Attributes:
        context: the context the email was rendered from (blocks left out).
        html: the inlined HTML with its personal placeholders.
        size: bytes of the largest personalised HTML part.
        limit: ``emails.clip_limit``.
        dropped: the :data:`STEPS` taken, in order.
        left_out: ids of the new articles left out (``older_items``).
    """

    context: EditionContext
    html: str
    size: int
    limit: int
    dropped: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()

    @property
    def fits(self) -> bool:
        """Whether the email is within the limit."""
        return self.size <= self.limit

    def summary(self) -> dict[str, Any]:
        """What the record keeps (``extra["clip"]``) and ``edition.json`` shows when clipped."""
        return {
            "limit": self.limit,
            "size": self.size,
            "fits": self.fits,
            "dropped": list(self.dropped),
            "left_out": list(self.left_out),
        }


def longest_personal(settings: Settings, language: str) -> Personal:
    """The longest personal values a reader of ``language`` can get.

    A name of the most characters a subscriber may have, each two bytes in
    UTF-8, and links signed for the largest subscriber id.
    """
    name = "Щ" * MAX_NAME
    return Personal(
        greeting=words.greeting(settings.words, language, name),
        unsubscribe_url=links.unsubscribe_url(
            settings, tokens.sign("measure", "unsubscribe", _LARGEST_ID)
        ),
        preferences_url=links.preferences_url(
            settings, tokens.sign("measure", "preferences", _LARGEST_ID)
        ),
    )


def measure(html: str, personal: Personal) -> int:
    """Bytes of ``html`` personalised with ``personal``, as the client decodes it."""
    return len(fill_html(html, personal).encode("utf-8"))


def _applies(context: EditionContext, step: str) -> bool:
    """Whether ``step`` leaves anything out of ``context``."""
    if step == "read_also":
        return bool(context["read_also"])
    if step == "standfirsts":
        return any(item["standfirst"] for item in context["new"])
    if step == "top_reads":
        return bool(context["top"])
    return bool(context["new"])


def _without(context: EditionContext, step: str) -> EditionContext:
    """``context`` with the block of ``step`` left out (``older_items`` is done by :func:`fit`)."""
    smaller = EditionContext(**context)
    smaller["more_url"] = context["view_url"]
    if step == "read_also":
        smaller["read_also"] = []
    elif step == "standfirsts":
        smaller["new"] = [{**item, "standfirst": ""} for item in context["new"]]
    elif step == "top_reads":
        smaller["top"] = []
    return smaller


def fit(
    context: EditionContext,
    render: Callable[[EditionContext], str],
    *,
    limit: int,
    personal: Personal,
) -> Fit:
    """Render the email of ``context``, leaving blocks out in :data:`STEPS` order until it fits.

    Args:
        context: the email's full context.
        render: renders and inlines a context into the email's HTML.
        limit: ``emails.clip_limit`` in bytes.
        personal: the longest personal values (:func:`longest_personal`).

    Returns:
        The email that fits, or the smallest one (``fits`` is false).
    """
    html = render(context)
    size = measure(html, personal)
    dropped: list[str] = []
    for step in STEPS[:-1]:
        if size <= limit:
            return Fit(context, html, size, limit, tuple(dropped))
        if not _applies(context, step):
            continue
        context = _without(context, step)
        dropped.append(step)
        html = render(context)
        size = measure(html, personal)
    items = list(context["new"])
    if size <= limit or not items:
        return Fit(context, html, size, limit, tuple(dropped))
    dropped.append(STEPS[-1])
    context = EditionContext(**context)
    context["more_url"] = context["view_url"]

    def keeping(count: int) -> tuple[EditionContext, str, int]:
        kept = EditionContext(**context)
        kept["new"] = items[:count]
        kept_html = render(kept)
        return kept, kept_html, measure(kept_html, personal)

    # The most of the newest items that fit: bisect on how many are kept.
    best = keeping(0)
    if best[2] <= limit:
        low, high = 0, len(items) - 1
        while low < high:
            middle = (low + high + 1) // 2
            tried = keeping(middle)
            if tried[2] <= limit:
                low, best = middle, tried
            else:
                high = middle - 1
    kept_count = len(best[0]["new"])
    left_out = tuple(item["id"] for item in items[kept_count:])
    return Fit(best[0], best[1], best[2], limit, tuple(dropped), left_out)


def oversize(record: EditionRecord) -> str | None:
    """Why ``record`` must not be sent as it is, or ``None`` when it is within its limit."""
    clip = record.extra.get("clip")
    if not isinstance(clip, dict) or clip.get("fits", True):
        return None
    return oversize_text(record.id, clip)


def oversize_text(edition_id: str, clip: dict[str, Any]) -> str:
    """The refusal of an edition whose clip summary (:meth:`Fit.summary`) is ``clip``."""
    dropped = ", ".join(str(step).replace("_", " ") for step in clip.get("dropped", ()))
    return (
        f"edition {edition_id}: its largest personalised HTML is {clip['size']:,} bytes, over "
        f"emails.clip_limit ({clip['limit']:,} bytes) even with {dropped or 'nothing'} left "
        "out; Gmail would clip it and hide the donation appeal and the unsubscribe link. "
        "Shorten the lead story or raise emails.clip_limit, or pass --force to send it anyway"
    )


def refuse_oversize(record: EditionRecord) -> None:
    """Raise :class:`EditionTooLarge` when ``record`` is over its limit (see :func:`oversize`)."""
    reason = oversize(record)
    if reason is not None:
        raise EditionTooLarge(reason)
