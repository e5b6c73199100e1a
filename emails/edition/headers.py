"""Message headers: encoded, folded, and safe from header injection.

Every value that comes from content or from a subscriber (names, titles)
goes through :func:`clean` first: line breaks and control characters become
spaces, so no CR or LF can ever start a header of its own. Non-ASCII text is
written as RFC 2047 encoded-words; every physical line ends in CRLF and stays
far below the 998-octet limit.

Headers shared by every message of an edition are folded once; the few
that differ per reader (To, Message-ID, List-Unsubscribe) cost plain string
work per message.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from datetime import datetime
from email.utils import format_datetime
from typing import Final

from broadsheet.config import Settings
from broadsheet.emails.edition.tokens import purpose_key
from broadsheet.errors import RenderError
from broadsheet.model import Frequency

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
# One mailbox, as checked addresses are: nothing that could end the angle
# brackets or start another address.
_ADDR_SPEC = re.compile(r"[!#-'*+\-/-9=?A-Z^-~.]+@[A-Za-z0-9.\-\[\]:]+")
_WORD_BYTES: Final = 42  # 42 bytes -> 56 base64 chars -> a 68-char encoded-word

SUBJECT_LIMIT: Final = 180
"""Longest subject kept, in characters; a longer lead title is shortened."""


def clean(value: str, *, limit: int = 250) -> str:
    """``value`` on one line: controls and line breaks become single spaces.

    Args:
        value: any text, from content or a subscriber.
        limit: longest result in characters; longer text ends with "…".
    """
    text = " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFC", value)).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 base64 encoded-words, each at most 75 characters."""
    words: list[str] = []
    chunk = bytearray()
    for char in text:
        data = char.encode("utf-8")
        if len(chunk) + len(data) > _WORD_BYTES:
            words.append(_word(bytes(chunk)))
            chunk.clear()
        chunk.extend(data)
    if chunk:
        words.append(_word(bytes(chunk)))
    return words


def _word(data: bytes) -> str:
    return "=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="


def _phrase_tokens(name: str) -> list[str]:
    """A display name as unbreakable tokens: one quoted string, or encoded-words."""
    if name.isascii() and "=?" not in name:
        if _SPECIALS.search(name):
            escaped = name.replace("\\", "\\\\").replace('"', '\\"')
            return [f'"{escaped}"']
        return name.split(" ")
    return _encoded_words(name)


def fold(name: str, tokens: list[str]) -> str:
    """``Name: tokens`` folded between tokens at 78 characters, CRLF-terminated."""
    lines: list[str] = []
    line = f"{name}:"
    for token in tokens:
        if len(line) + 1 + len(token) > 78 and line != f"{name}:":
            lines.append(line)
            line = " " + token
        else:
            line += " " + token
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def address_tokens(name: str, email: str) -> list[str]:
    """The tokens of ``"Display Name" <email>``, the name cleaned and encoded."""
    display = clean(name, limit=120)
    mailbox = f"<{clean(email, limit=320)}>"
    if not display:
        return [mailbox]
    return [*_phrase_tokens(display), mailbox]


def address(field: str, name: str, email: str) -> str:
    """An address header (From, To, Reply-To): ``Field: Name <email>``, folded, CRLF.

    Every address header of every message is built here, so that no name
    can split it: the name is cleaned (no line breaks or controls, at most
    120 characters) and written as one quoted string or as encoded-words,
    never as bare words a reader could take for a second address; folding
    happens only between whole tokens. The header parses back, by an
    RFC 5322 parser or one that knows no RFC 2047, to exactly one address,
    ``email``.

    Args:
        field: the header's name.
        name: the display name, from settings or a subscriber (may be empty).
        email: a checked address (``local@domain``, ASCII).

    Raises:
        ValueError: ``email`` is not a bare ``local@domain`` address.
    """
    if not _ADDR_SPEC.fullmatch(email):
        raise ValueError(f"{email!r} is not an address that can go in a {field} header")
    return fold(field, address_tokens(name, email))


def text_tokens(text: str) -> list[str]:
    """Unstructured text as tokens: ASCII words as they are, other runs encoded.

    Consecutive words that need encoding become one run of encoded-words
    with their spaces inside, because a decoder drops the whitespace between
    two encoded-words.
    """
    out: list[str] = []
    run: list[str] = []
    for word in text.split(" "):
        if word.isascii() and "=?" not in word:
            if run:
                out.extend(_encoded_words(" ".join(run)))
                run = []
            out.append(word)
        else:
            run.append(word)
    if run:
        out.extend(_encoded_words(" ".join(run)))
    return out


def unstructured(name: str, value: str, *, limit: int = 900) -> str:
    """An unstructured header (Subject, Feedback-ID…) cleaned, encoded, folded, CRLF."""
    return fold(name, text_tokens(clean(value, limit=limit)))


def message_id(edition_id: str, subscriber_id: int, domain: str, *, secret: str) -> str:
    """``<…@domain>``: the same edition and subscriber always give the same id.

    The digest is keyed by the publication's secret: ``broadsheet inbox``
    trusts a report quoting one of these ids (a complaint that carries no
    token of ours), so nobody may make one up from an edition id and a
    guessed subscriber number.
    """
    digest = hashlib.blake2b(
        f"{edition_id}/{subscriber_id}".encode(),
        digest_size=10,
        key=purpose_key(secret, "message-id"),
    ).hexdigest()
    local = re.sub(r"[^A-Za-z0-9.-]", "-", edition_id)
    return f"<{local}.{digest}@{domain}>"


def date(moment: datetime, settings: Settings) -> str:
    """An RFC 5322 date in the site's time zone."""
    return format_datetime(moment.astimezone(settings.site.tz))


def subject(
    settings: Settings,
    *,
    language: str,
    frequency: Frequency,
    date_text: str,
    lead: str,
) -> str:
    """The edition's subject from its per-language template.

    The template comes from ``newsletters.FREQUENCY.subject.LANG``, else the
    catalogs; ``{title}``, ``{date}`` and ``{lead}`` are filled in.

    Raises:
        RenderError: the configured template uses another field.
    """
    configured = settings.newsletters[frequency].subject.get(language)
    # Without it, the catalog's subject (``subject.daily``, ``subject.weekly``), else English.
    default = f"subject.{frequency}"
    template = (
        configured
        or settings.words.built_in_word(default, language)
        or settings.words.built_in_word(default, "en")
        or "{title}: {lead}"
    )
    title = clean(settings.site.title_in(language), limit=60)
    fields = {"title": title, "date": clean(date_text, limit=40), "lead": clean(lead)}
    try:
        text = template.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        key = f"newsletters.{frequency}.subject.{language}"
        raise RenderError(
            f"{settings.path}: {key}: only {{title}}, {{date}} and {{lead}} may be used ({exc})"
        ) from None
    text = clean(text, limit=10_000)
    if len(text) > SUBJECT_LIMIT:
        room = SUBJECT_LIMIT - (len(text) - len(fields["lead"]))
        fields["lead"] = clean(lead, limit=max(room, 20))
        text = clean(template.format(**fields), limit=SUBJECT_LIMIT)
    return text
