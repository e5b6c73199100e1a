"""Helpers that write small content folders."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ARTICLE = """\
---
title: {title}
standfirst: A short summary.
authors: [Irina Volkova, Timur Saidov]
section: Economy
tags: [Sanctions, Russia - World]
language: en
translations: {{ru: sanktsii}}
published: 2026-11-20T09:00:00+03:00
image: /images/port.jpg
image_alt: A container port
---
Read [the earlier piece](../older/) and [our home](/) or <a href="javascript:alert(1)">this</a>.

<script>alert("x")</script><p onclick="steal()">Paragraph</p>

![chart](chart.png)
"""


@pytest.fixture
def write_md(tmp_path: Path) -> Callable[..., Path]:
    """Write ``content/NAME.md``; ``text`` is dedented. Returns the file."""
    folder = tmp_path / "content"
    folder.mkdir(exist_ok=True)

    def write(name: str, text: str | None = None, *, raw: bytes | None = None, **fmt: str) -> Path:
        path = folder / f"{name}.md"
        if raw is not None:
            path.write_bytes(raw)
        else:
            body = (
                ARTICLE.format(title=fmt.get("title", "Sanctions and ports"))
                if text is None
                else text
            )
            path.write_text(textwrap.dedent(body), encoding="utf-8")
        return path

    return write


def front(**fields: str | None) -> str:
    """A minimal valid article, with ``fields`` replacing or adding front-matter lines."""
    base: dict[str, str | None] = {
        "title": "A title",
        "language": "en",
        "published": "2026-11-20T09:00:00+03:00",
    }
    base.update(fields)
    lines = [f"{k}: {v}" for k, v in base.items() if v is not None]
    return "---\n" + "\n".join(lines) + "\n---\nBody text.\n"
