"""The pages of ``broadsheet serve``: subscribe, confirm, unsubscribe, preferences.

An address may take several newsletters (language × frequency): the
subscribe form offers each as a checkbox (``newsletters``: ``en-weekly``,
``ru-daily``…; API clients may still post one ``language`` and
``frequency``), and the preferences page shows every subscription of the
address its token's subscription belongs to. Both take an optional
``timezone`` (an IANA name), which a small inline script fills in from the
browser's own zone; without script the field is typed or left empty.

Each handler answers with an HTML page or, when the client asks for it,
JSON. A forged, altered, expired or wrong-purpose token gets 400 and changes
nothing. Forms post to relative URLs, so the app works under any path
prefix a reverse proxy gives it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)

from broadsheet.config import Settings
from broadsheet.content.subscribers import FieldProblem
from broadsheet.emails.edition import labels, render
from broadsheet.emails.edition.tokens import BadToken
from broadsheet.emails.subscriptions import pagetext
from broadsheet.emails.subscriptions.flows import Outcome, Subscriptions
from broadsheet.emails.subscriptions.ratelimit import Limiter, client_key, inbox_key
from broadsheet.errors import DeliveryError
from broadsheet.model import Frequency, Subscriber, SubscriberStatus
from broadsheet.web.requests import (
    BadBody,
    body_error,
    client_address,
    flag_field,
    form_text,
    request_token,
    submitted,
    text_field,
    topics_field,
    wants_json,
)

log = logging.getLogger(__name__)

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


TIMEZONE_SCRIPT = (
    "(function(){var f=document.getElementById('timezone');if(!f||f.value)return;"
    "try{f.value=Intl.DateTimeFormat().resolvedOptions().timeZone||'';}catch(e){}})();"
)
"""Fills the time-zone field with the browser's own zone; the form works without it."""

_SCRIPT_HASH = base64.b64encode(hashlib.sha256(TIMEZONE_SCRIPT.encode()).digest()).decode()

_FORM_HEADERS = {
    **_PAGE_HEADERS,
    # Only the one inline script above runs, by its digest.
    "Content-Security-Policy": _PAGE_HEADERS["Content-Security-Policy"].replace(
        "default-src 'none';", f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}';"
    ),
}


def parse_newsletters(values: Sequence[str]) -> list[tuple[str, str]]:
    """``["en-weekly", "ru-daily"]`` as ``[("en", "weekly"), ("ru", "daily")]``.

    Raises:
        FieldProblem: ``newsletters``, for a value without a frequency.
    """
    chosen = []
    for value in values:
        language, dash, frequency = value.strip().rpartition("-")
        if not dash or not language or frequency not in tuple(Frequency):
            raise FieldProblem(
                "newsletters", f"{value!r} is not a newsletter (expected LANGUAGE-daily|weekly)"
            )
        chosen.append((language, frequency))
    return chosen


_JSON_HEADERS = {
    key: _PAGE_HEADERS[key]
    for key in ("Referrer-Policy", "Cache-Control", "X-Content-Type-Options")
}


