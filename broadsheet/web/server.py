"""Running the app: uvicorn, set up the way ``broadsheet serve`` needs it.

uvicorn closes idle keep-alive connections, but has no timeout for a
request still arriving: a client that sends half a request line (or
announces a body and never sends it) holds its connection, and enough of
them hold the server. :class:`DeadlineProtocol`, uvicorn's h11 protocol with
two deadlines, closes such a connection with ``408 Request Timeout``:

=================  ===========================================================
phase              deadline
=================  ===========================================================
line and headers   ``header_timeout`` from the connection's start or, on a
                   kept-alive connection, from the next request's first byte;
                   bytes trickling in do not move it
body               ``body_timeout`` from the end of the headers
the app working,   none here (the app's own business; idle keep-alive
keep-alive idle    connections are uvicorn's ``timeout_keep_alive``)
=================  ===========================================================
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from broadsheet.web.redirects import quiet_access_log

HEADER_TIMEOUT = 10.0
"""Seconds a client has to send a request's line and headers, from its first byte."""

BODY_TIMEOUT = 30.0
"""Seconds a client has to send a request's body, once its headers are in."""


_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
    b"content-length: 37\r\n"
    b"\r\n"
    b"The request took too long to arrive.\n"
)


class DeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines for a request's headers and body.

    Use :func:`deadline_protocol` to get one with the timeouts set.
    """

    header_timeout: ClassVar[float] = HEADER_TIMEOUT
    body_timeout: ClassVar[float] = BODY_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase: str | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_phase(None)
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def _watch(self) -> None:
        """Start, keep or stop the deadline for the phase the connection is in."""
        if self.transport is None or self.transport.is_closing():
            self._set_phase(None)
            return
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            self._set_phase("body")
        elif state is h11.IDLE and (
            self.timeout_keep_alive_task is None or self.conn.trailing_data[0]
        ):
            # Waiting for a request that has not begun (a new connection) or
            # has begun and is not complete; a kept-alive connection with
            # nothing received is idle, and uvicorn's keep-alive timeout
            # covers it.
            self._set_phase("headers")
        else:
            self._set_phase(None)

    def _set_phase(self, phase: str | None) -> None:
        if phase == self._phase:
            return  # the same phase keeps its deadline: trickling bytes buy no time
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        if phase is not None:
            seconds = self.header_timeout if phase == "headers" else self.body_timeout
            self._deadline = self.loop.call_later(seconds, self._too_slow, phase)

    def _too_slow(self, phase: str) -> None:
        self._deadline = None
        if self._phase != phase or self.transport.is_closing():
            return
        self.logger.info(
            "%s: closed a connection whose request %s did not arrive within %g s",
            f"{self.client[0]}:{self.client[1]}" if self.client else "a client",
            "headers" if phase == "headers" else "body",
            self.header_timeout if phase == "headers" else self.body_timeout,
        )
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            self.transport.write(_TIMEOUT_ANSWER)
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
        self._phase = None
        self.transport.close()


def deadline_protocol(*, header_timeout: float, body_timeout: float) -> type[DeadlineProtocol]:
    """:class:`DeadlineProtocol` with these timeouts, in seconds."""
    if header_timeout <= 0 or body_timeout <= 0:
        raise ValueError("timeouts must be above 0 seconds")
    return type(
        "DeadlineProtocol",
        (DeadlineProtocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )


def make_config(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    forwarded_allow_ips: str = "127.0.0.1",
    root_path: str = "",
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
    log_level: str = "info",
) -> uvicorn.Config:
    """The uvicorn configuration of ``broadsheet serve``.

    Args:
        app: the ASGI app (:func:`broadsheet.web.app.create_app`).
        host: the address to listen on.
        port: the port to listen on.
        forwarded_allow_ips: proxies trusted to set X-Forwarded-For/-Proto.
        root_path: the path prefix a reverse proxy serves the app under.
        header_timeout: seconds a request's line and headers may take.
        body_timeout: seconds a request's body may take after its headers.
        log_level: uvicorn's log level.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=deadline_protocol(header_timeout=header_timeout, body_timeout=body_timeout),
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        root_path=root_path,
        server_header=False,
        log_level=log_level,
    )
    # After the Config, which sets uvicorn's loggers up: counted links stay unlogged.
    quiet_access_log()
    return config


def run(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    forwarded_allow_ips: str,
    root_path: str = "",
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
) -> None:
    """Serve ``app`` on ``host:port`` until interrupted (arguments: see :func:`make_config`)."""
    config = make_config(
        app,
        host=host,
        port=port,
        forwarded_allow_ips=forwarded_allow_ips,
        root_path=root_path,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
    )
    uvicorn.Server(config).run()
