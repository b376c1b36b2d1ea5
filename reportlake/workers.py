"""Extraction worker processes forked by a command before it starts its run.

A worker process that starts as a fresh interpreter imports the pipeline (MuPDF, the parser,
pyarrow): ~0.5 s of CPU, at a time when every core is busy. The ``ingest`` command instead forks
its workers first thing, right after importing the pipeline itself (its own process extracts
too, so the import is paid once): the workers start with everything loaded, for the cost of a
fork. A fork is only safe while the process runs a single thread, so this happens before
Prefect starts any; the run's worker pool takes the forked workers if their number is the one
it needs, and spawns its own otherwise (a deployment's run, a second run in one process).

Nothing here imports Prefect, so the command can fork before importing it.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

_PIPELINE = ("reportlake.runs", "reportlake.extraction")  # what a worker runs, all it imports
_lock = threading.Lock()
_forked: dict[int, tuple[int, ProcessPoolExecutor]] = {}  # forking pid -> (workers, pool)


@contextmanager
def forked_workers(count: int) -> Iterator[None]:
    """Fork ``count`` extraction workers now, for the run started inside this block to take
    (``take_forked``); shut down at the end of the block if no run took them.

    Nothing is forked with ``count`` 0 or once this process runs threads: the run then starts
    its workers as it would without this block.
    """
    _fork(count)
    try:
        yield
    finally:
        untaken = take_forked(count)
        if untaken is not None:
            untaken.shutdown(wait=True)  # idle workers exit at once


def take_forked(count: int) -> ProcessPoolExecutor | None:
    """The pool of ``count`` workers ``forked_workers`` forked in this process, if any: taken
    once, then the taker's to shut down. A pool of another size is shut down."""
    with _lock:
        forked = _forked.pop(os.getpid(), None)
    if forked is None:
        return None
    workers, pool = forked
    if workers != count:
        pool.shutdown(wait=False)
        return None
    return pool


def _fork(count: int) -> None:
    if count < 1 or threading.active_count() > 1:
        return
    # What the workers run: imported here once, for this process and every worker.
    for module in _PIPELINE:
        importlib.import_module(module)

    pool = ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("fork"))
    # A forking pool forks all its workers on its first task (its threads start only after):
    # now, while this process still runs a single thread.
    pool.submit(os.getpid)
    with _lock:
        _forked[os.getpid()] = (count, pool)
