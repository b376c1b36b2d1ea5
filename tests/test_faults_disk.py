"""A local lake on a full disk: the run fails loudly, loses nothing, and a rerun completes it.

The lake lives on a tmpfs of 2 MiB (the corpus needs about 5 MiB of data, 10 with its Data
Docs). The first run must fail with "No space left on device", leaving only whole, readable
files, rows a clean run writes and state for committed reports only. With 4 MiB a second run
gets further and fails again without losing anything the first one committed. With room to
spare, a third run ends with the clean run's lake.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import lakecheck
from tests.conftest import FAULT_RUN_ENV, CleanRun, ingest_argv
from tests.fault_run import FAST_RETRIES_ENV, ForkServer, Run

pytestmark = pytest.mark.e2e
ENV = {**FAULT_RUN_ENV, FAST_RETRIES_ENV: "0.2"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (mount needs root and CAP_SYS_ADMIN; skipped without them)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def resize(mount: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)


def assert_failed_for_space(run: Run, lake: str, clean: CleanRun) -> lakecheck.Snapshot:
    """Failed, saying why, with only whole files, clean rows and state for committed reports."""
    assert run.returncode not in (0, -9), run.output[-3000:]
    assert "No space left on device" in run.output, run.output[-3000:]
    partial, _ = lakecheck.assert_interrupted_cleanly(lake, "inbox", clean.snapshot)
    assert lakecheck.committed_keys(lake, "inbox") <= clean.keys
    return partial


def test_a_full_disk_fails_the_run_loudly_and_a_rerun_with_space_completes_the_lake(
    fork_server: ForkServer,
    small_disk: Path,
    corpus_inbox: Path,
    clean_corpus: CleanRun,
    record_property: pytest.RecordProperty,
) -> None:
    lake = str(small_disk / "lake")
    argv = ingest_argv(lake, inbox=str(corpus_inbox))

    first = assert_failed_for_space(fork_server.run(argv, env=ENV), lake, clean_corpus)
    resize(small_disk, "4m")
    second = assert_failed_for_space(fork_server.run(argv, env=ENV), lake, clean_corpus)
    lakecheck.assert_part_of(first, second)  # nothing the first run committed was lost
    for name, table in first.items():
        assert second[name].num_rows >= table.num_rows, name

    resize(small_disk, "64m")
    rerun = fork_server.run(argv, env=ENV)
    assert rerun.returncode == 0, rerun.output[-3000:]
    final = lakecheck.snapshot(lake)
    lakecheck.assert_same_lake(final, clean_corpus.snapshot)
    assert lakecheck.committed_keys(lake, "inbox") == clean_corpus.keys
    line = (
        f"disk full at 2 MiB and 4 MiB: runs failed with {first['reports'].num_rows} and "
        f"{second['reports'].num_rows} reports committed; rerun equal "
        f"({lakecheck.rows_in(final)} rows)"
    )
    print(line)
    record_property("summary", line)
