"""The ``reportlake`` command line."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from reportlake.settings import Settings


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
    batch_size: Annotated[int | None, typer.Option(help="Reports per batch task.")] = None,
    example_query: Annotated[
        bool, typer.Option(help="Print an example query of the lake afterwards.")
    ] = True,
) -> None:
    """Run the ``ingest-reports`` Prefect flow and print what it did."""
    # The CLI is the composition root: it starts the flow, while every piece of logic the flow
    # runs stays in this Prefect-free package. Importing lazily keeps `parse`/`eval` fast too.
    # Prefect's server telemetry phones home (no network here) and races SQLite at start-up.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    flow = importlib.import_module("flows.ingest").ingest_reports
    summary = flow(
        source=source.value if source else None,
        inbox=inbox,
        landing=landing,
        lake=lake,
        since=since.date() if since else None,
        until=until.date() if until else None,
        batch_size=batch_size,
    )
    typer.echo(summary.to_text())
    if example_query:
        from reportlake.query import example_query as run_example

        settings = Settings.load(lake=lake)
        sql, rendered = run_example(settings)
        typer.echo(f"\nexample query:\n{sql}\n{rendered}")


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


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
