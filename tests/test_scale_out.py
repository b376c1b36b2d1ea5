"""Scale-out: batches extracted by worker processes, or on a Dask cluster, land as in one process.

The reference is a run with ``workers=0`` (everything in the flow's process); the same corpus
through two worker processes and through a Dask ``LocalCluster`` on 127.0.0.1 must give the same
lake, row for row; a local worker runs only the extraction, each chunk an extract-batch task run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from bench.corpus import generate
from reportlake import lake as lake_io
from reportlake.runs import EXTRACT_CHUNK, MIN_EXTRACT_CHUNK, extraction_chunks
from reportlake.sources import SourceItem
from reportlake.storage import resolve_location
from reportlake.tables import DATA_TABLES

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]

N_REPORTS = 12
BATCH = 3
VOLATILE = {"raw_uri", "ingested_at", "quarantined_at"}


def run(inbox: Path, lake: Path, **options: Any) -> Any:
    from flows.ingest import ingest_reports

    return ingest_reports(inbox=str(inbox), lake=str(lake), batch_size=BATCH, **options)


def tables(lake: Path) -> dict[str, pa.Table]:
    loc = resolve_location(str(lake))
    out = {}
    for name in (*DATA_TABLES, "quarantine"):
        table = lake_io.read_table(loc, name)
        keep = [c for c in table.column_names if c not in VOLATILE]
        keys = [c for c in ("report_id", "position", "ticker", "title") if c in keep]
        out[name] = table.select(keep).sort_by([(k, "ascending") for k in keys])
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inbox = tmp_path_factory.mktemp("corpus")
    generate(inbox, N_REPORTS, seed=7)
    return inbox


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    lake = tmp_path_factory.mktemp("in-process")
    summary = run(corpus, lake, workers=0)
    assert summary.written == N_REPORTS, summary.quarantine_rows
    return tables(lake)


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        processes=True,
    ) as cluster:
        yield cluster.scheduler_address


def test_worker_processes_give_the_same_lake(
    corpus: Path, reference: dict[str, pa.Table], tmp_path: Path
) -> None:
    summary = run(corpus, tmp_path, workers=2)
    assert summary.read == N_REPORTS and summary.written == N_REPORTS
    # Parsing ran in the workers: their seconds came back with the batches.
    assert summary.seconds["parse"] > 0 and summary.seconds["extract"] > 0
    assert tables(tmp_path) == reference


def test_a_local_worker_runs_only_the_extraction_each_chunk_a_task_run(
    corpus: Path, tmp_path: Path
) -> None:
    import os

    from prefect import flow
    from prefect.client.orchestration import get_client

    from reportlake.runs import plan_batches
    from reportlake.settings import Settings
    from tasks.ingest import WorkerProcesses, extractors
    from tests.worker_probe import imported

    @flow
    def probe() -> tuple[Any, ...]:
        settings = Settings.load(source="inbox", inbox=str(corpus), lake=str(tmp_path))
        items = plan_batches(settings).batches[0]
        with extractors(settings, 1, 2) as workers:
            assert isinstance(workers, WorkerProcesses)
            future = workers.submit(settings, items)
            batch = future.result()
            pool = workers.pool
            pid = pool.submit(os.getpid).result()
            loaded = [pool.submit(imported, m).result() for m in ("reportlake.runs", "prefect")]
            spooled = list(workers.spool.iterdir())  # the chunk's file: read and removed
        return batch, future.task_run_id, pid, loaded, spooled, workers.spool

    batch, task_run_id, pid, loaded, spooled, spool = probe()
    assert len(batch.outcomes) == N_REPORTS and batch.seconds["parse"] > 0
    assert spooled == [] and not spool.exists()
    assert pid != os.getpid()
    assert loaded == [True, False]  # the domain's extraction, without Prefect
    with get_client(sync_client=True) as client:
        task_run = client.read_task_run(task_run_id)
    assert task_run.name.startswith("extract-batch") and task_run.state_type == "COMPLETED"


def test_a_worker_that_dies_fails_its_chunk_saying_what_to_do(corpus: Path, tmp_path: Path) -> None:
    import os
    import signal

    from prefect import flow

    from reportlake.errors import ReportlakeError
    from reportlake.runs import plan_batches
    from reportlake.settings import Settings
    from tasks.ingest import WorkerProcesses, extractors

    @flow
    def probe() -> None:
        settings = Settings.load(source="inbox", inbox=str(corpus), lake=str(tmp_path))
        with extractors(settings, 1, 2) as workers:
            assert isinstance(workers, WorkerProcesses)
            os.kill(workers.pool.submit(os.getpid).result(), signal.SIGKILL)
            workers.submit(settings, plan_batches(settings).batches[0]).result()

    with pytest.raises(ReportlakeError, match=r"worker process died.*rerun"):
        probe()


def test_a_workers_log_records_reach_its_chunks_task_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker process sends its logs nowhere: its records come back with the chunk and are
    # emitted in the extract-batch task run, where Prefect's handlers send them to the API.
    import datetime as dt
    import logging
    from urllib.parse import urlsplit

    from prefect import flow
    from prefect.context import TaskRunContext

    from reportlake.runs import plan_batches
    from reportlake.settings import Settings
    from reportlake.sources import Window
    from tasks.ingest import extractors
    from tests.conftest import listing_env
    from tests.listing_server import ListingServer, fixture_records, status

    seen: list[tuple[str, str | None]] = []

    class Seen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            run = TaskRunContext.get()
            seen.append((record.getMessage(), run.task_run.name if run else None))

    http_log = logging.getLogger("reportlake.http")
    handler = Seen()
    http_log.addHandler(handler)
    monkeypatch.setattr(http_log, "level", logging.INFO)  # passed on to the worker
    try:
        with ListingServer({1: fixture_records()}) as server:
            for name, value in listing_env(server.base_url).items():
                monkeypatch.setenv(name, value)

            @flow
            def probe() -> int:
                settings = Settings.load(lake=str(tmp_path))
                window = Window(since=dt.date(2023, 5, 1), until=dt.date(2023, 5, 14))
                items = plan_batches(settings, window).batches[0][:2]
                server.script(urlsplit(items[0].uri).path, status(503), None)
                with extractors(settings, 1, 2) as workers:
                    assert workers is not None
                    return len(workers.submit(settings, items).result().outcomes)

            assert probe() == 2
    finally:
        http_log.removeHandler(handler)
    retries = [(message, run) for message, run in seen if "503" in message and "retry" in message]
    assert len(retries) == 1, seen
    assert retries[0][1] is not None and retries[0][1].startswith("extract-batch"), retries


def test_a_workers_log_records_come_back_whatever_they_carry() -> None:
    import logging
    import pickle
    import sys
    import zlib

    from reportlake.runs import _Collector
    from reportlake.storage import mask_session_tokens_in_logs

    mask_session_tokens_in_logs()  # as in a worker writing to S3: a record factory of ours
    records: list[logging.LogRecord] = []
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        # What an HTTP library's debug record may carry: objects that do not pickle.
        record = logging.LogRecord(
            "reportlake.x", logging.WARNING, __file__, 1, "got %s", (zlib.decompressobj(),),
            sys.exc_info(),
        )  # fmt: skip
    record.stream = zlib.decompressobj()
    _Collector(records).handle(record)
    (back,) = pickle.loads(pickle.dumps(records))  # one record: none lost to a logging error
    assert back.getMessage().startswith("got <zlib.Decompress")
    assert back.levelname == "WARNING" and back.name == "reportlake.x"
    assert "ZeroDivisionError" in back.exc_text


def test_dask_cluster_gives_the_same_lake(
    corpus: Path, reference: dict[str, pa.Table], dask_cluster: str, tmp_path: Path
) -> None:
    from distributed import Client

    summary = run(corpus, tmp_path, dask_address=dask_cluster, workers=2)
    assert summary.written == N_REPORTS
    assert tables(tmp_path) == reference
    with Client(dask_cluster) as client:
        # The batches ran as tasks on the cluster (keyed by the task function's name).
        prefixes = client.run_on_scheduler(
            lambda dask_scheduler: list(dask_scheduler.task_prefixes)
        )
    assert "extract_batch" in prefixes, prefixes


def test_rerun_with_workers_adds_nothing(corpus: Path, tmp_path: Path) -> None:
    run(corpus, tmp_path, workers=2)
    before = tables(tmp_path)
    again = run(corpus, tmp_path, workers=2)
    assert again.read == 0 and again.already_done == N_REPORTS
    assert tables(tmp_path) == before


def _sizes(batches: list[int], extractors: int) -> list[tuple[int, int]]:
    items = [
        [
            SourceItem(uri=f"file:///r{b}-{i}.pdf", name=f"r{b}-{i}.pdf", key=f"r{b}-{i}.pdf")
            for i in range(n)
        ]
        for b, n in enumerate(batches)
    ]
    return [(number, len(chunk)) for number, chunk in extraction_chunks(items, extractors)]


def test_chunks_shrink_toward_the_end_so_extractors_finish_together() -> None:
    chunk = EXTRACT_CHUNK
    sizes = _sizes([500, 500], extractors=2)
    assert sum(n for _, n in sizes) == 1000
    # Full chunks while a quarter of what is left (two extractors, two chunks each) fills one.
    full = (1000 - 4 * chunk) // chunk + 1
    assert [n for _, n in sizes[:full]] == [chunk] * full
    tail = [n for _, n in sizes[full:]]
    assert tail[:-1] == sorted(tail[:-1], reverse=True) and tail[0] < chunk
    assert min(tail) == MIN_EXTRACT_CHUNK
    # What a last chunk would leave over goes with it: no task run for a few items.
    assert MIN_EXTRACT_CHUNK <= tail[-1] < 2 * MIN_EXTRACT_CHUNK
    first = 500 // chunk
    assert {b for b, _ in sizes[:first]} == {0} and {b for b, _ in sizes[first:]} == {1}
    assert [n for _, n in _sizes([500, 500], extractors=1)] == [chunk] * (1000 // chunk)
    assert _sizes([chunk], extractors=3) == [(0, chunk)]  # one chunk: in the flow's process
    assert _sizes([chunk + 3], extractors=1) == [(0, chunk + 3)]
    assert _sizes([chunk, 3], extractors=1) == [(0, chunk), (1, 3)]  # a batch's own chunks only
