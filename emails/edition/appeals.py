"""The donation block, chosen per reader: thanks, a renewal, or an appeal variant.

Which wording a reader's message carries depends on what they gave
(:class:`~broadsheet.model.Giving`, loaded by the sender for a claimed batch
in one query) and nothing else:

=================================================  =================
reader                                              block (variant)
=================================================  =================
paid a recurring donation in the last 45 days       ``thanks``
gave once within ``[donation] thanks_days``         ``thanks``
gave before that, nothing since                     ``renew``
never gave                                          ``v1`` … ``vN`` (or ``appeal``)
=================================================  =================

Readers who never gave are split evenly among ``[[donation.LANG.variants]]``
by a digest of their address (:func:`variant_index`): the same reader gets
the same variant in every edition, so variants can be compared (counted
links carry the variant). Without variants the plain appeal (``appeal``) is
everyone's.

Rendering stays once per edition: the templates render every wording, each
between markers (``<!--bs:donation:ID-->`` in HTML, ``%%bs:donation:ID%%`` in
text); :func:`split` keeps the plain appeal in the edition's stored HTML and
text (what the preview files and any copy show, never donor data) and returns
the others, already inlined, for the sender to splice in per reader.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from broadsheet.config import Settings
from broadsheet.emails.edition import labels as words
from broadsheet.model import Giving

APPEAL: Final = "appeal"
THANKS: Final = "thanks"
RENEW: Final = "renew"

RECURRING_DAYS: Final = 45
"""A recurring donor is one whose last payment is this recent: a monthly
payment every 28-31 days, with room for a late or failed-then-retried charge."""

_HTML = re.compile(r"<!--bs:donation:([a-z0-9_-]+)-->(.*?)<!--/bs:donation-->", re.DOTALL)
_TEXT = re.compile(r"%%bs:donation:([a-z0-9_-]+)%%(.*?)%%bs:/donation%%", re.DOTALL)


def variant_ids(count: int) -> tuple[str, ...]:
    """The identifiers of ``count`` appeal variants: ``v1`` … (none: ``appeal``)."""
    return tuple(f"v{i}" for i in range(1, count + 1)) if count else (APPEAL,)


def appeal_ids(settings: Settings, language: str) -> tuple[str, ...]:
    """The appeal variants readers of ``language`` who never gave are split among."""
    appeal = settings.donation.get(language)
    return variant_ids(len(appeal.variants) if appeal is not None else 0)


def variant_index(email: str, count: int) -> int:
    """The appeal variant of ``email`` among ``count``: stable, and even over many readers."""
    digest = hashlib.sha256(email.lower().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def choose(
    email: str,
    giving: Giving | None,
    *,
    now: datetime,
    thanks_days: int,
    appeals: tuple[str, ...],
) -> str:
    """The block a reader's message carries (see the table above)."""
    if giving is None:
        return appeals[variant_index(email, len(appeals))] if len(appeals) > 1 else appeals[0]
    recurring = giving.last_recurring
    if recurring is not None and now - recurring <= timedelta(days=RECURRING_DAYS):
        return THANKS
    if now - giving.last <= timedelta(days=thanks_days):
        return THANKS
    return RENEW


def alternatives(settings: Settings, language: str, url: str) -> list[dict[str, str]]:
    """Every wording of the block in ``language``: the appeal, its variants, thanks, renew.

    Each has ``variant`` (its identifier, which counted links carry) and
    ``kind`` (``appeal``, ``thanks`` or ``renew``); thanks has no button.
    """
    appeal = settings.donation.get(language)
    if appeal is None:
        return []
    title = settings.site.title_in(language)
    table = words.labels(settings.words, language)

    def block(variant: str, kind: str, heading: str, text: str, button: str) -> dict[str, str]:
        return {
            "heading": heading,
            "text": text,
            "button_label": button,
            "url": url if button else "",
            "variant": variant,
            "kind": kind,
        }

    blocks = [block(APPEAL, APPEAL, appeal.heading, appeal.text, appeal.button_label)]
    for ident, variant in zip(variant_ids(len(appeal.variants)), appeal.variants, strict=False):
        blocks.append(block(ident, APPEAL, variant.heading, variant.text, variant.button_label))
    blocks.append(
        block(
            THANKS,
            THANKS,
            appeal.thanks_heading or table["donation_thanks_heading"],
            appeal.thanks_text or table["donation_thanks_text"].format(title=title),
            "",
        )
    )
    blocks.append(
        block(
            RENEW,
            RENEW,
            appeal.renew_heading or table["donation_renew_heading"],
            appeal.renew_text or table["donation_renew_text"].format(title=title),
            appeal.button_label,
        )
    )
    return blocks


@dataclass(frozen=True)
class Blocks:
    """The donation block's wordings of one part (HTML or text) of an edition.

    Attributes:
        span: where the plain appeal sits in the stored part (start, end).
        by_variant: each wording as the part holds it, by identifier.
    """

    span: tuple[int, int]
    by_variant: Mapping[str, str]

    def as_json(self) -> dict[str, Any]:
        """What the edition record keeps (``extra["donation"]["html"]``)."""
        return {"span": list(self.span), "blocks": dict(self.by_variant)}

    @classmethod
    def from_json(cls, data: Any, part: str) -> Blocks | None:
        """The blocks kept on a record, when they still match ``part``."""
        if not isinstance(data, Mapping):
            return None
        span, blocks = data.get("span"), data.get("blocks")
        if not (isinstance(span, list) and len(span) == 2 and isinstance(blocks, Mapping)):
            return None
        start, end = int(span[0]), int(span[1])
        if part[start:end] != blocks.get(APPEAL):
            return None  # the part was changed after it was rendered
        return cls((start, end), {str(k): str(v) for k, v in blocks.items()})


def split(rendered: str, *, html: bool) -> tuple[str, Blocks | None]:
    """``rendered`` with the plain appeal alone in place of every wording, and the wordings.

    Without markers (a theme's own template, or no ``[donation.LANG]``)
    ``rendered`` is returned as it is, with ``None``.
    """
    found = list((_HTML if html else _TEXT).finditer(rendered))
    if not found:
        return rendered, None
    by_variant = {match.group(1): match.group(2) for match in found}
    plain = by_variant.get(APPEAL, found[0].group(2))
    by_variant[APPEAL] = plain
    head, tail = rendered[: found[0].start()], rendered[found[-1].end() :]
    return head + plain + tail, Blocks((len(head), len(head) + len(plain)), by_variant)


def largest(part: str, blocks: Blocks | None) -> str:
    """``part`` (as :func:`split` keeps it) with its longest wording in place of the appeal."""
    if blocks is None:
        return part
    longest = max(blocks.by_variant.values(), key=lambda block: len(block.encode("utf-8")))
    start, end = blocks.span
    return part[:start] + longest + part[end:]
