"""Published files over HTTP: the feeds and the web archive of editions.

Each folder is served with the right media types and cache headers, and
with conditional GET (ETag, Last-Modified, 304 answers); an ETag is made
weak when the body is compressed on the way out.

A 304 stands for the 200 it saves sending, so it carries that 200's
validator and ``Vary`` (RFC 9110 15.4.5): the weak ETag and
``Vary: Accept-Encoding`` the gzip layer would have given the full body.
Caches keep the validator a 304 sends; newsboat's, given a strong tag on
the 304 of a weak 200, kept flipping between the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["GZIP_MINIMUM_SIZE", "PublishedFiles", "WeakETagWhenEncoded"]

GZIP_MINIMUM_SIZE = 500
"""Bodies from this size on go through the app's GZipMiddleware (``minimum_size``):
compressed when the client accepts gzip, and given ``Vary: Accept-Encoding`` either way."""

_FEED_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}


class PublishedFiles(StaticFiles):
    """A folder of published files with the right types and cache headers.

    Feeds are sent with their own media types; a browser (asking for HTML
    and for no feed type) gets RSS and Atom as ``application/xml`` so it
    shows them through their XSL stylesheet instead of downloading them.
    Dot files (publisher state) are never served.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_age: int,
        json_type: str = "application/json",
        gzip_minimum_size: int | None = GZIP_MINIMUM_SIZE,
    ) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)
        self.max_age = max_age
        self.json_type = json_type
        self.gzip_minimum_size = gzip_minimum_size

    def is_not_modified(self, response_headers: Headers, request_headers: Headers) -> bool:
        since = request_headers.get("if-modified-since")
        if since and "if-none-match" not in request_headers:
            when = _http_date(since)
            if when is None or when > datetime.now(UTC):
                # RFC 9110 13.1.3: an invalid date, and one later than the
                # server's clock is invalid, is ignored.
                return False
        return bool(super().is_not_modified(response_headers, request_headers))

    def file_response(
        self,
        full_path: Any,
        stat_result: Any,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        path = Path(full_path)
        accept = Headers(scope=scope).get("accept", "")
        media_type, vary = _media_type(path, accept, self.json_type)
        response = FileResponse(
            full_path, status_code=status_code, stat_result=stat_result, media_type=media_type
        )
        response.headers["Cache-Control"] = f"public, max-age={self.max_age}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        if vary:
            response.headers["Vary"] = "Accept"
        request = Headers(scope=scope)
        if self.is_not_modified(response.headers, request):
            from starlette.staticfiles import NotModifiedResponse

            if self._through_gzip(stat_result.st_size, response.media_type):
                # What the gzip layer does to the 200 (see the module docstring).
                response.headers.add_vary_header("Accept-Encoding")
                etag = response.headers.get("etag")
                if "gzip" in request.get("accept-encoding", "") and etag:
                    response.headers["etag"] = etag if etag.startswith("W/") else "W/" + etag
            return NotModifiedResponse(response.headers)
        return response

    def _through_gzip(self, size: int, media_type: str | None) -> bool:
        """Whether the gzip layer handles a body of ``size`` bytes of ``media_type``."""
        if self.gzip_minimum_size is None or size < self.gzip_minimum_size:
            return False
        kind = (media_type or "").partition(";")[0].strip().lower()
        return not {kind, kind.partition("/")[0] + "/*"} & set(DEFAULT_EXCLUDED_CONTENT_TYPES)

    async def check_config(self) -> None:
        # The folder appears with the first build; until then, answer 404.
        return None

    async def get_response(self, path: str, scope: Scope) -> Response:
        if any(part.startswith(".") for part in Path(path).parts):
            return PlainTextResponse("Not Found", status_code=404)
        response = await super().get_response(path, scope)
        if isinstance(response, RedirectResponse) and not scope["path"].endswith("/"):
            # A folder asked for without its slash. Starlette answers with an
            # absolute URL built from this request, which loses the prefix a
            # proxy strips (/newsletter/editions/en -> /editions/en/); a
            # relative reference (RFC 9110) resolves against what the browser
            # asked for, prefix and all.
            last = scope["path"].rstrip("/").rsplit("/", 1)[-1]
            query = scope.get("query_string", b"").decode("latin-1")
            response.headers["location"] = quote(last) + "/" + (f"?{query}" if query else "")
        return response


def _http_date(value: str) -> datetime | None:
    """An HTTP date as an aware datetime, or ``None`` when it is not one."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _media_type(path: Path, accept: str, json_type: str) -> tuple[str | None, bool]:
    """The media type of a published file, and whether it depends on Accept."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix in _FEED_TYPES:
        browser = "text/html" in accept and not any(t in accept for t in _FEED_TYPES.values())
        return ("application/xml" if browser else _FEED_TYPES[suffix]) + "; charset=utf-8", True
    if suffix == "json":
        if path.name == "index.json":
            return "application/json", False
        return json_type, False
    if suffix == "xsl":
        return "text/xsl; charset=utf-8", False
    return None, False


class WeakETagWhenEncoded:
    """Mark an ETag weak when the body was compressed on the way out.

    The gzip body differs byte for byte from the file the ETag describes;
    RFC 9110 calls for a weak validator then. Conditional requests still
    match: the weak tag comes back in If-None-Match and compares equal.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message["headers"])
                etag = headers.get("etag")
                if etag and "content-encoding" in headers and not etag.startswith("W/"):
                    headers["etag"] = "W/" + etag
            await send(message)

        await self.app(scope, receive, sending)