def _json(
    content: Any, *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A JSON answer of the subscription endpoints: never cached, never a Referer."""
    return JSONResponse(
        content, status_code=status_code, headers={**_JSON_HEADERS, **(headers or {})}
    )


class Pages:
    """Request handlers bound to one publication."""

    def __init__(
        self,
        settings: Settings,
        subscriptions: Subscriptions,
        *,
        per_client: Limiter,
        per_address: Limiter,
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
            "t": pagetext.words(self.settings.words, language),
            **self.settings.words.gettext_callables(language),
            "site_title": site.title_in(language),
            "site_url": site.url,
            "accent": site.accent_color,
            "heading": heading,
            "paragraphs": [],
            "link": None,
        }
        full.update(context)
        body = render.render(f"web/{template}", full, theme=self.settings.emails.theme)
        base = _FORM_HEADERS if "timezone_script" in context else _PAGE_HEADERS
        return HTMLResponse(body, status_code=status, headers={**base, **(headers or {})})

    def _message(
        self,
        language: str,
        title_key: str,
        *paragraphs: str,
        status: int = 200,
        link: dict[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        heading = pagetext.word(self.settings.words, language, title_key)
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
        log.info("refused a link (%s) from %s", exc, client_address(request))
        language = self._language(request)
        words = pagetext.words(self.settings.words, language)
        if wants_json(request):
            return _json({"error": "bad-token", "message": str(exc)}, status_code=400)
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

    def _topic_names(self, topics: list[str], language: str) -> dict[str, str]:
        """Each section as readers of ``language`` see it."""
        return {topic: self.settings.site.section_in(topic, language) for topic in topics}

    def _title(self, language: str) -> str:
        return self.settings.site.title_in(language)

    def _newsletter_name(self, language: str, newsletter: str, frequency: str) -> str:
        """``English · Once a week`` in the page's ``language``."""
        return pagetext.newsletter_name(self.settings.words, language, newsletter, frequency)

    def _newsletter_options(
        self, language: str, checked: Sequence[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        """Every newsletter of the site (languages × frequencies) as a checkbox."""
        return [
            {
                "value": f"{code}-{frequency}",
                "label": self._newsletter_name(language, code, frequency),
                "checked": (code, frequency) in checked,
            }
            for code in self.settings.site.languages
            for frequency in ("weekly", "daily")
        ]

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
            "timezone": values.get("timezone", ""),
        }
        checked = list(values.get("newsletters") or ()) or [(shown["language"], shown["frequency"])]
        title = self._title(language)
        return self._page(
            "subscribe.html.j2",
            language,
            pagetext.word(self.settings.words, language, "subscribe_title", title=title),
            status=status,
            intro=pagetext.word(self.settings.words, language, "subscribe_intro"),
            languages=self._languages(language),
            topics=topics,
            topic_names=self._topic_names(topics, language),
            values=shown,
            errors=errors,
            newsletters=self._newsletter_options(language, checked),
            timezone_script=TIMEZONE_SCRIPT,
        )

    async def subscribe(self, request: Request) -> Response:
        as_json = wants_json(request)
        try:
            values = await submitted(request)
            email = text_field(values, "email")
            fields: dict[str, Any] = {
                "email": email,
                "name": text_field(values, "name"),
                "language": text_field(values, "language"),
                "frequency": text_field(values, "frequency"),
                "topics": topics_field(values),
                "timezone": text_field(values, "timezone"),
            }
            picked = topics_field(values, "newsletters")
            chose = bool(picked) or flag_field(values, "choose")
        except BadBody as exc:
            return body_error(exc, as_json)
        first = picked[0].rpartition("-")[0] if picked else None
        language = self._language(request, fields["language"] or first)
        words = pagetext.words(self.settings.words, language)
        links = self.settings.links
        client = client_key(
            client_address(request),
            ipv6_prefix=links.client_ipv6_prefix,
            ipv4_prefix=links.client_ipv4_prefix,
        )
        # A thread: with a PostgreSQL store, a take is a transaction.
        wait = await run_in_threadpool(self.per_client.take, client)
        if not wait:
            inbox = inbox_key(email)
            wait = await run_in_threadpool(self.per_address.take, inbox) if inbox else 0.0
        if wait:
            retry = {"Retry-After": str(max(1, round(wait)))}
            if as_json:
                return _json(
                    {"error": "rate-limited", "retry_after": max(1, round(wait))},
                    status_code=429,
                    headers=retry,
                )
            return self._message(
                language, "too_many_title", words["too_many_text"], status=429, headers=retry
            )
        if form_text(values.get("website")):
            # The hidden field only robots fill in: answer as if all went well.
            log.info("ignored a robot's subscription from %s", client_address(request))
            return self._pending_response(as_json, language, email)
        try:
            newsletters = parse_newsletters(picked)
            if chose and not newsletters:
                raise FieldProblem("newsletters", "choose at least one newsletter")
            fields["newsletters"] = newsletters
            await run_in_threadpool(
                lambda: self.subs.request(
                    email=email,
                    name=fields["name"],
                    language=fields["language"],
                    frequency=fields["frequency"],
                    topics=fields["topics"],
                    newsletters=newsletters,
                    timezone=fields["timezone"],
                    client=client_address(request),
                )
            )
        except FieldProblem as exc:
            if as_json:
                return _json(
                    {"error": "invalid", "field": exc.field, "message": exc.reason},
                    status_code=400,
                )
            problem = pagetext.word(
                self.settings.words,
                language,
                "bad_field",
                field=words.get(exc.field, exc.field),
                reason=exc.reason,
            )
            return await self._subscribe_page(request, language, fields, [problem], status=400)
        except DeliveryError as exc:
            log.error("could not send a confirmation message: %s", exc)
            if as_json:
                return _json(
                    {"error": "unavailable", "message": "try again later"}, status_code=503
                )
            return self._message(
                language, "unavailable_title", words["unavailable_text"], status=503
            )
        return self._pending_response(as_json, language, email)

    def _pending_response(self, as_json: bool, language: str, email: str) -> Response:
        if as_json:
            return _json({"status": "pending"}, status_code=202)
        return self._message(
            language,
            "check_inbox_title",
            pagetext.word(
                self.settings.words,
                language,
                "check_inbox_text",
                email=email.strip(),
                hours=self.settings.links.confirm_max_age_hours,
            ),
        )

    # confirm -------------------------------------------------------------------

    async def confirm_page(self, request: Request) -> Response:
        """GET (and HEAD): the question and a button; the address stays as it is.

        Mail scanners and link previews fetch every link in a message, so
        opening the link must not subscribe anyone: only the button's POST does.
        """
        token = request_token(request)
        try:
            outcome = await run_in_threadpool(self.subs.confirmable, token)
        except BadToken as exc:
            return self._bad_link(request, exc)
        if outcome.result != "pending":
            return self._confirmed(request, outcome)
        person = outcome.subscriber
        if wants_json(request):
            return _json({"status": outcome.result})
        language = self._language(request, person.language)
        try:
            waiting = await run_in_threadpool(self.subs.waiting, token)
        except BadToken as exc:
            return self._bad_link(request, exc)
        return self._page(
            "confirm.html.j2",
            language,
            pagetext.word(self.settings.words, language, "confirm_page_title"),
            newsletters=[
                self._newsletter_name(language, s.language, str(s.frequency)) for s in waiting
            ],
            question=pagetext.word(
                self.settings.words,
                language,
                "confirm_question",
                title=self._title(language),
                email=person.email,
            ),
            action="confirm?token=" + token,
        )

    async def confirm(self, request: Request) -> Response:
        """POST: activates the pending subscriber (the page's button, or an API client)."""
        token = request_token(request)
        try:
            token = token or text_field(await submitted(request), "token")
        except BadBody as exc:
            return body_error(exc, wants_json(request))
        try:
            outcome = await run_in_threadpool(self.subs.confirm, token)
        except BadToken as exc:
            return self._bad_link(request, exc)
        return self._confirmed(request, outcome)

    def _confirmed(self, request: Request, outcome: Outcome) -> Response:
        person = outcome.subscriber
        language = self._language(request, person.language)
        title = self._title(language)
        if wants_json(request):
            return _json({"status": outcome.result})
        if outcome.result == "stale":
            return self._message(
                language,
                "confirm_stale_title",
                pagetext.word(self.settings.words, language, "confirm_stale_text"),
                link={
                    "url": "subscribe",
                    "label": pagetext.word(self.settings.words, language, "subscribe_button"),
                },
            )
        return self._message(
            language,
            "confirmed_title",
            pagetext.word(
                self.settings.words, language, "confirmed_text", email=person.email, title=title
            ),
            link={
                "url": "preferences?token=" + self.subs.sign("preferences", person),
                "label": pagetext.word(self.settings.words, language, "preferences_title"),
            },
        )

    # unsubscribe ---------------------------------------------------------------

    async def unsubscribe_page(self, request: Request) -> Response:
        token = request_token(request)
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
            pagetext.word(self.settings.words, language, "unsubscribe_title"),
            question=pagetext.word(
                self.settings.words,
                language,
                "unsubscribe_question",
                title=title,
                email=person.email,
            ),
            action="unsubscribe?token=" + token,
        )

    async def unsubscribe(self, request: Request) -> Response:
        # RFC 8058: the POST itself is the request; its body only says so.
        # The token alone authorises it, so no cookie or CSRF token is needed.
        token = request.query_params.get("token", "")
        if not token:
            try:
                token = text_field(await submitted(request), "token")
            except BadBody as exc:
                return body_error(exc, wants_json(request))
        # The List-Unsubscribe-Post of a mail client and the button of the page
        # the footer link opens are the same POST: both are one-click.
        source = "preferences" if request.query_params.get("from") == "preferences" else "one-click"
        try:
            outcome = await run_in_threadpool(lambda: self.subs.unsubscribe(token, reason=source))
        except BadToken as exc:
            return self._bad_link(request, exc)
        if wants_json(request):
            return _json({"status": "unsubscribed"})
        language = self._language(request, outcome.subscriber.language)
        return self._unsubscribed(language, outcome.subscriber)

    def _unsubscribed(self, language: str, person: Subscriber) -> Response:
        return self._message(
            language,
            "unsubscribed_title",
            pagetext.word(
                self.settings.words,
                language,
                "unsubscribed_text",
                email=person.email,
                title=self._title(language),
            ),
            link={
                "url": "preferences?token=" + self.subs.sign("preferences", person),
                "label": pagetext.word(self.settings.words, language, "change_mind"),
            },
        )

    # preferences ---------------------------------------------------------------

    async def preferences(self, request: Request) -> Response:
        token = request_token(request)
        try:
            person = await run_in_threadpool(self.subs.subscriber, token, "preferences")
        except BadToken as exc:
            return self._bad_link(request, exc)
        if request.method == "GET":
            return await self._preferences_page(request, token, person, {}, [])
        try:
            values = await submitted(request)
            language_chosen = text_field(values, "language") or person.language
            frequency_chosen = text_field(values, "frequency") or str(person.frequency)
            topics_chosen = topics_field(values)
            resume = flag_field(values, "resume")
            picked = topics_field(values, "newsletters")
            several = bool(picked) or flag_field(values, "choose")
            zone = text_field(values, "timezone")
        except BadBody as exc:
            return body_error(exc, wants_json(request))
        if several:
            if resume:
                picked = [*picked, f"{person.language}-{person.frequency}"]
            return await self._change(request, token, person, picked, topics_chosen, zone)
        chosen: dict[str, Any] = {
            "language": language_chosen,
            "frequency": frequency_chosen,
            "topics": topics_chosen,
        }
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
            if wants_json(request):
                return _json(
                    {"error": "invalid", "field": exc.field, "message": exc.reason},
                    status_code=400,
                )
            language = self._language(request, person.language)
            problem = pagetext.word(
                self.settings.words,
                language,
                "bad_field",
                field=pagetext.words(self.settings.words, language).get(exc.field, exc.field),
                reason=exc.reason,
            )
            return await self._preferences_page(
                request, token, person, chosen, [problem], status=400
            )
        if wants_json(request):
            return _json({"status": outcome.result})
        after = outcome.subscriber
        language = self._language(request, after.language)
        return self._message(
            language,
            "saved_title",
            pagetext.word(self.settings.words, language, "saved_text", email=after.email),
            link={
                "url": "preferences?token=" + token,
                "label": pagetext.word(self.settings.words, language, "preferences_title"),
            },
        )

    async def _change(
        self,
        request: Request,
        token: str,
        person: Subscriber,
        picked: list[str],
        topics: list[str],
        zone: str,
    ) -> Response:
        """POST of the form of several newsletters: see :meth:`Subscriptions.change`."""
        try:
            newsletters = parse_newsletters(picked)
            outcome = await run_in_threadpool(
                lambda: self.subs.change(
                    token, newsletters=newsletters, topics=topics, timezone=zone
                )
            )
        except BadToken as exc:
            return self._bad_link(request, exc)
        except FieldProblem as exc:
            if wants_json(request):
                return _json(
                    {"error": "invalid", "field": exc.field, "message": exc.reason},
                    status_code=400,
                )
            language = self._language(request, person.language)
            problem = pagetext.word(
                self.settings.words,
                language,
                "bad_field",
                field=pagetext.words(self.settings.words, language).get(exc.field, exc.field),
                reason=exc.reason,
            )
            chosen = {
                "newsletters": [n.rpartition("-")[::2] for n in picked],
                "topics": topics,
                "timezone": zone,
            }
            return await self._preferences_page(
                request, token, person, chosen, [problem], status=400
            )
        if wants_json(request):
            return _json({"status": outcome.result})
        language = self._language(request, outcome.subscriber.language)
        return self._message(
            language,
            "saved_title",
            pagetext.word(
                self.settings.words, language, "saved_text", email=outcome.subscriber.email
            ),
            link={
                "url": "preferences?token=" + token,
                "label": pagetext.word(self.settings.words, language, "preferences_title"),
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
        held = await run_in_threadpool(self.subs.of_address, person)
        live = (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING)
        taken = [(s.language, str(s.frequency)) for s in held if s.status in live]
        # Topics are shared by the address's newsletters: those of every language it reads.
        offered: list[str] = []
        for code in dict.fromkeys([chosen_language, *(s.language for s in held)]):
            for topic in await run_in_threadpool(self.subs.topics, code):
                if topic not in offered:
                    offered.append(topic)
        current = list(values.get("topics") or person.topics)
        topics = offered + [t for t in current if t not in offered]
        checked = [tuple(n) for n in values.get("newsletters") or taken]
        zone = values.get("timezone") or next((s.timezone for s in held if s.timezone), "")
        notes = {
            SubscriberStatus.UNSUBSCRIBED: "status_unsubscribed",
            SubscriberStatus.BOUNCED: "status_bounced",
            SubscriberStatus.PENDING: "status_pending",
        }
        note_key = notes.get(person.status)
        active = bool(taken)
        return self._page(
            "preferences.html.j2",
            language,
            pagetext.word(self.settings.words, language, "preferences_title"),
            status=status,
            intro=pagetext.word(
                self.settings.words,
                language,
                "preferences_intro",
                email=person.email,
                title=self._title(language),
            ),
            status_note=pagetext.word(self.settings.words, language, note_key) if note_key else "",
            languages=self._languages(language),
            topics=topics,
            topic_names=self._topic_names(topics, language),
            values={
                "language": chosen_language,
                "frequency": values.get("frequency") or str(person.frequency),
                "topics": current,
            },
            can_resume=person.status is SubscriberStatus.UNSUBSCRIBED,
            errors=errors,
            action="preferences?token=" + token,
            unsubscribe_action=(
                "unsubscribe?from=preferences&token=" + self.subs.sign("unsubscribe", person)
                if active
                else None
            ),
            newsletters=self._newsletter_options(language, checked),
            this_newsletter=self._newsletter_name(language, person.language, str(person.frequency)),
            timezone=zone,
            site_timezone=self.settings.site.timezone,
            timezone_script=TIMEZONE_SCRIPT,
        )

    # misc ------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})

    async def home(self, request: Request) -> Response:
        return RedirectResponse("subscribe", status_code=303)
