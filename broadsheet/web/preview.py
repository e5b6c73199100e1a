"""Preview pages of built editions, for the people who edit them.

``GET /preview/EDITION?token=…`` shows the edition's email as a reader
without a name would get it, at desktop width and at 375 px side by side,
the size of its HTML against ``[emails] clip_limit`` (what the clipping
guard measured and left out, when it ran; otherwise the size of this
neutral HTML), and its plain-text twin. The link is signed for that
edition (a ``preview`` token, :func:`broadsheet.emails.edition.tokens.sign_name`)
and printed by ``broadsheet edition build``; without a valid token the
answer is 403 and tells nothing of the edition, and a valid token for an
edition not in the store gets 404. The page only reads.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from broadsheet.config import Settings
from broadsheet.emails.edition import labels, tokens
from broadsheet.emails.edition.personalize import Personal, fill_html, fill_text
from broadsheet.model import EditionRecord
from broadsheet.store import Store

__all__ = ["MAX_AGE", "Previews", "preview_token", "preview_url"]

MAX_AGE = 30 * 86400
"""Seconds a preview link works after `edition build` printed it."""

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    # The page has no scripts; the edition in its frames is sandboxed too.
    "Content-Security-Policy": "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
    "frame-src 'self' about:; frame-ancestors 'none'",
}


def preview_token(secret: str, edition_id: str) -> str:
    """The token of the preview link of ``edition_id``."""
    return tokens.sign_name(secret, "preview", edition_id)


def preview_url(settings: Settings, secret: str, edition_id: str) -> str:
    """The signed preview link of ``edition_id`` on `broadsheet serve`."""
    return f"{settings.links_url}/preview/{edition_id}?token={preview_token(secret, edition_id)}"


@dataclass(frozen=True)
class Size:
    """The HTML size of an edition against the clipping limit.

    Attributes:
        size: bytes of the largest personalised HTML part (or of the neutral HTML).
        limit: ``emails.clip_limit``.
        fits: whether ``size`` is within ``limit``.
        dropped: blocks the clipping guard left out of the email, in order.
        measured: whether the clipping guard measured it when the edition was built.
    """

    size: int
    limit: int
    fits: bool
    dropped: tuple[str, ...]
    measured: bool


def edition_size(settings: Settings, record: EditionRecord, neutral_html: str) -> Size:
    """What the clipping guard recorded for ``record``, else the size of ``neutral_html``."""
    clip = record.extra.get("clip")
    if isinstance(clip, dict) and isinstance(clip.get("size"), int):
        limit = clip.get("limit")
        return Size(
            size=int(clip["size"]),
            limit=int(limit) if isinstance(limit, int) else settings.emails.clip_limit,
            fits=bool(clip.get("fits", True)),
            dropped=tuple(str(step) for step in clip.get("dropped") or ()),
            measured=True,
        )
    size = len(neutral_html.encode("utf-8"))
    limit = settings.emails.clip_limit
    return Size(size=size, limit=limit, fits=size <= limit, dropped=(), measured=False)


def _neutral(settings: Settings, language: str) -> Personal:
    """The personal values of a preview: no name, links without a token."""
    return Personal(
        greeting=labels.greeting(settings.words, language, ""),
        unsubscribe_url=f"{settings.links_url}/unsubscribe",
        preferences_url=f"{settings.links_url}/preferences",
    )


def _page(record: EditionRecord, email_html: str, text: str, size: Size) -> str:
    e = html.escape
    frame = e(email_html, quote=True)
    verdict = "fits" if size.fits else "OVER THE LIMIT: clients will clip it"
    how = "measured by the clipping guard" if size.measured else "size of this preview's HTML"
    left_out = ", ".join(step.replace("_", " ") for step in size.dropped)
    dropped = f"<p>Left out of the email to fit: {e(left_out)}.</p>" if size.dropped else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>Preview: {e(record.id)}</title>
<style>
body {{ margin: 0; padding: 16px 24px; font: 15px/1.45 system-ui, sans-serif;
  background: #eceae4; color: #1c1c1c; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }}
.meta {{ margin: 0 0 12px; color: #4a4a4a; }}
.size {{ font-weight: bold; }}
.size.over {{ color: #a40000; }}
.frames {{ display: flex; gap: 24px; align-items: flex-start; overflow-x: auto; }}
figure {{ margin: 0; }}
figcaption {{ font-size: 13px; color: #4a4a4a; margin-bottom: 4px; }}
iframe {{ border: 1px solid #b9b5aa; background: #fff; height: 1400px; }}
.desktop {{ width: 800px; }}
.mobile {{ width: 375px; }}
pre {{ background: #fff; border: 1px solid #b9b5aa; padding: 12px; white-space: pre-wrap;
  max-width: 80ch; }}
</style>
</head>
<body>
<h1>{e(record.subject)}</h1>
<p class="meta">{e(record.id)} · {e(record.language)} · {e(str(record.frequency))} ·
{len(record.new_ids)} new articles</p>
<p class="size{"" if size.fits else " over"}" id="size">HTML {size.size:,} of {size.limit:,} bytes
({how}): {verdict}.</p>
{dropped}
<div class="frames">
<figure><figcaption>Desktop</figcaption>
<iframe class="desktop" title="Desktop" sandbox srcdoc="{frame}"></iframe></figure>
<figure><figcaption>375 px</figcaption>
<iframe class="mobile" title="375 px" sandbox srcdoc="{frame}"></iframe></figure>
</div>
<h2>Plain text</h2>
<pre id="text">{e(text)}</pre>
</body>
</html>
"""


class Previews:
    """The preview pages of one publication.

    Args:
        settings: its settings.
        store: its store.
        secret: the link-signing secret.
    """

    def __init__(self, settings: Settings, store: Store, *, secret: str) -> None:
        self.settings = settings
        self.store = store
        self.secret = secret

    def _record(self, edition_id: str) -> EditionRecord | None:
        with self.store.read() as tx:
            return tx.editions.get(edition_id)

    async def page(self, request: Request) -> Response:
        """``GET /preview/EDITION?token=``: the preview, or 403 / 404 and nothing of it."""
        edition_id = str(request.path_params["edition"])
        token = request.query_params.get("token", "")
        try:
            tokens.verify_name(self.secret, token, "preview", edition_id, MAX_AGE)
        except tokens.BadToken as exc:
            return PlainTextResponse(f"{exc}\n", status_code=403, headers=_HEADERS)
        record = await run_in_threadpool(self._record, edition_id)
        if record is None:
            return PlainTextResponse(
                f"no edition {edition_id} in the store\n", status_code=404, headers=_HEADERS
            )
        personal = _neutral(self.settings, record.language)
        email_html = fill_html(record.html, personal)
        text = fill_text(record.text, personal)
        size = edition_size(self.settings, record, email_html)
        return HTMLResponse(_page(record, email_html, text, size), headers=_HEADERS)
