"""The naive baseline: what one would write by hand to get reports into Parquet.

``python bench/naive.py INBOX OUT_DIR [--every K]``: for each ``*.pdf`` of INBOX (every K-th
one, in name order, with ``--every``), pdfplumber's ``page.extract_text()`` of every page, a
few regexes for the title, date and broker, and one ``DataFrame.to_parquet`` per report. No
validation, no state, no deduplication, no parallelism.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd
import pdfplumber

DATE = re.compile(r"(20\d\d)\s*[年.-]\s*(\d{1,2})\s*[月.-]\s*(\d{1,2})")
BROKER = re.compile(r"([\u4e00-\u9fff]{2,4}证券|中金公司|国泰君安|申万宏源|中信建投|中国银河)")
TITLE = re.compile(r"^[^@:：]{0,40}[\u4e00-\u9fff][^@]{7,60}$")


def first_title(lines: list[str]) -> str | None:
    """The first line that looks like a title: long enough, no label, no e-mail."""
    for line in lines[:30]:
        line = line.strip()
        if TITLE.match(line) and not any(w in line for w in ("证券研究报告", "分析师", "研究所")):
            return line
    return None


def parse(text: str) -> dict[str, str | None]:
    """Title, publish date and broker by regex."""
    date = DATE.search(text)
    broker = BROKER.search(text)
    return {
        "title": first_title(text.splitlines()),
        "publish_date": f"{date[1]}-{int(date[2]):02d}-{int(date[3]):02d}" if date else None,
        "broker": broker[1] if broker else None,
    }


def ingest(path: Path, out_dir: Path) -> None:
    """One report: extract, parse, write its own Parquet file."""
    with pdfplumber.open(path) as pdf:
        text = "\n".join(page.extract_text() or "" for page in pdf.pages)
    row = {"file": path.name, **parse(text), "text": text}
    pd.DataFrame([row]).to_parquet(out_dir / f"{path.stem}.parquet", index=False)


def main(argv: list[str] | None = None) -> int:
    """Ingest the inbox (or every K-th report of it); the number of reports written."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inbox", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--every", type=int, default=1, help="only every K-th report")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    paths = sorted(args.inbox.glob("*.pdf"))[:: args.every]
    for path in paths:
        ingest(path, args.out_dir)
    print(f"naive: {len(paths)} reports -> {args.out_dir}")
    return len(paths)


if __name__ == "__main__":
    main()
