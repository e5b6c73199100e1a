"""Per-job locks, so two schedulers on one store never run the same job at once.

Each job has its own lock, held for as long as the job runs, so a second
scheduler (or a ``broadsheet run`` from cron) skips a job that is running
elsewhere but still does the others: a long send does not hold the feeds up.

- SQLite: a file lock (the ``filelock`` package) per job, named after
  ``scheduler.lock_file``: ``broadsheet.lock`` gives
  ``broadsheet.feeds.lock``, ``broadsheet.edition-weekly-en.lock``. The
  operating system releases it when the process dies.
- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) taken
  on a connection of its own, held open for the job's whole run; the server
  releases it when that connection ends, however the process ended. The
  store holds it (:meth:`~broadsheet.store.Store.advisory_lock`); this
  module only names the keys.

A lock that is held means "running right now, elsewhere": the job is left
alone this tick. A run recorded as ``running`` whose lock is free belonged
to a process that died, and may be taken up again. The unique ``(job,
slot)`` row in ``job_runs`` stays the last line of defence.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout

from broadsheet.config import Settings
from broadsheet.errors import StoreError
from broadsheet.store import Store

ADVISORY_CLASS = 0x62736A62  # "bsjb": the first key of every job lock
"""The first of the two advisory-lock keys, shared by all job locks."""


class JobLock(Protocol):
    """A lock for one job, taken without waiting."""

    def acquire(self) -> bool:
        """Take the lock; ``False`` when another process holds it."""
        ...

    def release(self) -> None:
        """Give the lock back (safe to call when not held)."""
        ...


def _slug(job: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", job).strip("-") or "job"


def lock_path(lock_file: Path, job: str) -> Path:
    """The lock file of ``job``: ``broadsheet.lock`` -> ``broadsheet.edition-weekly-en.lock``."""
    suffix = lock_file.suffix or ".lock"
    return lock_file.with_name(f"{lock_file.stem}.{_slug(job)}{suffix}")


def advisory_key(job: str) -> tuple[int, int]:
    """The two 32-bit advisory-lock keys of ``job`` (the second a CRC of its name)."""
    crc = zlib.crc32(job.encode("utf-8"))
    signed = crc - (1 << 32) if crc >= 1 << 31 else crc
    return ADVISORY_CLASS, signed


class FileJobLock:
    """A job lock held as an OS file lock (SQLite stores)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(str(path), timeout=0)

    def acquire(self) -> bool:
        """Take the lock; ``False`` when another process (or lock object) holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        except OSError as exc:
            raise StoreError(
                f"scheduler.lock_file: cannot create the lock file {self.path} "
                f"({exc.strerror or exc}); point scheduler.lock_file at a writable folder"
            ) from None
        return True

    def release(self) -> None:
        """Give the lock back."""
        if self._lock.is_locked:
            self._lock.release()


class AdvisoryJobLock:
    """A job lock held as a PostgreSQL session advisory lock on its own connection."""

    def __init__(self, store: Store, job: str) -> None:
        self.key = advisory_key(job)
        self._lock = store.advisory_lock(self.key)

    def acquire(self) -> bool:
        """Take the lock; ``False`` when another session holds it."""
        return self._lock.acquire()

    def release(self) -> None:
        """Give the lock back and close its connection."""
        self._lock.release()


def job_lock(store: Store, settings: Settings, job: str) -> JobLock:
    """The lock of ``job`` on this store: a file lock for SQLite, advisory for PostgreSQL."""
    if store.dialect == "postgresql":
        return AdvisoryJobLock(store, job)
    return FileJobLock(lock_path(settings.scheduler.lock_file, job))


@contextmanager
def holding(lock: JobLock) -> Iterator[bool]:
    """Try ``lock`` without waiting; yields whether it is held, and releases it after."""
    held = lock.acquire()
    try:
        yield held
    finally:
        if held:
            lock.release()
