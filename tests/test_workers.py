"""Extraction workers forked by the command before its run: loaded, taken once, never left over.

Each test runs in a fresh interpreter: a fork is only made by a process with a single thread,
which a test session is not.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES_INBOX, run_script


def test_forked_workers_start_with_the_pipeline_loaded_and_are_taken_once() -> None:
    run_script(
        """
        import os
        import sys
        from reportlake.workers import forked_workers, take_forked
        from tests.worker_probe import imported

        with forked_workers(2):
            assert "prefect" not in sys.modules
            pool = take_forked(2)
            assert pool is not None and take_forked(2) is None
            # Loaded by the fork, not by the worker's first task (which imports only the probe).
            assert pool.submit(imported, "pymupdf").result()
            assert pool.submit(imported, "reportlake.parsing").result()
            assert not pool.submit(imported, "prefect").result()
            assert pool.submit(os.getppid).result() == os.getpid()
            pool.shutdown()
        """
    )


def test_a_spawned_worker_would_import_the_pipeline_itself() -> None:
    # The contrast the fork is for: a fresh interpreter has nothing loaded until it imports.
    run_script(
        """
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        import reportlake.extraction
        from tests.worker_probe import imported

        if __name__ == "__main__":
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                assert not pool.submit(imported, "pymupdf").result()
        """
    )


def test_nothing_is_forked_once_the_process_runs_threads() -> None:
    run_script(
        """
        import multiprocessing
        import threading
        from reportlake.workers import forked_workers, take_forked

        stop = threading.Event()
        thread = threading.Thread(target=stop.wait)
        thread.start()
        with forked_workers(1):
            assert multiprocessing.active_children() == []
            assert take_forked(1) is None
        stop.set()
        thread.join()
        """
    )


@pytest.mark.parametrize(("forked", "taken"), [(1, None), (1, 2), (0, 1)])
def test_workers_nobody_takes_are_shut_down(forked: int, taken: int | None) -> None:
    # Not taken (a run with nothing new), or taken for another number of workers: they exit.
    run_script(
        f"""
        import multiprocessing
        import time
        from reportlake.workers import forked_workers, take_forked

        with forked_workers({forked}):
            assert len(multiprocessing.active_children()) == {forked}
            if {taken} is not None:
                assert take_forked({taken}) is None
        deadline = time.monotonic() + 10
        while multiprocessing.active_children() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert multiprocessing.active_children() == []
        """
    )


def test_a_forked_copy_does_not_keep_the_validator_from_exiting() -> None:
    # The validator exits when its pipe reads end-of-file: a forked copy of the process that
    # started it must not hold the pipe open (the command forks its workers after starting it).
    run_script(
        """
        import os
        import signal
        from reportlake.quality_process import validator_for
        from tests.test_quality import SUITES

        validator = validator_for(SUITES)
        validator.reset_results()  # asked something: close() waits for it to exit on its own
        validator.validate({})  # loaded and serving
        child = os.fork()
        if child == 0:
            signal.pause()
        try:
            validator.close()
            assert validator._process.returncode == 0, validator._process.returncode
        finally:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
        """
    )


@pytest.mark.e2e
def test_an_ingest_extracts_with_the_workers_it_forked(
    prefect_harness: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORTLAKE_")}
    env.update(PREFECT_API_URL=prefect_harness, REPORTLAKE_WORKERS="1")
    out = run_script(
        f"""
        import json
        from concurrent.futures import ProcessPoolExecutor
        import tasks.ingest
        from reportlake.cli import app

        forked = []
        take = tasks.ingest.take_forked

        def taking(count: int) -> ProcessPoolExecutor | None:
            pool = take(count)
            forked.append(pool is not None)
            return pool

        tasks.ingest.take_forked = taking
        app(["ingest", "--inbox", {str(EXAMPLES_INBOX)!r}, "--lake", {str(tmp_path / "lake")!r},
             "--batch-size", "4", "--no-example-query"], standalone_mode=False)
        print(json.dumps(forked))
        """,
        env,
    )
    assert out.strip().splitlines()[-1] == "[true]"
