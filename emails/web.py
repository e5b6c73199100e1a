"""The HTTP side of the newsletter (Starlette): subscription pages, feeds, web archive.

==========================  ==================================================
``GET  /subscribe``         the subscription form
``POST /subscribe``         form or JSON (email, name, language, frequency,
                            topics): a pending subscriber and a confirmation
                            message; rate-limited per client address
``GET  /confirm?token=``    activates the pending subscriber
``GET  /unsubscribe?token=``  a page with a button; changes nothing by itself
                            (mail scanners follow links)
``POST /unsubscribe?token=``  unsubscribes at once and answers 200: RFC 8058
                            one-click (body ``List-Unsubscribe=One-Click``)
                            or the page's button; no cookie needed
``GET|POST /preferences?token=``  language, frequency, topics
``/feeds/…``, ``/editions/…``  ``feeds.out`` and ``emails.out`` with ETag,
                            Last-Modified, 304 answers and gzip
``GET  /health``            ``ok``, for load balancers
==========================  ==================================================

A forged, altered, expired or wrong-purpose token gets 400 and changes
nothing. Forms post to relative URLs, so the app works under any path
prefix a reverse proxy gives it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broadsheet.config import Settings
from broadsheet.content.subscribers import FieldProblem
from broadsheet.errors import DeliveryError
from broadsheet.model import Subscriber, SubscriberStatus
from broadsheet.store import Store
from emails import labels, pagetext, render
from emails.subscriptions import Subscriptions
from emails.tokens import BadToken
from emails.transports import Transport

log = logging.getLogger(__name__)

__all__ = ["RateLimit", "TokenBucket", "create_app"]

MAX_BODY = 64 * 1024
"""Largest request body accepted by the forms, in bytes."""

_PAGE_HEADERS = {
    # Tokens travel in the URL: never leak them through Referer, never cache.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


# --- rate limiting ---------------------------------------------------------------


@dataclass(frozen=True)
class RateLimit:
    """``count`` requests per ``seconds``, allowed in a burst.

    Written ``"10/hour"`` (units: second, minute, hour, day) or ``"10/600"``.
    """

    count: int
    seconds: float

    _UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Read ``"COUNT/UNIT"``; ValueError when it is not that."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\w+)\s*", text)
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"expected a limit like '10/hour', got {text!r}")
        count, unit = int(match.group(1)), match.group(2).lower().rstrip("s")
        if unit in cls._UNITS:
            return cls(count, cls._UNITS[unit])
        try:
            seconds = float(match.group(2))
        except ValueError:
            raise ValueError(f"unknown unit {match.group(2)!r} in {text!r}") from None
        if seconds <= 0:
            raise ValueError(f"expected a positive period in {text!r}")
        return cls(count, seconds)


class TokenBucket:
    """Per-key token buckets in memory: ``limit.count`` tokens, refilled evenly.

    Keys no longer limited are forgotten first when more than ``max_keys``
    are held, so memory stays bounded whatever the traffic.
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limit = limit
        self.clock = clock
        self.max_keys = max_keys
        self._rate = limit.count / limit.seconds
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 when allowed, else the seconds to wait."""
        now = self.clock()
        tokens, stamp = self._buckets.pop(key, (float(self.limit.count), now))
        tokens = min(float(self.limit.count), tokens + (now - stamp) * self._rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / self._rate
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


# --- static files ----------------------------------------------------------------

_FEED_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}


class PublishedFiles(StaticFiles):
    """A folder of published files with the right types and cache headers.

    Feeds are sent with their own media types; a browser (asking for HTML
    and for no feed type) gets RSS and Atom as ``application/xml`` so it
    shows them through their XSL stylesheet instead of downloading them.
    Dot files (publisher state) are never served.
    """

    def __init__(self, directory: Path, *, max_age: int) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)
        self.max_age = max_age

    def file_response(
        self,
        full_path: Any,
        stat_result: Any,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        path = Path(full_path)
        accept = Headers(scope=scope).get("accept", "")
        media_type, vary = _media_type(path, accept)
        response = FileResponse(
            full_path, status_code=status_code, stat_result=stat_result, media_type=media_type
        )
        response.headers["Cache-Control"] = f"public, max-age={self.max_age}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        if vary:
            response.headers["Vary"] = "Accept"
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            from starlette.staticfiles import NotModifiedResponse

            return NotModifiedResponse(response.headers)
        return response

    async def check_config(self) -> None:
        # The folder appears with the first build; until then, answer 404.
        return None

    async def get_response(self, path: str, scope: Scope) -> Response:
        if any(part.startswith(".") for part in Path(path).parts):
            return PlainTextResponse("Not Found", status_code=404)
        return await super().get_response(path, scope)


def _media_type(path: Path, accept: str) -> tuple[str | None, bool]:
    """The media type of a published file, and whether it depends on Accept."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix in _FEED_TYPES:
        browser = "text/html" in accept and not any(t in accept for t in _FEED_TYPES.values())
        return ("application/xml" if browser else _FEED_TYPES[suffix]) + "; charset=utf-8", True
    if suffix == "json":
        if path.name == "index.json":
            return "application/json", False
        return "application/feed+json", False
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


