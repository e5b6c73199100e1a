"""The HTTP side of the newsletter (Starlette): subscription pages, feeds, web archive.

==========================  ==================================================
``GET  /subscribe``         the subscription form
``POST /subscribe``         form or JSON (email, name, language, frequency,
                            topics): a pending subscriber and a confirmation
                            message; rate-limited per client network and
                            per inbox (in the store when it is PostgreSQL)
``GET  /confirm?token=``    a page with a button; changes nothing by itself
                            (mail scanners and link previews follow links)
``POST /confirm?token=``    activates the pending subscriber (the page's button)
``GET  /unsubscribe?token=``  a page with a button; changes nothing by itself
                            (mail scanners follow links)
``POST /unsubscribe?token=``  unsubscribes at once and answers 200: RFC 8058
                            one-click (body ``List-Unsubscribe=One-Click``)
                            or the page's button; no cookie needed
``GET|POST /preferences?token=``  language, frequency, topics
``GET  /preview/EDITION?token=``  a built edition at desktop and 375 px widths,
                            its HTML size against ``emails.clip_limit`` and
                            its text twin; the signed link is printed by
                            ``broadsheet edition build`` (else 403)
``/feeds/…``, ``/editions/…``  ``feeds.out`` and ``emails.out`` with ETag,
                            Last-Modified, 304 answers and gzip
``/…`` (anything else)      ``site.static`` when set: the site's own files,
                            such as ``/images/…``, with the same headers
``GET|HEAD /r/TOKEN``       a counted link (``[links] count_clicks``): 303 to
                            the URL the edition carried, one more click on GET
                            (never who); a forged or unknown token gets 404
``GET  /health``            ``ok`` when the store answers a trivial query,
                            else 503 with ``Retry-After``, for load balancers
==========================  ==================================================

When the store fails during a request (a database that cannot be reached or
went away, a full disk, a read-only file), the answer is 503 with
``Retry-After``, and the log has one line saying what failed, not a
traceback: nothing is wrong with the request, it may be sent again later.

Routes are set up by :func:`create_app`; the handlers are in
:mod:`broadsheet.web.pages`, the published folders are served by
:mod:`broadsheet.web.files`, and the subscription limits are
:mod:`broadsheet.emails.subscriptions.ratelimit`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from broadsheet.config import Settings
from broadsheet.emails.delivery.transports import Transport
from broadsheet.emails.subscriptions.flows import Subscriptions
from broadsheet.emails.subscriptions.ratelimit import (
    Limiter,
    RateLimit,
    StoreBucket,
    TokenBucket,
)
from broadsheet.errors import StoreError
from broadsheet.store import Store
from broadsheet.web.files import PublishedFiles, WeakETagWhenEncoded
from broadsheet.web.pages import Pages
from broadsheet.web.preview import Previews
from broadsheet.web.redirects import Redirects

__all__ = ["RETRY_AFTER", "RateLimit", "TokenBucket", "create_app"]

log = logging.getLogger(__name__)

RETRY_AFTER = 30
"""Seconds a client is asked to wait (``Retry-After``) when the store is failing."""


def _unavailable() -> Response:
    return PlainTextResponse(
        "The service is unavailable for a moment; please try again shortly.\n",
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER), "Cache-Control": "no-store"},
    )


async def _store_failed(request: Request, exc: Exception) -> Response:
    """A store failure during a request: 503 with ``Retry-After``, one line in the log."""
    log.error("%s %s: 503: %s", request.method, request.url.path, exc)
    return _unavailable()


def _health(store: Store) -> Callable[[Request], Awaitable[Response]]:
    async def health(request: Request) -> Response:
        try:
            await run_in_threadpool(store.check)
        except StoreError as exc:
            log.error("health check: %s", exc)
            return _unavailable()
        return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})

    return health


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
        subscribe_limit: ``POST /subscribe`` requests per client network
            (``links.client_ipv6_prefix``, ``links.client_ipv4_prefix``).
        address_limit: confirmation messages per inbox.
        feeds_max_age: Cache-Control max-age of feeds, in seconds.
        editions_max_age: Cache-Control max-age of the web archive, in seconds.
    """
    clock = now or (lambda: datetime.now(UTC))
    key = secret or store.link_secret(settings.secret(), env_name=settings.links.secret_env)
    subscriptions = Subscriptions(store, settings, secret=key, clock=clock, transport=transport)
    per_client: Limiter
    per_address: Limiter
    if store.dialect == "postgresql":
        # Shared by every process and machine serving this store.
        per_client = StoreBucket(store, "subscribe-client", subscribe_limit, clock=clock)
        per_address = StoreBucket(store, "subscribe-inbox", address_limit, clock=clock)
    else:
        per_client, per_address = TokenBucket(subscribe_limit), TokenBucket(address_limit)
    pages = Pages(settings, subscriptions, per_client=per_client, per_address=per_address)
    previews = Previews(settings, store, secret=key)
    redirects = Redirects(settings, store, secret=key)
    routes = [
        Route("/", pages.home, methods=["GET"]),
        Route("/health", _health(store), methods=["GET"]),
        Route("/subscribe", pages.subscribe_form, methods=["GET"]),
        Route("/subscribe", pages.subscribe, methods=["POST"]),
        Route("/confirm", pages.confirm_page, methods=["GET"]),
        Route("/confirm", pages.confirm, methods=["POST"]),
        Route("/unsubscribe", pages.unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe", pages.unsubscribe, methods=["POST"]),
        Route("/preferences", pages.preferences, methods=["GET", "POST"]),
        Route("/preview/{edition}", previews.page, methods=["GET"]),
        Route("/r/{token:path}", redirects.follow, methods=["GET", "HEAD"]),
        Mount(
            "/feeds",
            app=PublishedFiles(
                settings.feeds.out, max_age=feeds_max_age, json_type="application/feed+json"
            ),
        ),
        Mount("/editions", app=PublishedFiles(settings.emails.out, max_age=editions_max_age)),
    ]
    if settings.static_dir is not None:
        # Last, so every route above wins: the rest of the site (images, the logo).
        routes.append(Mount("", app=PublishedFiles(settings.static_dir, max_age=editions_max_age)))
    middleware = [
        Middleware(WeakETagWhenEncoded),
        Middleware(GZipMiddleware, minimum_size=500),
    ]

    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={StoreError: _store_failed},
    )
    app.state.subscriptions = subscriptions
    return app
