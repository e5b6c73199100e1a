"""Worker processes: several senders of one edition, each a process of its own.

Each worker process reloads the settings from their file, opens the store
and runs :func:`broadsheet.emails.delivery.ledger.deliver_over` (``delivery.connections``
transports at once); the parent passes on a stop, shares the ``--limit``
budget and counts the outcomes the workers report. ``delivery.rate`` is
split evenly over every connection of every process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queue_module
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from broadsheet.config import Settings
from broadsheet.emails.delivery.brake import BrakeLimits
from broadsheet.emails.delivery.ledger import Budget, MessageFactory, Progress, deliver_over
from broadsheet.emails.delivery.protocol import Transport, Wait
from broadsheet.emails.delivery.transports import make_transport
from broadsheet.errors import BroadsheetError, DeliveryError
from broadsheet.model import EditionRecord
from broadsheet.store import Store

log = logging.getLogger(__name__)

__all__ = ["FactoryMaker"]

FactoryMaker = Callable[[EditionRecord, Settings, str, datetime], MessageFactory]
"""Builds a :data:`MessageFactory` from an edition, the settings and the link secret.

Worker processes call it themselves, so it must be a module-level function.
"""


@dataclass(frozen=True)
class SendJob:
    """Everything a worker process needs (picklable: the settings are reloaded)."""

    config_path: str
    edition_id: str
    transport: str | None
    secret: str
    make_factory: FactoryMaker
    workers: int
    batch_size: int
    """Rows a worker claims at a time: no more than its share of the send,
    so a small send is spread over every worker instead of the first one."""
    start: datetime
    start_monotonic: float
    parent: int
    deferred_only: bool = False
    """Claim only deferred rows that are due (the scheduler's retries)."""


class _ChildStop:
    """Stop when the parent says so, on SIGTERM, or when the parent is gone."""

    def __init__(self, shared: Any, parent: int) -> None:
        self._shared = shared
        self._parent = parent
        self._local = threading.Event()

    def set(self) -> None:
        self._local.set()

    def is_set(self) -> bool:
        return self._local.is_set() or self._shared.is_set() or os.getppid() != self._parent

    def wait(self, timeout: float | None = None) -> bool:
        deadline = time.monotonic() + (timeout or 0.0)
        while not self.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._local.wait(min(left, 0.2))
        return True


def send_clock(start: datetime, start_monotonic: float) -> Callable[[], datetime]:
    """A clock that starts at ``start`` and advances with the monotonic clock."""
    return lambda: start + timedelta(seconds=time.monotonic() - start_monotonic)


def _child_main(job: SendJob, events: Any, shared_stop: Any, shared_budget: Any) -> None:
    """A worker process: reload the settings, open the store, deliver, report."""
    from broadsheet.config import load_settings

    # Ctrl-C reaches the whole process group: the parent turns it into a stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = _ChildStop(shared_stop, job.parent)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        settings = load_settings(job.config_path)
        store = Store.open(settings.store.url, migrate=False)
        try:
            with store.read() as tx:
                edition = tx.editions.get(job.edition_id)
            if edition is None:
                raise DeliveryError(f"edition {job.edition_id!r} disappeared from the store")
            factory = job.make_factory(edition, settings, job.secret, job.start)
            connections = settings.delivery.connections

            def make(wait: Wait) -> Transport:
                return make_transport(
                    settings, job.transport, wait=wait, rate_share=job.workers * connections
                )

            deliver_over(
                store,
                job.edition_id,
                factory,
                make,
                connections=connections,
                clock=send_clock(job.start, job.start_monotonic),
                batch_size=job.batch_size,
                claim_timeout=settings.delivery.claim_timeout_seconds,
                stop=stop,
                budget=Budget(None, shared_budget),
                on_outcome=lambda outcome: events.put(("outcome", outcome)),
                retry_for=timedelta(seconds=settings.retry_for_seconds),
                brake=BrakeLimits.from_settings(settings),
                deferred_only=job.deferred_only,
            )
        finally:
            store.close()
    except BroadsheetError as exc:
        events.put(("error", str(exc)))
    except Exception as exc:  # a bug: keep enough to find it
        log.exception("sending worker failed")
        events.put(("error", f"worker failed: {type(exc).__name__}: {exc}"))
    events.put(("done", os.getpid()))


def run_processes(
    job: SendJob,
    *,
    limit: int | None,
    stop: threading.Event | None,
    progress: Progress,
    on_progress: Callable[[Progress], None] | None,
) -> list[str]:
    """Run ``job.workers`` worker processes to the end; returns their errors."""
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    shared_stop = context.Event()
    shared_budget = context.Value("q", -1 if limit is None else limit)
    processes = [
        context.Process(
            target=_child_main,
            args=(job, events, shared_stop, shared_budget),
            name=f"broadsheet-send-{i + 1}",
        )
        for i in range(job.workers)
    ]
    for process in processes:
        process.start()
    errors: list[str] = []
    finished = 0
    try:
        while finished < len(processes):
            if stop is not None and stop.is_set():
                shared_stop.set()
            try:
                kind, value = events.get(timeout=0.2)
            except queue_module.Empty:
                if not any(p.is_alive() for p in processes):
                    # A worker died without saying so (killed): stop waiting.
                    break
                continue
            if kind == "outcome":
                progress.count(value)
                if on_progress is not None:
                    on_progress(progress)
            elif kind == "error":
                errors.append(value)
            elif kind == "done":
                finished += 1
    except BaseException:
        shared_stop.set()
        raise
    finally:
        for process in processes:
            process.join()
        # Outcomes a worker queued just before dying still count.
        while True:
            try:
                kind, value = events.get_nowait()
            except queue_module.Empty:
                break
            if kind == "outcome":
                progress.count(value)
            elif kind == "error":
                errors.append(value)
        events.close()
    for process in processes:
        if process.exitcode not in (0, None) and not errors:
            errors.append(f"a sending worker exited with status {process.exitcode}")
    return errors
