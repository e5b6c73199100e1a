"""Delivery to an SMTP server, with every reply classified for the ledger.

:class:`SMTPTransport` hands messages to an SMTP server over one reused
connection (STARTTLS, implicit TLS or none; AUTH when a user is set), paced
to ``delivery.rate`` messages a second. A reply is classified so the ledger
can act on it:

========================  ================================================
2xx                        sent
4xx                        retried with exponential backoff
                           (``delivery.retries``, ``delivery.backoff_seconds``),
                           then ``failed`` (a later run tries again)
421, dropped connection    reconnect and retry; a server that stays away
                           raises :class:`TransportUnavailable`
5xx to RCPT or DATA        ``bounced``: the address is refused for good,
                           except policy refusals (enhanced status 5.7.x),
                           which are ``failed``: they say nothing about the
                           address
5xx to MAIL FROM, AUTH     :class:`TransportUnavailable`: a setup problem
                           that would fail every message alike
========================  ================================================
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Callable

from broadsheet.emails.delivery.protocol import (
    DeliveryResult,
    DeliveryStatus,
    Message,
    Pacer,
    TransportUnavailable,
    Wait,
    plain_wait,
)

log = logging.getLogger(__name__)

__all__ = ["SMTPTransport"]


class _Temporary(Exception):
    """A reply or event worth retrying the message for."""

    def __init__(self, reply: str, code: int | None, *, reconnect: bool) -> None:
        super().__init__(reply)
        self.reply = reply
        self.code = code
        self.reconnect = reconnect


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
"""An address smtplib's ``quoteaddr`` would only put in angle brackets (it
parses every address with ``email.utils.parseaddr``, a fifth of a message's
client time); anything else still goes through smtplib."""

_END_OF_DATA = b".\r\n"


def _command(smtp: smtplib.SMTP, verb: str, address: str) -> tuple[int, bytes]:
    """``MAIL FROM`` or ``RCPT TO`` for ``address``: smtplib's bytes, without its parsing."""
    if _PLAIN_ADDRESS.fullmatch(address):
        smtp.putcmd(verb, f"{'FROM' if verb == 'mail' else 'TO'}:<{address}>")
        return smtp.getreply()
    return smtp.mail(address) if verb == "mail" else smtp.rcpt(address)


def _dot_stuffed(data: bytes) -> bytes:
    """``re.sub(rb"(?m)^\\.", b"..", data)``: every dot that starts a line doubled."""
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\n.", b"\n..")


