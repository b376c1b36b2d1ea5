"""A run's processes at start-up: objects frozen out of the garbage collector's way (and the
collector back on), large blocks returned to the system when freed, Arrow without pandas."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES_INBOX, run_script


def test_start_up_pauses_the_collector_then_freezes_once() -> None:
    run_script(
        """
        import gc
        from reportlake.startup import freeze_start_up, pause_collector, start_up

        with start_up():
            assert not gc.isenabled()
            built = [[n] for n in range(10_000)]
        assert gc.isenabled()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000, frozen
        freeze_start_up()
        assert gc.get_freeze_count() == frozen  # once per process
        pause_collector()
        assert gc.isenabled()  # start-up is over: nothing to pause
        """
    )


def test_a_process_that_did_not_pause_freezes_nothing(tmp_path: Path) -> None:
    # A test session, a Dask worker: objects alive may be garbage cycles soon; never frozen.
    run_script(
        f"""
        import gc
        from reportlake.runs import extract, plan_batches
        from reportlake.settings import Settings
        from reportlake.startup import freeze_start_up

        settings = Settings.load(source="inbox", inbox={str(EXAMPLES_INBOX)!r},
                                 lake={str(tmp_path / "lake")!r})
        items = plan_batches(settings).batches[0]
        assert len(extract(settings, items).outcomes) == len(items)
        freeze_start_up()
        assert gc.get_freeze_count() == 0 and gc.isenabled()
        """
    )


def test_a_collector_turned_off_by_the_program_stays_off() -> None:
    run_script(
        """
        import gc
        from reportlake.startup import start_up

        gc.disable()
        with start_up():
            pass
        assert not gc.isenabled() and gc.get_freeze_count() == 0
        """
    )


@pytest.mark.e2e
def test_a_worker_collects_nothing_until_its_first_chunk_freezes_its_imports(
    prefect_harness: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORTLAKE_")}
    env["PREFECT_API_URL"] = prefect_harness
    run_script(
        f"""
        import gc
        from prefect import flow
        from reportlake.runs import plan_batches
        from reportlake.settings import Settings
        from tasks.ingest import extractors

        @flow
        def probe() -> list[tuple[bool, int]]:
            settings = Settings.load(source="inbox", inbox={str(EXAMPLES_INBOX)!r},
                                     lake={str(tmp_path / "lake")!r})
            items = plan_batches(settings).batches[0]
            states = []
            with extractors(settings, 1, 2) as workers:
                for _ in range(2):
                    enabled = workers.pool.submit(gc.isenabled).result()
                    states.append((enabled, workers.pool.submit(gc.get_freeze_count).result()))
                    assert len(workers.submit(settings, items).result().outcomes) == len(items)
            return states

        if __name__ == "__main__":
            before, after = probe()
            assert before == (False, 0), before
            assert after[0] and after[1] > 50_000, after
        """,
        env,
    )


@pytest.mark.e2e
def test_an_ingest_turns_the_collector_back_on(prefect_harness: str, tmp_path: Path) -> None:
    # The command pauses the collector for Prefect's start-up; the flow body turns it back on.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORTLAKE_")}
    env.update(PREFECT_API_URL=prefect_harness, REPORTLAKE_WORKERS="0")
    run_script(
        f"""
        import gc
        from reportlake.cli import app

        app(["ingest", "--inbox", {str(EXAMPLES_INBOX)!r}, "--lake", {str(tmp_path / "lake")!r},
             "--no-example-query"], standalone_mode=False)
        assert gc.isenabled() and gc.get_freeze_count() > 50_000
        import sys
        assert "pandas" not in sys.modules  # the run built and wrote tables without it
        """,
        env,
    )


def test_arrow_allocates_with_jemalloc_unless_the_user_chose() -> None:
    # glibc's per-thread arenas kept what the S3 upload threads freed (858 vs 598 MB at 10,000).
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    script = """
        import reportlake, pyarrow
        print(pyarrow.default_memory_pool().backend_name)
        """
    assert run_script(script, env).strip() == "jemalloc"
    assert run_script(script, {**env, "ARROW_DEFAULT_MEMORY_POOL": "system"}).strip() == "system"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_large_blocks_stay_mapped_once_start_up_fixed_the_threshold() -> None:
    # A freed 8 MiB block (a chunk's pickled batch) raises glibc's own threshold to 8 MiB: a
    # 4 MiB block would then come from the heap (unless the heap cannot grow), which keeps it.
    # Fixed at start-up, the threshold stays put and the block gets a mapping of its own.
    out = run_script(
        """
        import ctypes
        from reportlake.startup import map_large_blocks

        class MallInfo2(ctypes.Structure):
            _fields_ = [(name, ctypes.c_size_t) for name in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                "uordblks", "fordblks", "keepcost")]

        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = MallInfo2
        map_large_blocks()
        big = bytearray(8 << 20)
        del big
        before = libc.mallinfo2().hblks
        block = bytearray(4 << 20)
        print(libc.mallinfo2().hblks - before)
        """
    )
    assert int(out) == 1


def test_arrow_without_pandas_converts_without_pandas_and_pandas_still_works() -> None:
    run_script(
        f"""
        import sys
        from pathlib import Path
        from reportlake.startup import arrow_without_pandas

        arrow_without_pandas()
        from reportlake.files import parse_file
        from reportlake.tables import reports_to_tables

        report = parse_file(sorted(Path({str(EXAMPLES_INBOX)!r}).glob("*.pdf"))[0])
        tables = reports_to_tables([report])
        assert tables["reports"].num_rows == 1 and tables["analysts"].num_rows >= 1
        assert "pandas" not in sys.modules

        import pyarrow as pa
        frame = pa.table({{"x": [1.0, None]}}).to_pandas()  # imports pandas now
        assert int(frame["x"].isna().sum()) == 1
        import pandas as pd
        assert pa.array(pd.Series([1.0, float("nan")])).null_count == 1  # NaN as null again
        """
    )
