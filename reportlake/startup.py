"""What a run's processes do at start-up: keep Python's cyclic garbage collector off what they
loaded to start with, give large blocks back to the system (``map_large_blocks``), and keep
pyarrow from importing pandas (``arrow_without_pandas``).

A run's processes import Prefect, pyarrow, MuPDF (and Great Expectations in the validator's):
200,000-300,000 long-lived objects. Each full collection walks all of them (0.1-0.2 s), and a
1,000-report run allocates enough to trigger one every second or two in every process: about a
second of CPU per run, on a machine whose cores are all busy extracting. Frozen (moved to the
collector's permanent generation) once start-up is over, they are no longer walked.

Frozen objects are still freed by reference counting as before; only a reference cycle among
them would outlive its use. So only processes whose start-up reportlake owns freeze: those that
paused the collector for it (the ``ingest`` and ``backfill`` commands, the extraction workers, the
validator's process), where the little garbage start-up leaves is known. Elsewhere (a test
session, a Dask worker, a deployment's run) ``freeze_start_up`` does nothing: their live objects
may include cycles that are garbage soon.
"""

from __future__ import annotations

import ctypes
import gc
import importlib.abc
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD = 32 * 1024  # bytes: a report's text (~40 KB on average) is above it

_lock = threading.Lock()
_frozen = False  # whether this process froze its start-up objects
_paused = False  # whether pause_collector() turned the collector off


def process_start() -> None:
    """Start-up of a process reportlake owns (a command's, an extraction worker, the validator's):
    large blocks mapped (``map_large_blocks``), the collector paused (``pause_collector``)."""
    map_large_blocks()
    pause_collector()


def map_large_blocks() -> None:
    """Fix glibc's mmap threshold at ``MMAP_THRESHOLD``, where it would otherwise climb.

    glibc starts at 128 KiB and, whenever it unmaps a freed block above the threshold, raises
    the threshold to that block's size (up to 32 MiB) and the heap's trim threshold to twice
    that. Once a chunk's pickled batch (~5 MB) was freed, the next ones and every report's text
    came from the heap, which kept what was freed. Fixed, a block of 32 KiB or more that the
    heap has no free room for gets a mapping of its own, unmapped when freed, and the heap is
    trimmed past 128 KiB of free space. At 10,000 reports (1 worker, PSS summed over the run's
    processes): 652 MB with glibc's default, 611-620 MB at 256 KiB, 591-599 MB at 32 KiB;
    extraction and parsing as fast (300 reports, 3 pairs: 4.02-4.20 s against 4.11-4.31 s).
    Arrow's buffers come from jemalloc either way. Does nothing where the C library has no
    ``mallopt`` (it is glibc's).
    """
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def pause_collector() -> None:
    """Turn the collector off until ``freeze_start_up``: this process's start-up is ours (imports
    build little garbage, and a full collection during them walks everything imported so far,
    several times over). Also the extraction workers' initializer."""
    global _paused
    with _lock:
        if not _frozen and gc.isenabled():
            gc.disable()
            _paused = True


def freeze_start_up() -> None:
    """If ``pause_collector`` turned the collector off, freeze every object alive now and turn
    the collector back on; otherwise (or once done) do nothing."""
    global _frozen, _paused
    with _lock:
        if _paused:
            gc.freeze()
            gc.enable()
            _frozen, _paused = True, False


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker process takes from the run that hands it a chunk: environment variables
    (the run's Prefect API) and its loggers' levels (Prefect's logging settings), so that the
    worker logs what that process would. Sent with every chunk: a worker forked before the run
    started (see ``reportlake.workers``) knew neither."""

    environ: Mapping[str, str]
    log_levels: Mapping[str, int]  # by logger name, root as ""

    def apply(self) -> None:
        os.environ.update(self.environ)
        for name, level in self.log_levels.items():
            logging.getLogger(name or None).setLevel(level)


@contextmanager
def start_up() -> Iterator[None]:
    """A process's start-up (``process_start``): the collector off during it, its objects
    frozen after it."""
    process_start()
    try:
        yield
    finally:
        freeze_start_up()


class _NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, *args: object) -> None:
        if name == "pandas":
            raise ModuleNotFoundError("pandas is not imported by this process", name=name)


def arrow_without_pandas() -> None:
    """Have pyarrow convert Python lists without importing pandas, in this process and the
    workers it forks: for a run's process, which builds Arrow tables and never a DataFrame.

    Converting a list, pyarrow asks whether it is a pandas object and, in C++, for pandas'
    missing-value markers; the first time, each imports pandas: ~0.2 s of CPU and ~48 MB (RSS)
    in a process that has no other use for it. Asked while pandas cannot be imported, both
    find it absent and neither asks again. pandas still works afterwards: ``to_pandas``
    imports it when called, and pyarrow recognises pandas objects again from then on. Does
    nothing once pandas is imported.
    """
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])  # pyarrow looks for pandas once: now
    finally:
        sys.meta_path.remove(finder)
