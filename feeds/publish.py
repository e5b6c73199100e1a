"""Writing the output folder: atomically, only what changed, each path once.

- A file is written through :func:`broadsheet.files.write_atomic`: to a
  temporary file in its own folder, renamed over the old one, with the mode
  the umask gives; leftovers of a killed build are swept from every folder
  the build claims.
- Bytes equal to what is on disk are not written at all: the file keeps its
  mtime, so HTTP caches and ETags stay valid.
- Writing the same path twice in one build is a bug (two feeds claiming
  one file) and raises, as Pelican's writer does.
- A small state file (``.broadsheet-feeds.json``) remembers, for every file
  written, a digest of what it was made from and its size and mtime. A
  document whose inputs are unchanged, and whose file is still as written, is
  not even rendered again: that keeps a rebuild with nothing new cheap. It
  also lists what the last build wrote, so a feed that no longer exists (its
  tag was removed) is deleted, while files broadsheet did not write are
  never touched.
- With ``precompress`` (``[feeds] precompress``), every file but the hidden
  ones also gets a gzip copy beside it (``all.atom.gz``) for a web server's
  ``gzip_static`` (docs/deployment.md). The copy is byte-stable (no name, no
  time in its header, a fixed level), carries the mtime of the file it
  compresses, so both answers' ``Last-Modified`` agree, is written only when
  missing or no longer matching, and is removed with its file.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from broadsheet.errors import RenderError
from broadsheet.files import Data, sweep, write_atomic

__all__ = ["GZIP_SUFFIX", "STATE_FILE", "Data", "Writer", "gzip_pieces", "write_atomic"]

log = logging.getLogger(__name__)

STATE_FILE = ".broadsheet-feeds.json"
STATE_VERSION = 1

GZIP_SUFFIX = ".gz"
"""The suffix of a file's precompressed copy, as nginx's gzip_static expects."""

GZIP_LEVEL = 6
"""zlib's default level: close to the smallest files, at a fraction of level 9's time."""


def gzip_pieces(pieces: Sequence[bytes]) -> bytes:
    """``pieces`` as one gzip member, the same bytes every time for the same input.

    zlib writes the gzip header itself (``wbits=31``): no file name and a zero
    mtime, so only the content (and the zlib version) decides the bytes.
    """
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    out = [compressor.compress(piece) for piece in pieces]
    out.append(compressor.flush())
    return b"".join(out)


@dataclass
class _Record:
    inputs: str
    size: int
    mtime_ns: int


def _same(path: Path, pieces: Sequence[bytes]) -> bool:
    """Whether ``path`` holds exactly the bytes of ``pieces``."""
    try:
        return path.read_bytes() == b"".join(pieces)
    except OSError:
        return False


@dataclass
class Writer:
    """Writes one build's files under ``out``.

    Attributes:
        out: the output folder.
        written: files whose bytes changed (or are new).
        unchanged: files left as they were.
        removed: files of feeds that no longer exist, deleted by :meth:`finish`.
        precompress: also write a gzip copy beside every file that is not hidden.
    """

    out: Path
    precompress: bool = False
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _previous: dict[str, _Record] = field(default_factory=dict)
    _records: dict[str, _Record] = field(default_factory=dict)
    _folders: set[Path] = field(default_factory=set)
    _swept: set[Path] = field(default_factory=set)
    previous_build: str | None = None

    def __post_init__(self) -> None:
        self._previous = self._load_state()
        self._sweep(self.out)

    def _sweep(self, folder: Path) -> None:
        """Delete what a killed build left in ``folder``, once per build."""
        if folder not in self._swept:
            self._swept.add(folder)
            sweep(folder)

    def _load_state(self) -> dict[str, _Record]:
        path = self.out / STATE_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("version") != STATE_VERSION:
                return {}
            records = {
                name: _Record(str(r["inputs"]), int(r["size"]), int(r["mtime_ns"]))
                for name, r in raw["files"].items()
            }
            if bool(raw.get("precompress", False)) == self.precompress:
                # Turning precompress on or off changes what a build writes.
                self.previous_build = str(raw.get("build") or "") or None
            return records
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # A damaged state file costs one full render, nothing more.
            log.warning("%s: unreadable (%s); rendering every feed again", path, exc)
            return {}

    def keep_all(self) -> bool:
        """Count every file of the last build as unchanged, if all are still as written.

        Used when nothing a build depends on has changed since the last one.

        Returns:
            False (and counts nothing) when a file is missing or was touched.
        """
        for name, record in self._previous.items():
            try:
                stat = (self.out / name).stat()
            except OSError:
                return False
            if stat.st_size != record.size or stat.st_mtime_ns != record.mtime_ns:
                return False
        for name, record in sorted(self._previous.items()):
            self.unchanged.append(self._claim(name))
            self._records[name] = record
        return True

    def _claim(self, name: str) -> Path:
        if name in self._seen:
            raise RenderError(f"{self.out / name}: two feeds were about to write the same file")
        self._seen.add(name)
        path = self.out / name
        self._sweep(path.parent)
        return path

    def _compressed(self, name: str) -> bool:
        """Whether ``name`` gets a gzip copy beside it."""
        return self.precompress and not name.rpartition("/")[2].startswith(".")

    def _as_written(self, name: str, inputs: str | None = None) -> _Record | None:
        """The record of ``name`` when the file is still as the last build left it."""
        record = self._previous.get(name)
        if record is None or (inputs is not None and record.inputs != inputs):
            return None
        try:
            stat = (self.out / name).stat()
        except OSError:
            return None
        if stat.st_size != record.size or stat.st_mtime_ns != record.mtime_ns:
            return None
        return record

    def is_current(self, name: str, inputs: str) -> bool:
        """Whether ``name`` was made from ``inputs`` and is still on disk as written.

        When it is, the file is counted as unchanged and needs no rendering.
        With ``precompress``, so must its gzip copy be.
        """
        record = self._as_written(name, inputs)
        if record is None:
            return False
        names = [name]
        if self._compressed(name):
            gz = self._as_written(name + GZIP_SUFFIX)
            if gz is None or gz.mtime_ns != record.mtime_ns:
                return False
            names.append(name + GZIP_SUFFIX)
        for each in names:
            self.unchanged.append(self._claim(each))
            self._records[each] = self._previous[each]
        return True

    def write(self, name: str, data: Data, inputs: str = "") -> bool:
        """Write ``data`` to ``out/name`` unless it already holds those bytes.

        Args:
            name: path relative to ``out``, POSIX form.
            data: the complete file, whole or as pieces to write one after another.
            inputs: digest of what the file was made from (see :meth:`is_current`).

        Returns:
            Whether the file was written.
        """
        path = self._claim(name)
        pieces = (data,) if isinstance(data, bytes) else data
        size = sum(map(len, pieces))
        try:
            status: os.stat_result | None = os.stat(path)
        except OSError:
            status = None
        # Only a file of the same size can hold the same bytes: read no other.
        changed = status is None or status.st_size != size or not _same(path, pieces)
        if changed:
            folder = path.parent
            status = write_atomic(path, pieces, folder_exists=folder in self._folders)
            self._folders.add(folder)
            self.written.append(path)
        else:
            self.unchanged.append(path)
        assert status is not None
        self._records[name] = _Record(inputs, status.st_size, status.st_mtime_ns)
        if self._compressed(name):
            self._write_gzip(name, pieces, inputs, status.st_mtime_ns, changed)
        return changed

    def _write_gzip(
        self, name: str, pieces: Sequence[bytes], inputs: str, mtime_ns: int, changed: bool
    ) -> None:
        """Write ``name``'s gzip copy unless it is already there, as the last build left it."""
        gz_name = name + GZIP_SUFFIX
        path = self._claim(gz_name)
        record = None if changed else self._as_written(gz_name)
        if record is not None and record.mtime_ns == mtime_ns:
            self.unchanged.append(path)
            self._records[gz_name] = _Record(inputs, record.size, record.mtime_ns)
            return
        data = gzip_pieces(pieces)
        try:
            status: os.stat_result | None = os.stat(path)
        except OSError:
            status = None
        if (
            status is not None
            and status.st_mtime_ns == mtime_ns
            and status.st_size == len(data)
            and _same(path, (data,))
        ):
            self.unchanged.append(path)
        else:
            status = write_atomic(path, data, folder_exists=True, mtime_ns=mtime_ns)
            self.written.append(path)
        self._records[gz_name] = _Record(inputs, status.st_size, status.st_mtime_ns)

    def finish(self, build: str = "") -> None:
        """Delete files the last build wrote and this one did not; save the state.

        Args:
            build: digest of everything this build depended on (see :meth:`keep_all`).
        """
        for name in sorted(set(self._previous) - self._seen):
            path = self.out / name
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            self.removed.append(path)
            log.info("removed %s (its feed no longer exists)", path)
            self._prune(path.parent)
        state = {
            "version": STATE_VERSION,
            "build": build,
            # Only when on: a build without it keeps the state file's bytes.
            **({"precompress": True} if self.precompress else {}),
            "files": {
                name: {"inputs": r.inputs, "size": r.size, "mtime_ns": r.mtime_ns}
                for name, r in sorted(self._records.items())
            },
        }
        data = json.dumps(state, separators=(",", ":")).encode("utf-8") + b"\n"
        path = self.out / STATE_FILE
        try:
            unchanged = path.read_bytes() == data
        except OSError:
            unchanged = False
        if not unchanged:
            write_atomic(path, data)

    def _prune(self, folder: Path) -> None:
        """Remove folders emptied by deletions, up to (not including) ``out``."""
        out = self.out.resolve()
        while folder.resolve() != out and out in folder.resolve().parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent
