"""The ``reportlake`` command line."""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import importlib
import json
import os
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reportlake.settings import Settings
from reportlake.startup import arrow_without_pandas, process_start

if TYPE_CHECKING:
    from rich.table import Table

    from reportlake.backfill import ChunkOutcome
    from reportlake.quarantine import QuarantineRow


class Source(StrEnum):
    inbox = "inbox"
    s3 = "s3"
    eastmoney = "eastmoney"


app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.command()
def ingest(
    source: Annotated[
        Source | None, typer.Option(help="Where reports come from [REPORTLAKE_SOURCE].")
    ] = None,
    inbox: Annotated[
        str | None, typer.Option(help="Folder or URI of report files [REPORTLAKE_INBOX].")
    ] = None,
    lake: Annotated[
        str | None, typer.Option(help="Lake root: path or s3://bucket/prefix [REPORTLAKE_LAKE].")
    ] = None,
    landing: Annotated[
        str | None,
        typer.Option(
            help="Landing prefix s3://bucket/prefix for --source s3 [REPORTLAKE_LANDING]."
        ),
    ] = None,
    since: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="First publish date to list (dated sources)."),
    ] = None,
    until: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Last publish date to list (dated sources)."),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Reports per commit (one validation each) [500].")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Worker processes extracting beside this one; 0: only in this process "
            "[REPORTLAKE_WORKERS, default: cores - 1].",
        ),
    ] = None,
    dask_address: Annotated[
        str | None,
        typer.Option(
            help="Run the batches on this Dask cluster, e.g. tcp://10.0.0.5:8786 "
            "[REPORTLAKE_DASK_ADDRESS]."
        ),
    ] = None,
    summary_json: Annotated[
        Path | None, typer.Option(help="Also write the run's summary as JSON to this file.")
    ] = None,
    example_query: Annotated[
        bool, typer.Option(help="Print an example query of the lake afterwards.")
    ] = True,
) -> None:
    """Run the ``ingest-reports`` Prefect flow and print what it did."""
    # The CLI is the composition root: it starts the flow, while every piece of logic the flow
    # runs stays in this Prefect-free package. Importing lazily keeps `parse`/`eval` fast too.
    # Prefect's server telemetry phones home (no network here) and races SQLite at start-up.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's import and start-up: no garbage collection until the flow body freezes what
    # they built (see ``reportlake.startup``).
    process_start()
    _start_validator()
    arrow_without_pandas()  # this process builds Arrow tables, never a DataFrame
    # The extraction workers, forked before Prefect starts threads (see reportlake.workers).
    from reportlake.workers import forked_workers

    with forked_workers(_local_workers(workers, dask_address)):
        run_flow = importlib.import_module("flows.ingest").ingest_in_process
        summary = run_flow(
            source=source.value if source else None,
            inbox=inbox,
            landing=landing,
            lake=lake,
            since=since.date() if since else None,
            until=until.date() if until else None,
            batch_size=batch_size,
            workers=workers,
            dask_address=dask_address,
        )
    typer.echo(summary.to_text())
    if summary_json is not None:
        summary_json.write_text(summary.to_json(), encoding="utf-8")
    if example_query:
        from reportlake.query import example_query as run_example

        settings = Settings.load(lake=lake)
        sql, rendered = run_example(settings)
        typer.echo(f"\nexample query:\n{sql}\n{rendered}")


def _local_workers(workers: int | None, dask_address: str | None) -> int:
    """How many local worker processes the run will extract with (``runs.local_workers``); a
    bad setting is left to the flow run to report."""
    try:
        settings = Settings.load(workers=workers, dask_address=dask_address)
    except ValueError:
        return 0
    from reportlake.runs import local_workers  # the pipeline: the fork imports it anyway

    return local_workers(settings)


def _start_validator() -> None:
    """Start loading Great Expectations now, beside Prefect's start-up and the listing.

    It takes ~3 s of CPU in a process of its own (see ``reportlake.quality_process``), which the
    flow then uses; a run with nothing new stops it unused. A bad setting is left to the flow
    run to report.
    """
    try:
        suites = Settings.load().expectations_dir
    except ValueError:
        return
    # The validator's own module: it imports nothing of the pipeline, so the child starts
    # before this process imports pyarrow, the parser and Prefect (~1 s of CPU on one core).
    from reportlake.quality_process import validator_for

    validator_for(suites)


class ChunkSize(StrEnum):
    day = "day"
    week = "week"


