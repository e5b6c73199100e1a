"""Writing published files: whole or not at all, readable by the web server, each once.

Every file broadsheet publishes (feeds, their state files, edition files, web
copies, archive pages) is written here:

- **Atomically.** The bytes go to a temporary file in the target's own folder,
  which is then renamed over the target (``os.replace``), so a reader sees the
  old file or the new one, never part of either. There is no fsync: the rename
  alone is what keeps readers from a half-written file, and every file can be
  made again from the store.
- **With the mode the process umask gives** (0644 under the usual umask 022),
  never 0600, so a web server running as another user can serve the folder.
  The temporary file is created with mode 0666 and the kernel applies the
  umask, as it does for any new file (``tempfile.mkstemp`` would make 0600).
- **Once per build.** :class:`FileWriter` refuses to write one path twice in
  one build, as Pelican's writer does: two outputs claiming one file is a bug.
- **Cleaning up after a killed build.** A temporary file is named
  ``.NAME.PID.RANDOM.tmp``; a build sweeps the folders it writes into and
  deletes such files left by a process that is no longer running (or older
  than a day, whoever left them).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
from collections.abc import Sequence
from pathlib import Path

from broadsheet.errors import RenderError

__all__ = ["Data", "FileWriter", "sweep", "temporary_name", "write_atomic"]

log = logging.getLogger(__name__)

Data = bytes | Sequence[bytes]
"""A file's bytes, whole or as pieces written one after another."""

STALE_AFTER = 24 * 3600
"""Seconds after which a temporary file counts as left over, whatever its process."""

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")

# Pieces per writev call: POSIX guarantees at least 16, Linux allows 1024.
try:
    _IOV_MAX = max(16, min(os.sysconf("SC_IOV_MAX"), 1024))
except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
    _IOV_MAX = 16

# Room left in a file name (255 bytes on common file systems) for the
# temporary file's dot, pid, random part and suffix.
_NAME_ROOM = 200


def temporary_name(name: str, pid: int | None = None) -> str:
    """The name of a new temporary file for ``name``: ``.NAME.PID.RANDOM.tmp``."""
    short = name if len(name.encode()) <= _NAME_ROOM else name[: _NAME_ROOM // 4]
    return f".{short}.{os.getpid() if pid is None else pid}.{secrets.token_hex(4)}.tmp"


def _pieces(data: Data) -> Sequence[bytes]:
    return (data,) if isinstance(data, bytes) else data


def _write_all(handle: int, pieces: Sequence[bytes]) -> None:
    """Write ``pieces`` to ``handle`` in order, however the system splits the writes.

    One ``writev`` call takes many pieces, so a document is never joined into
    one more copy of itself just to be written.
    """
    if not hasattr(os, "writev"):  # pragma: no cover - every POSIX system has it
        view = memoryview(b"".join(pieces))
        while view:
            view = view[os.write(handle, view) :]
        return
    for start in range(0, len(pieces), _IOV_MAX):
        batch: list[bytes | memoryview] = list(pieces[start : start + _IOV_MAX])
        remaining = sum(len(piece) for piece in batch)
        while remaining:
            done = os.writev(handle, batch)
            remaining -= done
            if not remaining:
                break
            # A short write (rare for regular files): resume where it stopped.
            while done >= len(batch[0]):
                done -= len(batch.pop(0))
            batch[0] = memoryview(batch[0])[done:]


def _create_temporary(folder: Path, name: str) -> tuple[int, Path]:
    """A new, empty file beside ``folder/name``, with the mode the umask gives."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        temporary = folder / temporary_name(name)
        try:
            # 0o666: the kernel removes the umask's bits, as for any new file.
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:  # pragma: no cover - 32 random bits met another's
            continue
    raise FileExistsError(f"{folder}: no free temporary name for {name}")  # pragma: no cover


def write_atomic(
    path: Path,
    data: Data,
    *,
    folder_exists: bool = False,
    mtime_ns: int | None = None,
    mode: int | None = None,
) -> os.stat_result:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    Args:
        path: the file to write.
        data: its bytes, whole or in pieces.
        folder_exists: skip creating ``path``'s folder.
        mtime_ns: the modification time to give the file (nanoseconds since
            the epoch), set before it is renamed into place; default: now.
        mode: permissions to give the file before it is renamed into place
            (0o600 for personal data); default: what the umask gives.

    Returns:
        The new file's status (size, mtime), as ``os.stat(path)`` would give.

    Raises:
        OSError: the folder or the file could not be written; nothing is left
            behind but the old file, if there was one.
    """
    if not folder_exists:
        path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = _create_temporary(path.parent, path.name)
    try:
        try:
            if mode is not None:  # before a byte is written
                os.fchmod(handle, mode)
            _write_all(handle, _pieces(data))
            if mtime_ns is not None:
                os.utime(handle, ns=(mtime_ns, mtime_ns))
            # The rename below keeps the mtime, so this is the file's status.
            status = os.fstat(handle)
        finally:
            os.close(handle)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return status


def _running(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (ours counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # another user's process, or a pid we cannot test
    return True


def sweep(folder: Path) -> list[Path]:
    """Delete the temporary files a killed writer left in ``folder``.

    A temporary file (``.NAME.PID.RANDOM.tmp``) is left over when its process
    no longer runs, or when it is more than :data:`STALE_AFTER` seconds old.
    Files of running writers, and every other file, are left alone.

    Returns:
        The files deleted.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        found = _TEMPORARY.match(entry.name)
        if found is None or not entry.is_file(follow_symlinks=False):
            continue
        try:
            age = time.time() - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if _running(int(found["pid"])) and age < STALE_AFTER:
            continue
        path = Path(entry.path)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        log.info("removed %s, left by a build that did not finish", path)
        removed.append(path)
    return removed


class FileWriter:
    """Writes one build's files atomically, each path once.

    The first time a build writes into a folder, leftovers of killed builds
    there are swept away (see :func:`sweep`).

    Attributes:
        written: the files written, in order.
        swept: leftover temporary files deleted.
    """

    def __init__(self) -> None:
        self.written: list[Path] = []
        self.swept: list[Path] = []
        self._claimed: set[Path] = set()
        self._folders: set[Path] = set()

    def claim(self, path: Path) -> None:
        """Count ``path`` as this build's, without writing it.

        Raises:
            RenderError: the build already claimed ``path`` (a bug: two
                outputs about to write one file).
        """
        if path in self._claimed:
            raise RenderError(f"{path}: written twice in one build")
        self._claimed.add(path)
        self.enter(path.parent)

    def enter(self, folder: Path) -> None:
        """Sweep ``folder`` of leftover temporary files, once per build."""
        if folder not in self._folders:
            self._folders.add(folder)
            self.swept.extend(sweep(folder))

    def write(self, path: Path, data: Data | str) -> os.stat_result:
        """Claim ``path`` and write ``data`` to it (a ``str`` as UTF-8).

        Raises:
            RenderError: ``path`` was already written in this build.
            OSError: the file could not be written.
        """
        self.claim(path)
        if isinstance(data, str):
            data = data.encode("utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        status = write_atomic(path, data, folder_exists=True)
        self.written.append(path)
        return status