def _data(smtp: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """``smtp.data(data)`` for a message already in CRLF form, as smtplib sends it.

    smtplib rewrites every message with a regular expression to double the
    dots that start lines; here the same bytes come from ``bytes.replace``
    (a line starts after each LF, and at the start of the message), which
    costs a tenth of the regular expression on a quoted-printable body whose
    lines often start with a dot. Raises ``SMTPDataError`` when DATA is refused.
    """
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    data = _dot_stuffed(data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    smtp.send(data + _END_OF_DATA)
    return smtp.getreply()


def _quit(smtp: smtplib.SMTP) -> None:
    """Say QUIT and close: a server still talking is told goodbye, not hung up on.

    A connection closed without QUIT is what a broken client does (Postfix
    logs "lost connection after EHLO"). Whatever QUIT meets (the server
    already gone, a reply that makes no sense) the connection is closed.
    """
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _policy_refusal(text: str) -> bool:
    """Whether a 5xx reply is a policy refusal (5.7.x) rather than a bad address."""
    match = _ENHANCED.match(text)
    return bool(match and match.group(2) == "7")


class SMTPTransport:
    """Delivery to an SMTP server over one connection, reconnected when dropped.

    Args:
        host, port: the server.
        tls: ``"starttls"``, ``"ssl"`` (implicit TLS) or ``"none"``.
        user, password: AUTH credentials; no AUTH when ``user`` is ``None``.
        timeout: seconds to wait for the server.
        rate: most messages per second (``None``: no limit).
        retries: retries of a temporary failure.
        backoff: first retry delay in seconds, doubled each time (at most 5 minutes).
        ssl_context: TLS settings; the default verifies the server's certificate.
        wait: how to sleep between retries (a sender passes its stop event's
            wait, so a stop request cuts a backoff short).
    """

    name = "smtp"

    MAX_DELAY = 300.0

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: str = "starttls",
        user: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        rate: float | None = None,
        retries: int = 5,
        backoff: float = 1.0,
        ssl_context: ssl.SSLContext | None = None,
        wait: Wait = plain_wait,
        local_hostname: str | None = None,
    ) -> None:
        if tls not in ("starttls", "ssl", "none"):
            raise ValueError(f"unknown tls mode {tls!r}")  # config validation prevents it
        self.host = host
        self.port = port
        self.tls = tls
        self.user = user
        self.password = password
        self.timeout = timeout
        self.pacer = Pacer(rate)
        self.retries = retries
        self.backoff = backoff
        self.ssl_context = ssl_context
        self.wait = wait
        self.local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None
        self.connections = 0
        """How many connections were opened (reconnects show here)."""

    # connection -------------------------------------------------------------

    def _where(self) -> str:
        return f"SMTP server {self.host}:{self.port}"

    def _context(self) -> ssl.SSLContext:
        if self.ssl_context is None:
            self.ssl_context = ssl.create_default_context()
        return self.ssl_context

    def _connect(self) -> smtplib.SMTP:
        """A fresh, greeted (and secured and logged in) connection."""
        smtp: smtplib.SMTP
        try:
            if self.tls == "ssl":
                smtp = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=self._context(),
                    local_hostname=self.local_hostname,
                )
            else:
                smtp = smtplib.SMTP(
                    self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
                )
        except smtplib.SMTPConnectError as exc:
            raise _Temporary(
                _reply(exc.smtp_code, exc.smtp_error), exc.smtp_code, reconnect=True
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise _Temporary(f"cannot connect: {exc}", None, reconnect=True) from None
        try:
            code, text = smtp.ehlo()
            if not 200 <= code < 300:
                code, text = smtp.helo()
                if not 200 <= code < 300:
                    raise _Temporary(_reply(code, text), code, reconnect=True)
            if self.tls == "starttls":
                if not smtp.has_extn("starttls"):
                    raise TransportUnavailable(
                        f"{self._where()} does not offer STARTTLS; use delivery.smtp_tls = "
                        "'ssl' for implicit TLS, or 'none' only on a trusted network"
                    )
                code, text = smtp.starttls(context=self._context())
                if code != 220:
                    raise _Temporary(_reply(code, text), code, reconnect=True)
                smtp.ehlo()
            if self.user is not None:
                self._login(smtp)
        except ssl.SSLError as exc:
            smtp.close()  # half a TLS handshake: there is no channel left to say QUIT on
            raise TransportUnavailable(f"{self._where()}: TLS failed: {exc}") from None
        except smtplib.SMTPServerDisconnected as exc:
            smtp.close()
            raise _Temporary(f"disconnected while greeting: {exc}", None, reconnect=True) from None
        except smtplib.SMTPResponseException as exc:
            _quit(smtp)
            reply = _reply(exc.smtp_code, exc.smtp_error)
            raise _Temporary(reply, exc.smtp_code, reconnect=True) from None
        except OSError as exc:
            smtp.close()
            raise _Temporary(f"connection failed: {exc}", None, reconnect=True) from None
        except Exception:
            # A refused greeting or STARTTLS, no STARTTLS offered, a refused
            # login: the server is still listening, so say goodbye properly.
            _quit(smtp)
            raise
        except BaseException:
            smtp.close()
            raise
        self.connections += 1
        log.debug("connected to %s", self._where())
        return smtp

    def _login(self, smtp: smtplib.SMTP) -> None:
        if not smtp.has_extn("auth"):
            raise TransportUnavailable(
                f"{self._where()} offers no AUTH, but delivery.smtp_user is set"
                + ("" if self.tls != "none" else " (many servers offer AUTH only over TLS)")
            )
        try:
            smtp.login(self.user or "", self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportUnavailable(
                f"{self._where()} refused the login of {self.user!r}: "
                f"{_reply(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise TransportUnavailable(
                f"{self._where()} supports none of the AUTH methods Python offers"
            ) from None

    def _drop(self, *, quit: bool = False) -> None:
        """Forget the connection: closed, after a QUIT when ``quit`` (the server still talks)."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        if quit:
            _quit(smtp)
        else:
            smtp.close()

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        self._drop(quit=True)

    # delivery ---------------------------------------------------------------

    def _transaction(
        self, message: Message, recipient: str, barrier: Callable[[], None] | None
    ) -> DeliveryResult:
        """One MAIL/RCPT/DATA exchange; raises :class:`_Temporary` for what may pass."""
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        try:
            if message.sender.isascii():
                code, text = _command(smtp, "mail", message.sender)
            else:
                options = ["SMTPUTF8"] if smtp.has_extn("smtputf8") else []
                code, text = smtp.mail(message.sender, options)
            if code == 421:
                raise _Temporary(_reply(code, text), code, reconnect=True)
            if 400 <= code < 500:
                self._reset()
                raise _Temporary(_reply(code, text), code, reconnect=False)
            if code >= 500:
                self._reset()
                raise TransportUnavailable(
                    f"{self._where()} refused the sender {message.sender!r}: {_reply(code, text)}"
                    " (check sender.email and the server's relay rules)"
                )
            code, text = _command(smtp, "rcpt", recipient)
            if code == 421:
                raise _Temporary(_reply(code, text), code, reconnect=True)
            if code in (530, 535, 538):
                self._reset()
                raise TransportUnavailable(
                    f"{self._where()} wants authentication: {_reply(code, text)} "
                    "(set delivery.smtp_user and the password variable)"
                )
            if not 200 <= code < 300:
                self._reset()
                return self._refused(code, text)
            if barrier is not None:
                try:
                    barrier()
                except BaseException:
                    self._reset()
                    raise
            reply_text: bytes | str
            try:
                code, reply_text = _data(smtp, message.data)
            except smtplib.SMTPDataError as exc:
                # The DATA command itself was refused (no 354): nothing was sent.
                code, reply_text = exc.smtp_code, exc.smtp_error
            if code == 421:
                raise _Temporary(_reply(code, reply_text), code, reconnect=True)
            if not 200 <= code < 300:
                self._reset()
                return self._refused(code, reply_text)
            return DeliveryResult(DeliveryStatus.SENT, _reply(code, reply_text), code)
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            raise _Temporary(f"connection lost: {exc}", None, reconnect=True) from None
        except smtplib.SMTPResponseException as exc:
            # A reply that makes no sense mid-exchange: start again on a new
            # connection, after saying goodbye on this one.
            self._drop(quit=True)
            reply = _reply(exc.smtp_code, exc.smtp_error)
            raise _Temporary(reply, exc.smtp_code, reconnect=True) from None
        except OSError as exc:
            # A timeout or reset mid-exchange: the connection is no use any more.
            self._drop()
            raise _Temporary(f"connection failed: {exc}", None, reconnect=True) from None

    def _refused(self, code: int, text: bytes | str) -> DeliveryResult:
        reply = _reply(code, text)
        if 400 <= code < 500:
            raise _Temporary(reply, code, reconnect=False)
        if _policy_refusal(reply.partition(" ")[2]):
            return DeliveryResult(DeliveryStatus.FAILED, reply, code)
        return DeliveryResult(DeliveryStatus.BOUNCED, reply, code)

    def _reset(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def deliver(
        self,
        message: Message,
        *,
        recipient: str,
        resumed: bool = False,
        barrier: Callable[[], None] | None = None,
    ) -> DeliveryResult:
        """Send ``message`` to ``recipient``, retrying what may pass.

        ``resumed`` changes nothing: an SMTP server cannot be asked whether
        it has the message, so a resumed message is sent again with the same
        Message-ID, which receivers use to drop the copy.

        Raises:
            TransportUnavailable: the server stayed unreachable (or closing)
                through every retry, or refused the login or the sender.
        """
        self.pacer.pace()
        last: _Temporary | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                assert last is not None
                # A dropped connection is retried at once the first time:
                # servers close idle connections, and that is no trouble.
                immediate = attempt == 1 and last.reconnect and last.code is None
                delay = 0.0 if immediate else min(self.backoff * 2 ** (attempt - 1), self.MAX_DELAY)
                log.info(
                    "%s: %s; retry %d of %d in %.1f s",
                    recipient,
                    last.reply,
                    attempt,
                    self.retries,
                    delay,
                )
                if delay and self.wait(delay):
                    return DeliveryResult(
                        DeliveryStatus.FAILED, f"{last.reply} (stopped before retrying)", last.code
                    )
            try:
                return self._transaction(message, recipient, barrier)
            except _Temporary as exc:
                last = exc
                if exc.reconnect:
                    # A 421 says the server is closing: QUIT is still the
                    # polite way out, and harmless when it has gone already.
                    self._drop(quit=True)
        assert last is not None
        if last.reconnect:
            raise TransportUnavailable(
                f"{self._where()} is unavailable after {self.retries + 1} attempts: {last.reply}"
            )
        return DeliveryResult(DeliveryStatus.FAILED, last.reply, last.code)
