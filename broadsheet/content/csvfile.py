"""CSV files with a header line, read row by row with their line numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from broadsheet.content.readers import decode_utf8, read_bytes
from broadsheet.errors import ContentError


def read_csv(
    path: Path, source: str, *, required: Sequence[str], optional: Sequence[str] = ()
) -> Iterator[tuple[int, dict[str, str] | ContentError]]:
    """Rows of a CSV file as (line number, column -> stripped text).

    A row with more cells than the header comes back as a ContentError in
    place of its values, and the rows after it are read on.

    Raises:
        ContentError: when the file cannot be read or its header lacks a
            required column (other row problems are the caller's to report).
    """
    text = decode_utf8(read_bytes(path, source), source)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ContentError(
            source, f"empty file; expected a header line: {','.join(required)}"
        ) from None
    except csv.Error as exc:
        raise ContentError(source, f"not valid CSV: {exc}", line=1) from None
    names = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in names]
    if missing:
        hint = ""
        if len(header) == 1 and any(mark in header[0] for mark in ";\t"):
            hint = " (columns are separated by commas, not semicolons or tabs)"
        raise ContentError(
            source,
            f"the header lacks {', '.join(missing)}; expected "
            f"{','.join([*required, *optional])}{hint}",
            line=1,
        )
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ContentError(source, f"not valid CSV: {exc}", line=reader.line_num) from None
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(names) and any(cell.strip() for cell in row[len(names) :]):
            yield (
                reader.line_num,
                ContentError(
                    source,
                    f"{len(row)} columns where the header has {len(names)}",
                    line=reader.line_num,
                ),
            )
            continue
        values = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(names)}
        yield reader.line_num, values
