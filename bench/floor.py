"""The floor: the least work any PDF-to-Parquet ingest must do, as one plain command.

``python bench/floor.py INBOX OUT.parquet``: one process reads every ``*.pdf`` of INBOX with
PyMuPDF, takes ``page.get_text()`` of every page, and writes all rows (file name, text) with a
single ``pyarrow.parquet.write_table``. No parsing, validation, state or orchestration: the
pipeline's time over this is what everything else costs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pymupdf


def pdf_text(path: Path) -> str:
    """The text of every page, one after another."""
    with pymupdf.open(path) as doc:
        return "\n".join(page.get_text() for page in doc)


def main(inbox: Path, out: Path) -> int:
    """Extract every PDF of ``inbox`` into one Parquet file; the number of rows."""
    paths = sorted(inbox.glob("*.pdf"))
    table = pa.table({"file": [p.name for p in paths], "text": [pdf_text(p) for p in paths]})
    pq.write_table(table, out)
    return int(table.num_rows)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python bench/floor.py INBOX OUT.parquet")
    rows = main(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"floor: {rows} reports -> {sys.argv[2]}")