# --- pages -----------------------------------------------------------------------


class _Pages:
    """Request handlers bound to one publication."""

    def __init__(
        self,
        settings: Settings,
        subscriptions: Subscriptions,
        *,
        per_client: TokenBucket,
        per_address: TokenBucket,
    ) -> None:
        self.settings = settings
        self.subs = subscriptions
        self.per_client = per_client
        self.per_address = per_address

    # helpers -----------------------------------------------------------------

    def _page(
        self,
        template: str,
        language: str,
        heading: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        site = self.settings.site
        full: dict[str, Any] = {
            "lang": language,
            "dir": labels.text_direction(language),
            "t": pagetext.words(language),
            "site_title": site.title_in(language),
            "site_url": site.url,
            "accent": site.accent_color,
            "heading": heading,
            "paragraphs": [],
            "link": None,
        }
        full.update(context)
        body = render.render(f"web/{template}", full)
        return HTMLResponse(body, status_code=status, headers={**_PAGE_HEADERS, **(headers or {})})

    def _message(
        self,
        language: str,
        title_key: str,
        *paragraphs: str,
        status: int = 200,
        link: dict[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        heading = pagetext.word(language, title_key)
        return self._page(
            "message.html.j2",
            language,
            heading,
            status=status,
            paragraphs=list(paragraphs),
            link=link,
            headers=headers,
        )

    def _language(self, request: Request, *candidates: str | None) -> str:
        return pagetext.pick_language(
            [*candidates, request.query_params.get("lang")],
            request.headers.get("accept-language", ""),
            self.settings.site.languages,
        )

    def _bad_link(self, request: Request, exc: BadToken) -> Response:
        log.info("refused a link (%s) from %s", exc, _client(request))
        language = self._language(request)
        words = pagetext.words(language)
        if _wants_json(request):
            return JSONResponse({"error": "bad-token", "message": str(exc)}, status_code=400)
        return self._message(
            language,
            "bad_link_title",
            words["bad_link_text"],
            status=400,
            link={"url": "subscribe", "label": words["subscribe_button"]},
        )

    def _languages(self, language: str) -> list[dict[str, str]]:
        return [
            {"code": code, "name": labels.language_name(code, language)}
            for code in self.settings.site.languages
        ]

    def _title(self, language: str) -> str:
        return self.settings.site.title_in(language)

    # subscribe -----------------------------------------------------------------

    async def subscribe_form(self, request: Request) -> Response:
        language = self._language(request)
        return await self._subscribe_page(request, language, {}, [])

    async def _subscribe_page(
        self,
        request: Request,
        language: str,
        values: Mapping[str, Any],
        errors: list[str],
        *,
        status: int = 200,
    ) -> Response:
        topics = await run_in_threadpool(self.subs.topics, values.get("language") or language)
        shown = {
            "email": values.get("email", ""),
            "name": values.get("name", ""),
            "language": values.get("language") or language,
            "frequency": values.get("frequency") or "weekly",
            "topics": list(values.get("topics") or ()),
        }
        title = self._title(language)
        return self._page(
            "subscribe.html.j2",
            language,
            pagetext.word(language, "subscribe_title", title=title),
            status=status,
            intro=pagetext.word(language, "subscribe_intro"),
            languages=self._languages(language),
            topics=topics,
            values=shown,
            errors=errors,
        )

    async def subscribe(self, request: Request) -> Response:
        as_json = _wants_json(request)
        try:
            values = await _submitted(request)
        except _BadBody as exc:
            return _body_error(exc, as_json)
        language = self._language(request, _text(values.get("language")))
        words = pagetext.words(language)
        wait = self.per_client.take(_client(request))
        if not wait:
            email_key = _text(values.get("email")).strip().lower()
            wait = self.per_address.take(email_key) if email_key else 0.0
        if wait:
            retry = {"Retry-After": str(max(1, round(wait)))}
            if as_json:
                return JSONResponse(
                    {"error": "rate-limited", "retry_after": max(1, round(wait))},
                    status_code=429,
                    headers=retry,
                )
            return self._message(
                language, "too_many_title", words["too_many_text"], status=429, headers=retry
            )
        email = _text(values.get("email"))
        fields: dict[str, Any] = {
            "email": email,
            "name": _text(values.get("name")),
            "language": _text(values.get("language")),
            "frequency": _text(values.get("frequency")),
            "topics": _topics(values.get("topics")),
        }
        if _text(values.get("website")):
            # The hidden field only robots fill in: answer as if all went well.
            log.info("ignored a robot's subscription from %s", _client(request))
            return self._pending_response(as_json, language, email)
        try:
            await run_in_threadpool(
                lambda: self.subs.request(
                    email=email,
                    name=fields["name"],
                    language=fields["language"],
                    frequency=fields["frequency"],
                    topics=fields["topics"],
                )
            )
        except FieldProblem as exc:
            if as_json:
                return JSONResponse(
                    {"error": "invalid", "field": exc.field, "message": exc.reason},
                    status_code=400,
                )
            problem = pagetext.word(
                language, "bad_field", field=words.get(exc.field, exc.field), reason=exc.reason
            )
            return await self._subscribe_page(request, language, fields, [problem], status=400)
        except DeliveryError as exc:
            log.error("could not send a confirmation message: %s", exc)
            if as_json:
                return JSONResponse(
                    {"error": "unavailable", "message": "try again later"}, status_code=503
                )
            return self._message(
                language, "unavailable_title", words["unavailable_text"], status=503
            )
        return self._pending_response(as_json, language, email)

    def _pending_response(self, as_json: bool, language: str, email: str) -> Response:
        if as_json:
            return JSONResponse({"status": "pending"}, status_code=202)
        return self._message(
            language,
            "check_inbox_title",
            pagetext.word(
                language,
                "check_inbox_text",
                email=email.strip(),
                hours=self.settings.links.confirm_max_age_hours,
            ),
        )

    # confirm -------------------------------------------------------------------

    async def confirm(self, request: Request) -> Response:
        try:
            outcome = await run_in_threadpool(self.subs.confirm, _token(request))
        except BadToken as exc:
            return self._bad_link(request, exc)
        person = outcome.subscriber
        language = self._language(request, person.language)
        title = self._title(language)
        if _wants_json(request):
            return JSONResponse({"status": outcome.result})
        if outcome.result == "stale":
            return self._message(
                language,
                "confirm_stale_title",
                pagetext.word(language, "confirm_stale_text"),
                link={"url": "subscribe", "label": pagetext.word(language, "subscribe_button")},
            )
        return self._message(
            language,
            "confirmed_title",
            pagetext.word(language, "confirmed_text", email=person.email, title=title),
            link={
                "url": "preferences?token=" + self.subs.sign("preferences", person),
                "label": pagetext.word(language, "preferences_title"),
            },
        )

    # unsubscribe ---------------------------------------------------------------

    async def unsubscribe_page(self, request: Request) -> Response:
        token = _token(request)
        try:
            person = await run_in_threadpool(self.subs.subscriber, token, "unsubscribe")
        except BadToken as exc:
            return self._bad_link(request, exc)
        language = self._language(request, person.language)
        title = self._title(language)
        if person.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED):
            return self._unsubscribed(language, person)
        return self._page(
            "unsubscribe.html.j2",
            language,
            pagetext.word(language, "unsubscribe_title"),
            question=pagetext.word(
                language, "unsubscribe_question", title=title, email=person.email
            ),
            action="unsubscribe?token=" + token,
        )

    async def unsubscribe(self, request: Request) -> Response:
        # RFC 8058: the POST itself is the request; its body only says so.
        # The token alone authorises it, so no cookie or CSRF token is needed.
        token = request.query_params.get("token", "")
        if not token:
            try:
                token = _text((await _submitted(request)).get("token"))
            except _BadBody as exc:
                return _body_error(exc, _wants_json(request))
        try:
            outcome = await run_in_threadpool(self.subs.unsubscribe, token)
        except BadToken as exc:
            return self._bad_link(request, exc)
        if _wants_json(request):
            return JSONResponse({"status": "unsubscribed"})
        language = self._language(request, outcome.subscriber.language)
        return self._unsubscribed(language, outcome.subscriber)

    def _unsubscribed(self, language: str, person: Subscriber) -> Response:
        return self._message(
            language,
            "unsubscribed_title",
            pagetext.word(
                language, "unsubscribed_text", email=person.email, title=self._title(language)
            ),
            link={
                "url": "preferences?token=" + self.subs.sign("preferences", person),
                "label": pagetext.word(language, "change_mind"),
            },
        )

    # preferences ---------------------------------------------------------------

    async def preferences(self, request: Request) -> Response:
        token = _token(request)
        try:
            person = await run_in_threadpool(self.subs.subscriber, token, "preferences")
        except BadToken as exc:
            return self._bad_link(request, exc)
        if request.method == "GET":
            return await self._preferences_page(request, token, person, {}, [])
        try:
            values = await _submitted(request)
        except _BadBody as exc:
            return _body_error(exc, _wants_json(request))
        language_chosen = _text(values.get("language")) or person.language
        frequency_chosen = _text(values.get("frequency")) or str(person.frequency)
        topics_chosen = _topics(values.get("topics"))
        chosen: dict[str, Any] = {
            "language": language_chosen,
            "frequency": frequency_chosen,
            "topics": topics_chosen,
        }
        resume = _text(values.get("resume")).lower() in ("yes", "on", "true", "1")
        try:
            outcome = await run_in_threadpool(
                lambda: self.subs.update(
                    token,
                    language=language_chosen,
                    frequency=frequency_chosen,
                    topics=topics_chosen,
                    resume=resume,
                )
            )
        except BadToken as exc:
            return self._bad_link(request, exc)
        except FieldProblem as exc:
            if _wants_json(request):
                return JSONResponse(
                    {"error": "invalid", "field": exc.field, "message": exc.reason},
                    status_code=400,
                )
            language = self._language(request, person.language)
            problem = pagetext.word(
                language,
                "bad_field",
                field=pagetext.words(language).get(exc.field, exc.field),
                reason=exc.reason,
            )
            return await self._preferences_page(
                request, token, person, chosen, [problem], status=400
            )
        if _wants_json(request):
            return JSONResponse({"status": outcome.result})
        after = outcome.subscriber
        language = self._language(request, after.language)
        return self._message(
            language,
            "saved_title",
            pagetext.word(language, "saved_text", email=after.email),
            link={
                "url": "preferences?token=" + token,
                "label": pagetext.word(language, "preferences_title"),
            },
        )

    async def _preferences_page(
        self,
        request: Request,
        token: str,
        person: Subscriber,
        values: Mapping[str, Any],
        errors: list[str],
        *,
        status: int = 200,
    ) -> Response:
        language = self._language(request, person.language)
        chosen_language = values.get("language") or person.language
        offered = await run_in_threadpool(self.subs.topics, chosen_language)
        current = list(values.get("topics") or person.topics)
        topics = offered + [t for t in current if t not in offered]
        notes = {
            SubscriberStatus.UNSUBSCRIBED: "status_unsubscribed",
            SubscriberStatus.BOUNCED: "status_bounced",
            SubscriberStatus.PENDING: "status_pending",
        }
        note_key = notes.get(person.status)
        active = person.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING)
        return self._page(
            "preferences.html.j2",
            language,
            pagetext.word(language, "preferences_title"),
            status=status,
            intro=pagetext.word(
                language, "preferences_intro", email=person.email, title=self._title(language)
            ),
            status_note=pagetext.word(language, note_key) if note_key else "",
            languages=self._languages(language),
            topics=topics,
            values={
                "language": chosen_language,
                "frequency": values.get("frequency") or str(person.frequency),
                "topics": current,
            },
            can_resume=person.status is SubscriberStatus.UNSUBSCRIBED,
            errors=errors,
            action="preferences?token=" + token,
            unsubscribe_action=(
                "unsubscribe?token=" + self.subs.sign("unsubscribe", person) if active else None
            ),
        )

    # misc ------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})

    async def home(self, request: Request) -> Response:
        return RedirectResponse("subscribe", status_code=303)


# --- request helpers ---------------------------------------------------------------


class _BadBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _body_error(exc: _BadBody, as_json: bool) -> Response:
    if as_json:
        return JSONResponse({"error": "bad-request", "message": str(exc)}, status_code=exc.status)
    return PlainTextResponse(str(exc), status_code=exc.status)


def _wants_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    accept = request.headers.get("accept", "")
    return kind.startswith("application/json") or (
        "application/json" in accept and "text/html" not in accept
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _token(request: Request) -> str:
    return request.query_params.get("token", "")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _topics(value: Any) -> list[str]:
    if isinstance(value, str):
        return [t for t in value.split(";") if t.strip()]
    if isinstance(value, list | tuple):
        return [t for t in value if isinstance(t, str) and t.strip()]
    return []


async def _submitted(request: Request) -> dict[str, Any]:
    """The fields of a form or JSON body (repeated form fields become lists)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise _BadBody(413, "request body too large")
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        body = await request.body()
        if len(body) > MAX_BODY:
            raise _BadBody(413, "request body too large")
        try:
            data = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise _BadBody(400, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise _BadBody(400, "expected a JSON object")
        return data
    if not kind:
        return {}
    try:
        form: FormData = await request.form(max_files=0, max_fields=100)
    except Exception as exc:  # malformed multipart / urlencoded bodies
        raise _BadBody(400, f"the form could not be read: {exc}") from None
    try:
        out: dict[str, Any] = {}
        for key in form:
            items = [v for v in form.getlist(key) if isinstance(v, str)]
            out[key] = items if key == "topics" else (items[0] if items else "")
        return out
    finally:
        await form.close()


# --- the app -------------------------------------------------------------------------


def create_app(
    settings: Settings,
    store: Store,
    *,
    now: Callable[[], datetime] | None = None,
    secret: str | None = None,
    transport: Callable[[], Transport] | None = None,
    subscribe_limit: RateLimit = RateLimit(10, 3600.0),
    address_limit: RateLimit = RateLimit(3, 3600.0),
    feeds_max_age: int = 300,
    editions_max_age: int = 3600,
) -> Starlette:
    """The `broadsheet serve` application.

    Args:
        settings: the publication's settings.
        store: its store.
        now: the clock (default: the system clock, in UTC).
        secret: the link-signing secret (default: from the environment or the store).
        transport: opens the transport for confirmation messages
            (default: ``delivery.transport``).
        subscribe_limit: ``POST /subscribe`` requests per client address.
        address_limit: confirmation messages per email address.
        feeds_max_age: Cache-Control max-age of feeds, in seconds.
        editions_max_age: Cache-Control max-age of the web archive, in seconds.
    """
    clock = now or (lambda: datetime.now(UTC))
    key = secret or store.link_secret(settings.secret(), env_name=settings.links.secret_env)
    subscriptions = Subscriptions(store, settings, secret=key, clock=clock, transport=transport)
    pages = _Pages(
        settings,
        subscriptions,
        per_client=TokenBucket(subscribe_limit),
        per_address=TokenBucket(address_limit),
    )
    routes = [
        Route("/", pages.home, methods=["GET"]),
        Route("/health", pages.health, methods=["GET"]),
        Route("/subscribe", pages.subscribe_form, methods=["GET"]),
        Route("/subscribe", pages.subscribe, methods=["POST"]),
        Route("/confirm", pages.confirm, methods=["GET"]),
        Route("/unsubscribe", pages.unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe", pages.unsubscribe, methods=["POST"]),
        Route("/preferences", pages.preferences, methods=["GET", "POST"]),
        Mount("/feeds", app=PublishedFiles(settings.feeds.out, max_age=feeds_max_age)),
        Mount("/editions", app=PublishedFiles(settings.emails.out, max_age=editions_max_age)),
    ]
    middleware = [
        Middleware(WeakETagWhenEncoded),
        Middleware(GZipMiddleware, minimum_size=500),
    ]

    app = Starlette(routes=routes, middleware=middleware)
    app.state.subscriptions = subscriptions
    return app
