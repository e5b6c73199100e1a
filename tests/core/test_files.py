"""The one atomic writer: whole files, the umask's mode, each path once, no leftovers."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.errors import RenderError
from broadsheet.files import FileWriter, sweep, temporary_name, write_atomic
from broadsheet.store import Store

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_get_the_mode_the_umask_gives(tmp_path: Path, umask_022: None) -> None:
    target = tmp_path / "deep" / "feed.atom"
    write_atomic(target, b"<feed/>")
    assert _mode(target) == 0o644
    os.umask(0o027)
    write_atomic(target, [b"<feed>", b"</feed>"])
    assert target.read_bytes() == b"<feed></feed>"
    assert _mode(target) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["feed.atom"]


def test_a_file_written_0600_before_is_replaced_readable(tmp_path: Path, umask_022: None) -> None:
    target = tmp_path / "index.html"
    target.write_text("old")
    target.chmod(0o600)
    FileWriter().write(target, "new é")
    assert target.read_bytes() == "new é".encode()
    assert _mode(target) == 0o644


def test_the_same_path_twice_in_one_build_is_refused(tmp_path: Path) -> None:
    writer = FileWriter()
    writer.write(tmp_path / "a.html", "one")
    with pytest.raises(RenderError, match=r"a\.html: written twice in one build"):
        writer.write(tmp_path / "a.html", "two")
    assert (tmp_path / "a.html").read_text() == "one"
    FileWriter().write(tmp_path / "a.html", "next build")
    assert (tmp_path / "a.html").read_text() == "next build"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "feed.rss"
    target.write_bytes(b"old")

    class Boom(Exception):
        pass

    class Pieces(list[bytes]):
        def __iter__(self) -> Iterator[bytes]:
            raise Boom

        def __len__(self) -> int:
            raise Boom

    with pytest.raises(Boom):
        write_atomic(target, Pieces([b"new"]))
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["feed.rss"]


def _killed_writer(folder: Path) -> Path:
    """Run a writer that SIGKILLs itself with its temporary file open; return that file."""
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from broadsheet.files import _create_temporary\n"
        "handle, path = _create_temporary(Path(sys.argv[1]), 'email.html')\n"
        "os.write(handle, b'<html>half')\n"
        "print(path, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    left = Path(done.stdout.strip())
    assert left.parent == folder and left.exists()
    return left


def test_a_killed_writers_temporary_file_is_swept_on_the_next_build(tmp_path: Path) -> None:
    left = _killed_writer(tmp_path)
    assert left.name.startswith(".email.html.") and left.name.endswith(".tmp")
    mine = tmp_path / temporary_name("index.html")  # a live writer's (ours): kept
    mine.write_bytes(b"in progress")
    other = tmp_path / ".cache.tmp"  # not a name the writer makes: kept
    other.write_bytes(b"")
    writer = FileWriter()
    writer.write(tmp_path / "email.html", "<html>whole</html>")
    assert writer.swept == [left] and not left.exists()
    assert mine.exists() and other.exists()
    assert sweep(tmp_path) == []


def test_an_old_temporary_file_is_swept_whoever_left_it(tmp_path: Path) -> None:
    old = tmp_path / temporary_name("all.atom", pid=os.getpid())
    old.write_bytes(b"")
    os.utime(old, (0, 0))
    assert sweep(tmp_path) == [old]


def test_feed_builds_sweep_leftovers_in_every_folder_they_write(tmp_path: Path) -> None:
    from broadsheet.feeds.publish import Writer

    (tmp_path / "en").mkdir()
    top, below = _killed_writer(tmp_path), _killed_writer(tmp_path / "en")
    writer = Writer(tmp_path)
    assert not top.exists() and below.exists()
    writer.write("en/all.atom", b"<feed/>")
    writer.finish()
    assert not below.exists()
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        ".broadsheet-feeds.json",
        "en",
        "en/all.atom",
    ]


def test_edition_builds_sweep_leftovers_and_write_readable_files(
    publication: Store, settings: Settings, fixed_now: datetime, umask_022: None
) -> None:
    from broadsheet.model import Frequency
    from broadsheet.scheduler.editions import build_edition

    archive = settings.emails.out / "en"
    archive.mkdir(parents=True)
    left = _killed_writer(archive)
    outcome = build_edition(
        publication, settings, language="en", frequency=Frequency.WEEKLY, now=fixed_now
    )
    assert outcome.created and not left.exists()
    paths = [outcome.paths[role] for role in ("html", "text", "web", "json", "archive")]
    assert {p.name: oct(_mode(p)) for p in paths} == {
        "email.html": "0o644",
        "email.txt": "0o644",
        "index.html": "0o644",
        "edition.json": "0o644",
    }
    assert _mode(outcome.paths["archive"]) == 0o644
