"""The demo's published files, byte for byte, against a golden manifest.

``tests/golden/demo-public.sha256`` lists the SHA-256 of every file the demo
writes under ``public/`` (feeds, archive pages, editions, web copies; not the
build's own hidden state file, which records the code's digest). A change
that moves a byte of them either is a bug or is meant: when it is meant, refresh
the manifest in the same commit and say why in its message::

    broadsheet demo --out /tmp/demo && (cd /tmp/demo/public && find . -type f ! -name '.*' | sort \\
        | xargs sha256sum) > tests/golden/demo-public.sha256
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "demo-public.sha256"


def _manifest(public: Path) -> dict[str, str]:
    return {
        "./" + path.relative_to(public).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(public.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }


@pytest.mark.slow
def test_the_demo_publishes_the_golden_bytes(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    expected = {}
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        expected[name] = digest
    got = _manifest(tmp_path / "demo" / "public")
    assert sorted(set(got) - set(expected)) == [], "files the manifest does not list"
    assert sorted(set(expected) - set(got)) == [], "files the demo no longer writes"
    changed = sorted(name for name in expected if got[name] != expected[name])
    assert changed == [], f"{len(changed)} files changed bytes"
