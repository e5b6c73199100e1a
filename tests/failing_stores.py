"""Real store failures for tests: a tiny tmpfs, a read-only remount, a PostgreSQL cut off.

Mounting needs root (or a user namespace); where ``mount`` is refused the
tests using :func:`tiny_tmpfs` skip and say so.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tiny_tmpfs(where: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``where`` (a skip where mounting is not allowed)."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path, *, leave: int) -> None:
    """Write a file into ``folder`` until only ``leave`` bytes are free."""
    with (folder / "filler").open("wb") as filler:
        while True:
            stats = os.statvfs(folder)
            if stats.f_bavail * stats.f_frsize <= leave:
                return
            try:
                filler.write(b"\0" * 4096)
                filler.flush()
            except OSError:
                return


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make the store files in the mounted ``folder`` unwritable, for as long as the block runs.

    Root writes through file modes, so as root the file system is remounted
    read-only; otherwise the files and the folder lose their write bits.
    """
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    else:
        for path in folder.iterdir():
            path.chmod(0o444)
        folder.chmod(0o555)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["mount", "-o", "remount,rw", str(folder)], check=False)
        else:
            folder.chmod(0o755)


@contextmanager
def database_cut_off(url: str) -> Iterator[int]:
    """Refuse new connections to ``url``'s database and end its sessions (``pg_terminate_backend``).

    Yields how many sessions were terminated; connections are allowed again after.
    """
    from tests.conftest import _pg_admin

    database = url.rsplit("/", 1)[1].split("?")[0]
    admin = _pg_admin()
    try:
        admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
        try:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
            yield len(ended)
        finally:
            admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
    finally:
        admin.close()
