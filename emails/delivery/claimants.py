"""Names of the workers that claim ledger rows, and which of them are gone.

A worker claims rows under the name ``host/boot:pid:token``: the host name and
boot id say which machine it ran on, the pid which process, and a random token
which worker within it. A claimant of this machine can be checked at once
(:func:`dead_workers`); one elsewhere is only presumed dead when its claim
grows old.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

__all__ = ["dead_workers"]


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return "0"


_MACHINE = f"{os.uname().nodename}/{_boot_id()}"
LIVE_TOKENS: set[str] = set()
"""Tokens of the workers running in this process (claims under other tokens of
this process's pid are left over from an interrupted run)."""


def worker_name() -> str:
    token = secrets.token_hex(4)
    LIVE_TOKENS.add(token)
    return f"{_MACHINE}:{os.getpid()}:{token}"


def _process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            # The state follows the command name in parentheses; Z is a zombie.
            state = handle.read().rpartition(b")")[2].split()[0]
        return state in (b"Z", b"X")
    except FileNotFoundError:
        return True
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def dead_workers(names: Iterable[str]) -> list[str]:
    """The workers among ``names`` that ran on this machine and are gone.

    Their claims can be taken over at once; a worker on another machine is
    only presumed dead when its claim outlives ``delivery.claim_timeout_seconds``.
    """
    dead = []
    for name in names:
        parts = name.split(":")
        if len(parts) != 3 or parts[0] != _MACHINE:
            continue
        machine, pid_text, token = parts
        try:
            pid = int(pid_text)
        except ValueError:
            continue
        if pid == os.getpid():
            if token not in LIVE_TOKENS:
                dead.append(name)
        elif _process_gone(pid):
            dead.append(name)
    return dead
