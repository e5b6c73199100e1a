"""Counted links: ``GET /r/TOKEN`` counts one click and redirects to the real URL.

The token (:func:`broadsheet.emails.edition.tokens.sign_link`) names an
edition and one of its links, never a reader. A ``GET`` whose token verifies
and names a link the store holds for that edition adds one to that link's
count (one ``UPDATE``) and answers ``303 See Other`` to the URL stored with
the edition, UTM parameters included. Nothing else is kept: no address, no
cookie, and no access-log line (:class:`NoClickLog`, installed by
``broadsheet serve``).

- A forged or altered token, or one naming a link the edition did not carry,
  gets a 404 page, and nothing is counted: the redirect goes only to URLs an
  edition really carried, never to one the request names (no open redirect).
- ``HEAD`` redirects the same way without counting: mail scanners and link
  previewers check links with it.
- When the store fails, the answer is 503 with ``Retry-After`` (the app's
  handler).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from broadsheet.config import Settings
from broadsheet.emails.edition import labels, render, tokens
from broadsheet.emails.subscriptions import pagetext
from broadsheet.store import Store

__all__ = ["NoClickLog", "Redirects", "quiet_access_log"]

log = logging.getLogger(__name__)

_HEADERS = {
    # A redirect of a message's link: not to be cached (each click counts),
    # and the token is not passed on as a Referer.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}


_COUNTED_PATH = re.compile(r"/r/[^/?]*(\?.*)?$")


class NoClickLog(logging.Filter):
    """Keeps counted-link requests out of uvicorn's access log.

    A client's address beside the link it followed would say who read what;
    the count is all that is wanted. uvicorn's access records carry
    ``(client, method, path, http version, status)`` as their arguments.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            return _COUNTED_PATH.search(args[2]) is None
        return True


def quiet_access_log() -> None:
    """Install :class:`NoClickLog` on uvicorn's access logger (once)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(each, NoClickLog) for each in logger.filters):
        logger.addFilter(NoClickLog())


class Redirects:
    """The counted-link redirects of one publication.

    Args:
        settings: its settings.
        store: its store.
        secret: the link-signing secret.
    """

    def __init__(self, settings: Settings, store: Store, *, secret: str) -> None:
        self.settings = settings
        self.store = store
        self.secret = secret

    def _follow(self, edition_id: str, key: str, *, count: bool) -> str | None:
        if count:
            with self.store.write() as tx:
                return tx.links.click(edition_id, key)
        with self.store.read() as tx:
            return tx.links.target(edition_id, key)

    def _not_found(self, request: Request) -> Response:
        """The 404 page of a link that leads nowhere, in the reader's language."""
        language = pagetext.pick_language(
            [], request.headers.get("accept-language", ""), self.settings.site.languages
        )
        site = self.settings.site
        context: dict[str, Any] = {
            "lang": language,
            "dir": labels.text_direction(language),
            "t": pagetext.words(self.settings.words, language),
            **self.settings.words.gettext_callables(language),
            "site_title": site.title_in(language),
            "site_url": site.url,
            "accent": site.accent_color,
            "heading": pagetext.word(self.settings.words, language, "bad_link_title"),
            "paragraphs": [pagetext.word(self.settings.words, language, "link_gone_text")],
            "link": None,
        }
        body = render.render("web/message.html.j2", context, theme=self.settings.emails.theme)
        return HTMLResponse(body, status_code=404, headers=_HEADERS)

    async def follow(self, request: Request) -> Response:
        """``GET|HEAD /r/TOKEN``: 303 to the link's URL (counted on GET), else 404."""
        token = str(request.path_params["token"])
        try:
            edition_id, key = tokens.verify_link(self.secret, token)
        except tokens.BadToken:
            log.info("refused a counted link with a bad token")
            return self._not_found(request)
        count = request.method == "GET"
        url = await run_in_threadpool(self._follow, edition_id, key, count=count)
        if url is None:
            log.info("counted link %s/%s: no such link in the store", edition_id, key)
            return self._not_found(request)
        return RedirectResponse(url, status_code=303, headers=_HEADERS)
