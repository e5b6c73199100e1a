"""Deferred retries: how long a message refused for now (4xx) waits before its next try.

A transport retries a temporary failure at once a few times
(``delivery.retries``, ``delivery.backoff_seconds``). When those run out
with a 4xx reply, the ledger row is ``deferred``: it waits for its
``next_attempt`` and a later scheduler tick (or ``broadsheet send``) claims
it again once that time has come. The waits double from five minutes up to
an hour: 5, 10, 20, 40 minutes, then every hour. Once the next try would
come more than ``delivery.retry_for`` after the first one, counted on that
schedule, the row is given up as ``failed`` with the server's last reply.

Counting on the schedule rather than the wall clock means a scheduler that
was stopped for a while does not use up a message's time: it still gets
every try.
"""

from __future__ import annotations

from datetime import timedelta

__all__ = ["FIRST_WAIT", "LONGEST_WAIT", "deferral", "is_temporary", "wait_before"]

FIRST_WAIT = timedelta(minutes=5)
"""The wait after the first deferred try; each next one doubles it."""
LONGEST_WAIT = timedelta(hours=1)
"""The longest wait between two tries."""


def wait_before(attempt: int) -> timedelta:
    """The wait after try number ``attempt`` (1 is the first) met a temporary failure."""
    if attempt <= 1:
        return FIRST_WAIT
    doublings = min(attempt - 1, 16)  # 5 min * 2**16 is far past the cap already
    return min(FIRST_WAIT * (1 << doublings), LONGEST_WAIT)


def deferral(attempt: int, retry_for: timedelta) -> timedelta | None:
    """How long a row waits after try ``attempt`` met a 4xx, or ``None``: give it up.

    The tries so far are taken to have followed the schedule from the first
    one; the row waits unless its next try would then come more than
    ``retry_for`` after the first. A ``retry_for`` of zero defers nothing.
    """
    if retry_for <= timedelta(0):
        return None
    attempt = max(attempt, 1)
    elapsed = sum((wait_before(n) for n in range(1, attempt)), timedelta(0))
    wait = wait_before(attempt)
    if elapsed + wait > retry_for:
        return None
    return wait


def is_temporary(code: int | None) -> bool:
    """Whether an SMTP reply code says "try again later" (4xx)."""
    return code is not None and 400 <= code < 500