@app.command()
def backfill(
    start: Annotated[
        dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="First publish date to ingest.")
    ],
    end: Annotated[
        dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="Last publish date (inclusive).")
    ],
    source: Annotated[Source, typer.Option(help="A dated source.")] = Source.eastmoney,
    lake: Annotated[
        str | None, typer.Option(help="Lake root: path or s3://bucket/prefix [REPORTLAKE_LAKE].")
    ] = None,
    chunk: Annotated[ChunkSize, typer.Option(help="One flow run per day or per week.")] = (
        ChunkSize.day
    ),
    force: Annotated[bool, typer.Option(help="Rerun chunks already recorded as done.")] = False,
    through_deployment: Annotated[
        bool, typer.Option(help="Run each chunk through the deployment and its worker.")
    ] = False,
    deployment: Annotated[
        str, typer.Option(help="Deployment for --through-deployment (flow/deployment).")
    ] = "ingest-reports/eastmoney-hourly",
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for each deployment run.")
    ] = 21600.0,
) -> None:
    """Ingest a date range chunk by chunk, each chunk its own flow run; resumable.

    Chunks recorded as done in the lake are skipped unless --force. A failed chunk is reported
    and not recorded; the remaining chunks still run, and the command then exits with code 1.
    """
    from reportlake.backfill import BackfillRangeError, chunk_range, run_backfill, window_label

    if source is not Source.eastmoney:
        typer.echo(f"error: backfill needs a dated source; {source.value} is not", err=True)
        raise typer.Exit(code=2)
    try:
        windows = chunk_range(start.date(), end.date(), chunk.value)
    except BackfillRangeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    from reportlake.runs import open_lake

    settings = Settings.load(source=source.value, lake=lake)
    lake_loc = open_lake(settings)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    runners = importlib.import_module("flows.backfill")
    if through_deployment:
        from reportlake.backfill import deployment_lake

        run_chunk = runners.deployment_runner(
            deployment, source.value, deployment_lake(lake_loc), timeout_s=timeout, force=force
        )
    else:
        process_start()  # the collector paused until the first chunk's flow body, as for ingest
        arrow_without_pandas()
        run_chunk = runners.in_process_runner(source.value, settings.lake)

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console()
    if not console.is_terminal:  # logs and pipes: room for the summary table
        console = Console(width=max(console.width, 100))
    with Progress(
        TextColumn("backfill {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=False,
    ) as progress:
        bar = progress.add_task(
            f"{source.value} {start:%Y-%m-%d}..{end:%Y-%m-%d}", total=len(windows)
        )

        def advance(outcome: ChunkOutcome) -> None:
            progress.advance(bar)

        outcomes = run_backfill(
            lake_loc, source.value, windows, run_chunk, force=force, on_chunk=advance
        )
    console.print(_backfill_table(outcomes))
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        run = f" (flow run {o.flow_run_id})" if o.flow_run_id else ""
        typer.echo(f"chunk {window_label(o.window)} failed{run}: {o.message}", err=True)
    if failed:
        typer.echo(
            f"{len(failed)} of {len(outcomes)} chunks failed; run the same command again to "
            "retry them (completed chunks are skipped)",
            err=True,
        )
        raise typer.Exit(code=1)


def _backfill_table(outcomes: list[ChunkOutcome]) -> Table:
    """One row per chunk: what ran, what was skipped, what failed and why."""
    from rich.table import Table

    from reportlake.backfill import format_number, window_label

    table = Table(title="backfill")
    table.add_column("chunk", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for name in ("read", "written", "quarantined", "duration"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("flow run", no_wrap=True)
    for o in outcomes:
        table.add_row(
            window_label(o.window),
            o.status,
            format_number(o.read),
            format_number(o.written),
            format_number(o.quarantined),
            f"{o.seconds:.1f}s" if o.status != "skipped" else "-",
            (o.flow_run_id or "-")[:8],
        )
    return table


@app.command()
def parse(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A .pdf/.html/.txt.")],
    text: Annotated[bool, typer.Option(help="Include the extracted text.")] = True,
) -> None:
    """Print one parsed record as JSON, without touching a lake."""
    from reportlake.errors import BadInputError
    from reportlake.files import parse_file

    try:
        report = parse_file(file, security_master=Settings().security_master)
    except BadInputError as exc:
        typer.echo(f"error [{exc.stage}]: {exc.reason}", err=True)
        raise typer.Exit(code=2) from exc
    record: dict[str, Any] = report.model_dump(mode="json", exclude=None if text else {"text"})
    typer.echo(json.dumps(record, ensure_ascii=False, indent=1))


@app.command("eval")
def evaluate_cmd(
    labels_dir: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
    reports_dir: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
) -> None:
    """Score the parser against hand-made labels, field by field."""
    from reportlake.evaluation import evaluate, format_evaluation
    from reportlake.files import parse_file

    # Sidecars are ignored: the score is the parser's alone.
    result = evaluate(labels_dir, reports_dir, lambda p: parse_file(p, use_sidecar=False))
    typer.echo(format_evaluation(result))


@app.command()
def query(
    sql: Annotated[
        str | None,
        typer.Argument(
            help="SQL over views reports, analysts, stock_mentions, related_reports, "
            "quarantine; default: an example."
        ),
    ] = None,
    lake: Annotated[str | None, typer.Option(help="Lake root [REPORTLAKE_LAKE].")] = None,
) -> None:
    """Query the lake with DuckDB."""
    from reportlake.query import example_query as run_example
    from reportlake.query import run_query

    settings = Settings.load(lake=lake)
    if sql is None:
        sql, rendered = run_example(settings)
        typer.echo(sql)
    else:
        rendered = run_query(settings, sql)
    typer.echo(rendered)


quarantine_app = typer.Typer(
    no_args_is_help=True,
    help="Look at quarantined items and retry them after a fix (see docs/quarantine.md).",
)
app.add_typer(quarantine_app, name="quarantine")


class Stage(StrEnum):
    fetch = "fetch"
    extract = "extract"
    parse = "parse"
    validate = "validate"


LakeOption = Annotated[
    str | None, typer.Option(help="Lake root: path or s3://bucket/prefix [REPORTLAKE_LAKE].")
]
StageOption = Annotated[Stage | None, typer.Option(help="Only items quarantined at this stage.")]


def _load_quarantine(lake: str | None) -> list[QuarantineRow]:
    from reportlake.quarantine import load_rows
    from reportlake.runs import open_lake

    return load_rows(open_lake(Settings.load(lake=lake)))


def _select_or_exit(rows: list[QuarantineRow], prefixes: list[str]) -> list[QuarantineRow]:
    from reportlake.quarantine import SelectionError, select_rows

    try:
        return select_rows(rows, prefixes)
    except SelectionError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc


@quarantine_app.command("list")
def quarantine_list(
    lake: LakeOption = None,
    stage: StageOption = None,
    since: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Only items quarantined on or after (UTC)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 50,
) -> None:
    """Quarantined items, newest first: id, stage, when, source name, first reason."""
    from reportlake.quarantine import filter_rows, format_list

    rows = filter_rows(
        _load_quarantine(lake),
        stage=stage.value if stage else None,
        since=since.date() if since else None,
    )
    typer.echo(format_list(rows[:limit], total=len(rows)))


@quarantine_app.command("show")
def quarantine_show(
    id_prefix: Annotated[str, typer.Argument(help="The item's id or its first characters.")],
    lake: LakeOption = None,
) -> None:
    """Everything about one item: source, archived original, stage, reasons, parsed fields."""
    from reportlake.quarantine import format_row

    rows = _select_or_exit(_load_quarantine(lake), [id_prefix])
    typer.echo("\n\n".join(format_row(row) for row in rows))


@quarantine_app.command("retry")
def quarantine_retry(
    id_prefixes: Annotated[
        list[str] | None, typer.Argument(help="Ids (or their first characters) to retry.")
    ] = None,
    stage: StageOption = None,
    all_items: Annotated[
        bool, typer.Option("--all", help="Retry every quarantined item (of --stage, if given).")
    ] = False,
    lake: LakeOption = None,
    source: Annotated[
        Source | None, typer.Option(help="The source to re-read items from [REPORTLAKE_SOURCE].")
    ] = None,
    inbox: Annotated[
        str | None, typer.Option(help="Folder or URI of report files [REPORTLAKE_INBOX].")
    ] = None,
    landing: Annotated[
        str | None, typer.Option(help="Landing prefix for --source s3 [REPORTLAKE_LANDING].")
    ] = None,
) -> None:
    """Ingest quarantined items again, after a fix to the parser, a file or a sidecar.

    Items still at the source are read again; others from their archived original under raw/.

    Items that pass leave the quarantine; the others get a fresh row with the new reason.
    """
    from reportlake.quarantine import filter_rows, retry

    if bool(id_prefixes) == all_items:
        typer.echo("error: name the items: ids, or --all (narrowed by --stage)", err=True)
        raise typer.Exit(code=2)
    rows = _load_quarantine(lake)
    if id_prefixes:
        rows = _select_or_exit(rows, id_prefixes)
    rows = filter_rows(rows, stage=stage.value if stage else None)
    if not rows:
        typer.echo("nothing to retry")
        return
    settings = Settings.load(
        source=source.value if source else None, inbox=inbox, landing=landing, lake=lake
    )
    typer.echo(retry(settings, rows).to_text())


def main() -> None:
    """Console entry: run the command, then end the process without tearing Python down.

    After a command, the interpreter would spend 0.3-0.5 s freeing the modules of Prefect,
    pyarrow and MuPDF one by one, which nobody needs. Everything an orderly exit does for
    the outside world still happens first: other threads are joined, the exit handlers run
    (Prefect drains its log and event queues to the API, the validator's process is told
    to stop) and the standard streams are flushed; then ``os._exit`` with the command's code.
    An exception the command did not handle takes Python's usual way out, traceback and all.
    """
    try:
        app()
    except SystemExit as exc:
        code = exit_code(exc.code)
    else:
        code = 0
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe takes nothing more
            stream.flush()
    os._exit(code)


def exit_code(code: object) -> int:
    """The process exit status ``sys.exit(code)`` gives: None 0, an int itself, else 1
    (after printing it, as Python does)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    main()
