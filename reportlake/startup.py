"""Keep Python's cyclic garbage collector off what a process loaded to start with.

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

import gc
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

_lock = threading.Lock()
_frozen = False  # whether this process froze its start-up objects
_paused = False  # whether pause_collector() turned the collector off


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
    """A process's start-up: the collector off during it, its objects frozen after it."""
    pause_collector()
    try:
        yield
    finally:
        freeze_start_up()
