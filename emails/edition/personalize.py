"""Per-subscriber parts, filled in after the CSS is inlined: plain string work.

An edition is rendered and inlined once with placeholders where each reader's
greeting and personal links go. :class:`Template` splits that text at the
placeholders once; :meth:`Template.fill` joins the pieces with one reader's
values. In HTML the values are escaped; in the text twin they are not.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

GREETING: Final = "%%bs:greeting%%"
UNSUBSCRIBE_URL: Final = "%%bs:unsubscribe_url%%"
PREFERENCES_URL: Final = "%%bs:preferences_url%%"

SLOTS: Final = ("greeting", "unsubscribe_url", "preferences_url")
"""The names of the personal values, in the order :class:`Personal` holds them."""

_PLACEHOLDER = re.compile(r"%%bs:(greeting|unsubscribe_url|preferences_url)%%")
_MARKER = "%%bs:"


@dataclass(frozen=True, slots=True)
class Personal:
    """One reader's values for the placeholders.

    Attributes:
        greeting: "Hello Anna," or the neutral greeting.
        unsubscribe_url: the reader's signed one-click unsubscribe link.
        preferences_url: the reader's signed preferences link.
    """

    greeting: str
    unsubscribe_url: str
    preferences_url: str

    def values(self, *, escape: bool) -> dict[str, str]:
        """The values by slot name, HTML-escaped when ``escape``."""
        raw = {
            "greeting": self.greeting,
            "unsubscribe_url": self.unsubscribe_url,
            "preferences_url": self.preferences_url,
        }
        if not escape:
            return raw
        return {name: html.escape(value, quote=True) for name, value in raw.items()}


@dataclass(frozen=True, slots=True)
class Template:
    """A text split at its placeholders.

    Attributes:
        pieces: the fixed text around the placeholders (one more than ``slots``).
        slots: the slot name at each gap between two pieces.
    """

    pieces: tuple[str, ...]
    slots: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        """Split ``text`` at every placeholder."""
        parts = _PLACEHOLDER.split(text)
        return cls(pieces=tuple(parts[0::2]), slots=tuple(parts[1::2]))

    def fill(self, values: Mapping[str, str]) -> str:
        """The text with each slot replaced by its value."""
        out = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:], strict=True):
            out.append(values[slot])
            out.append(piece)
        return "".join(out)


def fill_html(template: str, personal: Personal) -> str:
    """An HTML template with ``personal``'s values, escaped, in its placeholders."""
    return Template.parse(template).fill(personal.values(escape=True))


def fill_text(template: str, personal: Personal) -> str:
    """A plain-text template with ``personal``'s values in its placeholders."""
    return Template.parse(template).fill(personal.values(escape=False))


def defuse(text: str) -> str:
    """``text`` (from content) made unable to pose as a placeholder."""
    return text.replace(_MARKER, "%%\u200bbs:") if _MARKER in text else text
