"""Run the ingest flow in this process and SIGKILL it in the middle of its N-th Parquet write.

A test helper: ``python -m tests.fault_run N INBOX LAKE BATCH_SIZE`` (N = 0: no kill). The write
is cut off the way a crash cuts it: bytes sent, the file never closed (so locally a temporary
file is left behind, and on S3 the upload never completes).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import pyarrow.parquet as pq


def main() -> None:
    kill_at, inbox, lake, batch_size = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    real_write = pq.write_table
    calls = 0

    def write_table(table: Any, where: Any, filesystem: Any = None, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == kill_at:
            out = filesystem.open_output_stream(where)
            out.write(b"PAR1" + b"\0" * 4096)
            out.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        real_write(table, where, filesystem=filesystem, **kwargs)

    pq.write_table = write_table
    from flows.ingest import ingest_reports

    summary = ingest_reports(inbox=inbox, lake=lake, batch_size=batch_size)
    print(f"writes={calls} written={summary.written} quarantined={summary.quarantined}")


if __name__ == "__main__":
    main()
