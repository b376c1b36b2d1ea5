"""Keep Python's cyclic garbage collector off what a process loaded to start with.

A run's processes import Prefect, pyarrow, MuPDF (and Great Expectations in the validator's):
200,000-300,000 long-lived objects. Each full collection walks all of them (0.1-0.2 s), and a
1,000-report run allocates enough to trigger one every second or two in every process: about a
second of CPU per run, on a machine whose cores are all busy extracting. Frozen (moved to the
collector's permanent generation) once start-up is over, they are no longer walked.

Frozen objects are still freed by reference counting as before; only a reference cycle among
them would outlive its use, and what start-up builds lives as long as the process.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_frozen = False  # whether this process froze its start-up objects
_paused = False  # whether pause_collector() turned the collector off


def pause_collector() -> None:
    """Turn the collector off until ``freeze_start_up`` (imports build little garbage, and a
    full collection during them walks everything imported so far, several times over)."""
    global _paused
    with _lock:
        if not _frozen and gc.isenabled():
            gc.disable()
            _paused = True


def freeze_start_up() -> None:
    """Freeze every object alive now, once per process; turn the collector back on if
    ``pause_collector`` turned it off. Later calls only do the latter."""
    global _frozen, _paused
    with _lock:
        if not _frozen:
            gc.freeze()
            _frozen = True
        if _paused:
            gc.enable()
            _paused = False


@contextmanager
def start_up() -> Iterator[None]:
    """A process's start-up: the collector off during it, its objects frozen after it."""
    pause_collector()
    try:
        yield
    finally:
        freeze_start_up()
