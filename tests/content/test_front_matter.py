"""Front matter reads as PyYAML's safe loader reads it, whatever shortcut the reader takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadsheet.content.readers import _front_matter_loader, parse_markdown

HEADS = [
    "title: Plain\nauthors: [Ann, 'Bob']\ntags: a, b\n",
    "title: |\n  Two\n  lines\nstandfirst: >\n  folded\n  text\n",
    "title: !!str 12\nid: '007'\nsection: 12\ndraft: no\nimage: ~\nimage_alt:\n",
    "authors: &who [Ann, Bob]\ntags: *who\ntranslations: {ru: x, en: 3}\n",
    "<<: {title: Merged}\nlanguage: en\n",
    "title: Twice\ntitle: Again\npublished: 2019-11-28T09:00:00+03:00\n",
    "tags: [[nested], x]\nauthors: [1, two]\n",
]


@pytest.mark.parametrize("head", HEADS)
def test_front_matter_is_what_the_safe_loader_builds(head: str, tmp_path: Path) -> None:
    loader = _front_matter_loader()(head)
    try:
        expected = loader.get_data()
    finally:
        loader.dispose()
    expected = {str(key): value for key, value in expected.items()}
    data = f"---\n{head}---\nBody.\n".encode()
    fields = parse_markdown(data, tmp_path / "a.md", "a.md").fields
    del fields["body"]
    assert fields == expected
    assert list(fields) == list(expected)
    assert [type(v) for v in fields.values()] == [type(v) for v in expected.values()]
