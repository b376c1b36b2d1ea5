"""The bench's memory poll: it must see a command's child processes, not only the command."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.run import MB, TreeMemory, run_timed

# A parent that starts a child holding ~200 MB for a second, then waits for it.
_CHILD = "import time; b = bytearray(200 << 20); b[::4096] = bytes(len(b[::4096])); time.sleep(1.5)"
_TREE = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {_CHILD!r}], check=True)"


def test_peak_counts_the_children_of_a_command() -> None:
    measured = run_timed([sys.executable, "-c", _TREE])
    assert measured.peak_rss_single_mb > 200  # the child, not the parent
    assert measured.peak_rss_mb > measured.peak_rss_single_mb  # parent and child summed


def test_a_sample_reads_the_whole_tree() -> None:
    proc = subprocess.Popen([sys.executable, "-c", _TREE])
    try:
        memory = TreeMemory(proc.pid)
        for _ in range(100):  # until the child has its block
            memory.sample()
            if memory.peak_single > 200 * MB:
                break
            time.sleep(0.02)
        assert memory.peak_single > 200 * MB
    finally:
        proc.wait()


def test_pss_counts_shared_pages_once() -> None:
    measured = run_timed([sys.executable, "-c", _TREE], pss=True)
    assert measured.peak_pss_mb is not None
    # The child's 200 MB are its own; the interpreter's libraries, mapped by both, count once.
    assert 200 < measured.peak_pss_mb < measured.peak_rss_mb
