"""``make bench``: time the pipeline against the floor and a naive script on one corpus.

``python -m bench.run --n 1000`` generates (or reuses) ``bench/.cache/corpus-<n>-<seed>/``,
starts one Prefect server and, for the S3 run, moto's S3 server on 127.0.0.1, then times as
whole commands (interpreter start included):

- floor: ``bench/floor.py``, PyMuPDF text of every page and one Parquet write;
- naive: ``bench/naive.py``, pdfplumber, a few regexes and a Parquet file per report (above
  1,000 reports on a sample of 200, extrapolated linearly);
- pipeline: ``reportlake ingest`` into a local lake with 1 worker, with all cores, into an S3
  lake with all cores, and again over the full local lake (an incremental run with nothing new),
  each with its process tree's peak RSS and the stage seconds of its ``--summary-json``.

The floor and the local and S3 pipeline runs are timed in ``--rounds`` interleaved rounds
(floor, 1 worker, all cores, S3; 3 by default): on a shared machine the same command varies by
10% and more from one minute to the next, as much as the margins of the targets. Their ratios
are the medians of each round's own ratio, and their seconds the medians of the rounds.

It prints a markdown table and writes ``bench/results.json`` and ``bench/results.md``. It fails
(exit 1) when a pipeline run writes under 95% of the corpus or the incremental run reads
anything.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import corpus

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BIN = Path(sys.executable).parent
CACHE = BENCH / ".cache"
NAIVE_FULL_LIMIT = 1000  # above this many reports, naive runs on a sample
NAIVE_SAMPLE = 200
MIN_WRITTEN_SHARE = 0.95
POLL_S = 0.05
TREE_EVERY = 10  # samples between two looks for new processes in a tree
MEMORY_TARGET_N = 10_000  # the corpus size the memory target is set for
MB = 1024 * 1024
S3_BUCKET = "bench"
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class BenchError(RuntimeError):
    """A measurement that cannot be trusted: a command failed or a sanity check did not hold."""


def log(message: str) -> None:
    """Progress on stderr, so stdout is only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- running and measuring commands --------------------------------------------------------------


@dataclass
class Measured:
    """One timed command: wall seconds and the peak memory of its process tree."""

    wall_s: float
    peak_rss_mb: float  # summed RSS of the whole tree at its fullest
    peak_rss_single_mb: float  # the largest single process
    output: str
    peak_pss_mb: float | None = None  # summed PSS at its fullest, when polled (see TreeMemory)


class TreeMemory:
    """Samples the summed RSS of a process and its descendants every ``POLL_S`` seconds.

    Straight from /proc: the RSS of each process of the tree (statm) every sample, the tree
    itself (each thread's children) every ``TREE_EVERY`` samples. The poller runs on the same
    cores as what it measures: psutil's ``children(recursive=True)`` reads every process on the
    machine, and polling with it took ~0.27 s of CPU in a 10-s pipeline run, time the floor (one
    core) never lost but an all-cores run did.

    With ``pss``, each sample also sums the processes' PSS (smaps_rollup): a page shared by k
    of them (a library, what a forked worker still shares with its parent) counts 1/k in each,
    so the sum counts it once, where summed RSS counts it k times. Reading it walks a process's
    page tables (~1 ms for a 250 MB one), so only the untimed memory run asks for it.
    """

    def __init__(self, pid: int, *, pss: bool = False) -> None:
        self.pid = pid
        self.pss = pss
        self.peak_total = 0
        self.peak_single = 0
        self.peak_pss = 0
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-poll", daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self, tree: list[int] | None = None) -> None:
        """One reading of the summed and largest RSS of ``tree`` (the whole tree if None)."""
        tree = tree or self._tree()
        sizes = [rss for pid in tree if (rss := self._rss(pid)) is not None]
        if sizes:
            self.peak_total = max(self.peak_total, sum(sizes))
            self.peak_single = max(self.peak_single, max(sizes))
        if self.pss:
            self.peak_pss = max(self.peak_pss, sum(self._pss(pid) or 0 for pid in tree))

    def _tree(self) -> list[int]:
        """The process and its descendants (children of any of their threads)."""
        tree, i = [self.pid], 0
        while i < len(tree):
            pid, i = tree[i], i + 1
            try:
                threads = list(Path(f"/proc/{pid}/task").iterdir())
            except OSError:
                continue  # exited
            for thread in threads:
                try:
                    tree.extend(map(int, (thread / "children").read_text().split()))
                except OSError:
                    continue
        return tree

    def _rss(self, pid: int) -> int | None:
        try:
            return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self._page
        except (OSError, IndexError, ValueError):
            return None  # exited between listing and reading

    @staticmethod
    def _pss(pid: int) -> int | None:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            return None
        found = re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)
        return int(found.group(1)) * 1024 if found else None

    def _run(self) -> None:
        n = 0
        tree: list[int] = []
        while not self._stop.is_set():
            if n % TREE_EVERY == 0:
                tree = self._tree()
            self.sample(tree)
            n += 1
            self._stop.wait(POLL_S)


def run_timed(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    pss: bool = False,
) -> Measured:
    """Run ``cmd`` to completion; its wall time and peak RSS (and PSS, with ``pss``). Raises
    BenchError if it fails."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdout=out, stderr=subprocess.STDOUT, env=dict(env or os.environ), cwd=cwd
        )
        with TreeMemory(proc.pid, pss=pss) as memory:
            code = proc.wait()
        wall = time.perf_counter() - start
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
    if code != 0:
        raise BenchError(f"{' '.join(cmd[:3])} ... exited {code}:\n{output[-4000:]}")
    peak_pss = memory.peak_pss / MB if pss else None
    return Measured(wall, memory.peak_total / MB, memory.peak_single / MB, output, peak_pss)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    """Until ``url`` answers; BenchError if ``proc`` dies or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"{what} did not start (see its log)")
        time.sleep(0.25)


@contextmanager
def background(cmd: Sequence[str], env: Mapping[str, str], log_path: Path) -> Iterator[Any]:
    """A server in its own process group, stopped (the whole group) on exit."""
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            list(cmd), stdout=log_file, stderr=subprocess.STDOUT, env=dict(env),
            start_new_session=True,
        )  # fmt: skip
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def base_env(prefect_home: Path) -> dict[str, str]:
    """This environment without the reportlake settings or Prefect overrides of the caller."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("REPORTLAKE_", "PREFECT_", "AWS_"))
    }
    env.update(
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_CLI_PROMPT="false",
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def prefect_server(work: Path) -> Iterator[str]:
    """A real Prefect server, as production runs against; yields its API URL."""
    port = free_port()
    home = work / "prefect-home"
    home.mkdir()
    api = f"http://127.0.0.1:{port}/api"
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    log(f"starting the Prefect server on port {port}")
    with background(cmd, base_env(home), work / "prefect-server.log") as proc:
        wait_for(f"{api}/health", proc, "the Prefect server", timeout=120)
        yield api


@contextmanager
def moto_s3(work: Path) -> Iterator[str]:
    """moto's S3 server with the bench bucket; yields its endpoint URL."""
    import boto3

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    cmd = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    env = {**base_env(work / "prefect-home"), **S3_CREDENTIALS}
    with background(cmd, env, work / "moto.log") as proc:
        wait_for(endpoint, proc, "moto_server", timeout=30)
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=S3_BUCKET)
        yield endpoint


# --- the measurements ---------------------------------------------------------------------------


@dataclass
class PipelineRun:
    """One ``reportlake ingest``: how long, how much memory, and its summary."""

    name: str
    workers: int | None
    lake: str
    measured: Measured
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> dict[str, float]:
        return dict(self.summary.get("seconds") or {})

    def overhead_fraction(self) -> float | None:
        """Orchestration and quality seconds over the command's wall time."""
        overhead = self.seconds.get("overhead")
        return None if overhead is None else overhead / self.measured.wall_s

    def startup_s(self) -> float | None:
        """Wall time outside the flow body: interpreter, imports, flow-run bookkeeping.

        The summary's own ``startup`` seconds when it has them, else wall minus ``run``.
        """
        if "startup" in self.seconds:
            return self.seconds["startup"]
        run = self.seconds.get("run")
        return None if run is None else max(0.0, self.measured.wall_s - run)

    def flow_s(self) -> float | None:
        """Seconds of the flow body (the summary's ``run``)."""
        return self.seconds.get("run")

    def record(self) -> dict[str, Any]:
        """What results.json keeps of the run."""
        keys = ("read", "written", "skipped", "quarantined", "already_done")
        return {
            "workers": self.workers,
            "lake": self.lake,
            "wall_s": round(self.measured.wall_s, 3),
            "peak_rss_mb": round(self.measured.peak_rss_mb, 1),
            "peak_rss_single_mb": round(self.measured.peak_rss_single_mb, 1),
            **(
                {"peak_pss_mb": round(self.measured.peak_pss_mb, 1)}
                if self.measured.peak_pss_mb is not None
                else {}
            ),
            "flow_s": _round(self.flow_s()),
            "startup_s": _round(self.startup_s()),
            "overhead_fraction": _round(self.overhead_fraction(), 4),
            "overhead_fraction_of_flow": _round(
                _ratio(self.seconds.get("overhead"), self.flow_s()), 4
            ),
            "counts": {k: self.summary[k] for k in keys if k in self.summary},
            "seconds": self.seconds,
        }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _median(values: Iterable[float | None], digits: int = 3) -> float | None:
    """The median of the values, rounded; None if any is missing (an older checkout's runs)."""
    known = list(values)
    if not known or any(v is None for v in known):
        return None
    return round(statistics.median(v for v in known if v is not None), digits)


@dataclass(frozen=True)
class CliSupport:
    """Which of the newer ``reportlake ingest`` options this checkout has."""

    workers: bool
    summary_json: bool


def cli_support() -> CliSupport:
    """Read ``reportlake ingest --help`` for ``--workers`` and ``--summary-json``."""
    help_text = subprocess.run(
        [str(BIN / "reportlake"), "ingest", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"},
        check=False,
    ).stdout
    support = CliSupport("--workers" in help_text, "--summary-json" in help_text)
    if not support.workers:
        log("reportlake ingest has no --workers yet: every run uses its default parallelism")
    if not support.summary_json:
        log("reportlake ingest has no --summary-json yet: counts come from its printed summary")
    return support


def summary_from_text(output: str) -> dict[str, Any]:
    """Counts from the printed summary (``reports read: 5   written: 4 ...``), no seconds."""
    labels = {
        "read": "reports read",
        "written": "written",
        "skipped": "already in lake",
        "quarantined": "quarantined",
        "already_done": "done by earlier runs",
    }
    found = {}
    for key, label in labels.items():
        m = re.search(rf"(?:^|\s){re.escape(label)}: (\d+)", output, re.M)
        if m:
            found[key] = int(m.group(1))
    return found


@dataclass(frozen=True)
class Pipeline:
    """What every pipeline run of the bench shares: the corpus, a scratch dir, the CLI."""

    inbox: Path
    work: Path
    env: Mapping[str, str]
    support: CliSupport


def run_pipeline(
    pipeline: Pipeline,
    name: str,
    *,
    lake: str,
    workers: int | None,
    env: Mapping[str, str] | None = None,
    inbox: Path | None = None,
    pss: bool = False,
) -> PipelineRun:
    """One ``reportlake ingest`` run (of ``inbox``, the bench's corpus by default), timed from
    the shell's point of view; with ``pss``, its process tree's PSS polled too."""
    support = pipeline.support
    summary_path = pipeline.work / f"summary-{name}.json"
    inbox = inbox or pipeline.inbox
    cmd = [str(BIN / "reportlake"), "ingest", "--inbox", str(inbox), "--lake", lake]
    cmd.append("--no-example-query")
    if support.workers and workers is not None:
        cmd += ["--workers", str(workers)]
    if support.summary_json:
        cmd += ["--summary-json", str(summary_path)]
    log(f"pipeline {name}: {' '.join(cmd[1:])}")
    measured = run_timed(cmd, env=env or pipeline.env, cwd=pipeline.work, pss=pss)
    if support.summary_json and summary_path.exists():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    else:
        summary = summary_from_text(measured.output)
    run = PipelineRun(name, workers, lake, measured, summary)
    pss = "" if measured.peak_pss_mb is None else f", PSS {measured.peak_pss_mb:.0f} MB"
    log(f"pipeline {name}: {measured.wall_s:.1f} s, peak RSS {measured.peak_rss_mb:.0f} MB{pss}")
    return run


def check_written(run: PipelineRun, n: int) -> None:
    """The run wrote (nearly) the whole corpus."""
    written = int(run.summary.get("written", -1))
    if written < MIN_WRITTEN_SHARE * n:
        quarantined = run.summary.get("quarantine_rows", [])[:5]
        raise BenchError(
            f"pipeline {run.name} wrote {written} of {n} reports (under "
            f"{MIN_WRITTEN_SHARE:.0%}); first quarantined: {quarantined}\n"
            f"{run.measured.output[-3000:]}"
        )


def check_noop(run: PipelineRun) -> None:
    """An incremental run over an up-to-date lake reads nothing."""
    read = run.summary.get("read")
    if read != 0:
        raise BenchError(f"the incremental run read {read} reports, expected 0")


def run_floor(inbox: Path, work: Path) -> Measured:
    """``bench/floor.py`` as a whole command."""
    log("floor: PyMuPDF get_text + one Parquet write")
    measured = run_timed([sys.executable, str(BENCH / "floor.py"), str(inbox), str(work / "f.pq")])
    log(f"floor: {measured.wall_s:.1f} s")
    return measured


@dataclass(frozen=True)
class NaiveResult:
    """The naive script's time for the whole corpus, measured or extrapolated."""

    seconds: float
    measured_s: float
    reports_timed: int
    sampled: bool


def run_naive(inbox: Path, work: Path, n: int) -> NaiveResult:
    """``bench/naive.py`` on the corpus, or on every k-th report above ``NAIVE_FULL_LIMIT``."""
    every = n // NAIVE_SAMPLE if n > NAIVE_FULL_LIMIT else 1
    timed = len(range(0, n, every))
    log(f"naive: pdfplumber + regex + to_parquet per report, {timed} reports")
    cmd = [sys.executable, str(BENCH / "naive.py"), str(inbox), str(work / "naive")]
    measured = run_timed([*cmd, "--every", str(every)])
    total = measured.wall_s * n / timed
    note = f" (sample of {timed}, extrapolated to {n})" if every > 1 else ""
    log(f"naive: {total:.1f} s{note}")
    return NaiveResult(total, measured.wall_s, timed, every > 1)


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the results table; ``key`` names its target in results.json."""

    key: str
    measurement: str
    seconds: float | None
    ratio: str
    target: str
    met: bool | None


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def build_rows(r: dict[str, Any]) -> list[Row]:
    """The table rows, from the numbers in results.json."""
    cores = r["machine"]["cpu_count"]
    naive_note = (
        f" (sample of {r['naive_reports_timed']}, extrapolated)" if r["naive_sampled"] else ""
    )
    noop_flow = r.get("incremental_noop_flow_s")
    startup = r.get("incremental_startup_s")
    overhead = r.get("overhead_fraction")
    rounds = r["rounds"]

    def spread(key: str, form: str = ".2f") -> str:
        """Every round's ratio, when there are several."""
        if len(rounds) < 2 or any(rnd.get(key) is None for rnd in rounds):
            return ""
        return " (rounds: " + ", ".join(f"{rnd[key]:{form}}" for rnd in rounds) + ")"

    return [
        Row(
            "floor", "floor: PyMuPDF get_text + one Parquet write", r["floor_s"], "1.00x", "-", None
        ),
        Row(
            "pipeline_1w",
            "pipeline, local lake, 1 worker",
            r["pipeline_1w_s"],
            f"{r['pipeline_1w_over_floor']:.2f}x floor" + spread("pipeline_1w_over_floor"),
            "<= 1.3x floor",
            r["pipeline_1w_over_floor"] <= 1.3,
        ),
        Row(
            "pipeline_allw",
            f"pipeline, local lake, all cores ({cores}: the default {max(1, cores - 1)} worker(s) "
            "+ the flow's process)",
            r["pipeline_allw_s"],
            f"{r['pipeline_allw_over_floor']:.2f}x floor" + spread("pipeline_allw_over_floor"),
            "< floor",
            r["pipeline_allw_over_floor"] < 1.0,
        ),
        Row(
            "naive",
            f"naive: pdfplumber + regex + to_parquet per report{naive_note}",
            r["naive_s"],
            f"{r['naive_over_pipeline']:.1f}x pipeline (1 worker)",
            ">= 5x pipeline",
            r["naive_over_pipeline"] >= 5,
        ),
        Row(
            "s3",
            f"pipeline, S3 lake (moto), all cores ({cores})",
            r["pipeline_s3_s"],
            f"{r['s3_over_local']:.2f}x local" + spread("s3_over_local"),
            "<= 1.5x local",
            r["s3_over_local"] <= 1.5,
        ),
        Row(
            "incremental_noop",
            "incremental run, nothing new"
            + (f" (outside the flow {startup:.1f} s + flow {noop_flow:.1f} s)" if startup else ""),
            r["incremental_noop_s"],
            "-",
            "<= 5 s beyond flow start-up",
            None if noop_flow is None else noop_flow <= 5,
        ),
        Row(
            "overhead",
            "orchestration + quality overhead (1 worker)",
            r.get("overhead_s"),
            "-"
            if overhead is None
            else f"{overhead:.1%} of wall" + spread("overhead_fraction", ".1%"),
            "<= 10%",
            None if overhead is None else overhead <= 0.10,
        ),
        memory_row(r),
    ]


def memory_row(r: dict[str, Any]) -> Row:
    """Peak memory: the memory run's when there was one (PSS, summed RSS, largest process),
    else the local runs' RSS, with no verdict below N = 10,000."""
    pss, memory_n = r.get("peak_pss_mb"), r.get("memory_n")
    if pss is None or memory_n is None:
        n = r["n_reports"]
        return Row(
            "peak_rss",
            "peak RSS of the process tree (max of the local runs)",
            None,
            f"{r['peak_rss_mb']:.0f} MB (largest process {r['peak_rss_single_mb']:.0f} MB)",
            "<= 600 MB at N=10,000" + ("" if n >= MEMORY_TARGET_N else f" (N={n:,})"),
            r["peak_rss_mb"] <= 600 if n >= MEMORY_TARGET_N else None,
        )
    return Row(
        "peak_rss",
        f"peak memory of the process tree, 1 worker, N={memory_n:,} (PSS: each page once)",
        r["runs"]["memory"]["wall_s"],
        f"{pss:.0f} MB PSS (summed RSS {r['memory_peak_rss_mb']:.0f} MB, largest process "
        f"{r['memory_peak_rss_single_mb']:.0f} MB)",
        "<= 600 MB at N=10,000",
        pss <= 600 if memory_n >= MEMORY_TARGET_N else None,
    )


def render_table(rows: Sequence[Row], r: dict[str, Any]) -> str:
    """A markdown table to paste into the README's Performance section."""

    def met(value: bool | None) -> str:
        return "n/a" if value is None else "yes" if value else "no"

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    m = r["machine"]
    lines = [
        f"N = {r['n_reports']:,} reports ({r['corpus']['pages_mean']:.1f} pages, "
        f"{r['corpus']['kib_mean']:.0f} KiB each on average), {m['cpu_count']} cores, "
        f"Python {m['python']}, PyMuPDF {m['pymupdf']}, {m['date']}, load average "
        f"{m['load_average_start'][0]:.1f} before, {m['load_average_end'][0]:.1f} after"
        + (
            f"; floor, local and S3 runs: medians of {len(r['rounds'])} interleaved rounds"
            if len(r["rounds"]) > 1
            else ""
        ),
        "",
        "| measurement | seconds | ratio | target | met |",
        "|---|---:|---|---|---|",
        *(
            f"| {row.measurement} | {secs(row.seconds)} | {row.ratio} | {row.target} "
            f"| {met(row.met)} |"
            for row in rows
        ),
    ]
    return "\n".join(lines) + "\n"


def render_stages(runs: Mapping[str, dict[str, Any]]) -> str:
    """Per-stage seconds of each pipeline run, whatever keys the summaries have."""
    keys = sorted({k for run in runs.values() for k in run["seconds"]})
    if not keys:
        return ""
    names = list(runs)
    lines = [
        "| stage (s) | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
        *(
            f"| {k} | "
            + " | ".join(
                f"{runs[name]['seconds'][k]:.2f}" if k in runs[name]["seconds"] else "-"
                for name in names
            )
            + " |"
            for k in keys
        ),
        "| wall (command) | " + " | ".join(f"{runs[name]['wall_s']:.2f}" for name in names) + " |",
    ]
    return "\n".join(lines) + "\n"


def machine(load_start: Sequence[float]) -> dict[str, Any]:
    """Where and when the numbers were taken."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pymupdf": version("pymupdf"),
        "pyarrow": version("pyarrow"),
        "pdfplumber": version("pdfplumber"),
        "prefect": version("prefect"),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
    }


def corpus_stats(paths: Sequence[Path], out_dir: Path) -> dict[str, Any]:
    """Pages and sizes of the corpus, and how long it took to generate."""
    labels = corpus.load_labels(out_dir)
    marker = json.loads((out_dir / corpus.MARKER_FILE).read_text(encoding="utf-8"))
    sizes = [p.stat().st_size for p in paths]
    return {
        "dir": str(out_dir.relative_to(REPO)) if out_dir.is_relative_to(REPO) else str(out_dir),
        "seed": marker["seed"],
        "pages_mean": round(sum(lb["pages"] for lb in labels) / len(labels), 2),
        "pages_total": sum(lb["pages"] for lb in labels),
        "kib_mean": round(sum(sizes) / len(sizes) / 1024, 1),
        "two_column_share": round(sum(lb["two_column"] for lb in labels) / len(labels), 3),
        "publish_days": len({lb["publish_date"] for lb in labels}),
        "generation_ms_per_report": round(marker["seconds"] / marker["n"] * 1000, 2),
    }


@dataclass(frozen=True)
class Round:
    """One interleaved round: the floor, then the pipeline with 1 worker and with all cores
    into a local lake, and with all cores into an S3 lake."""

    floor: Measured
    local_1w: PipelineRun
    local_allw: PipelineRun
    s3_allw: PipelineRun

    @property
    def ratios(self) -> tuple[float, float]:
        """(1 worker, all cores) over this round's floor."""
        return (
            self.local_1w.measured.wall_s / self.floor.wall_s,
            self.local_allw.measured.wall_s / self.floor.wall_s,
        )

    @property
    def s3_over_local(self) -> float:
        """The S3 run over this round's all-cores local run (the same command, another lake)."""
        return self.s3_allw.measured.wall_s / self.local_allw.measured.wall_s

    def record(self) -> dict[str, float]:
        one, allw = self.ratios
        return {
            "floor_s": round(self.floor.wall_s, 3),
            "pipeline_1w_s": round(self.local_1w.measured.wall_s, 3),
            "pipeline_allw_s": round(self.local_allw.measured.wall_s, 3),
            "pipeline_1w_over_floor": round(one, 3),
            "pipeline_allw_over_floor": round(allw, 3),
            "pipeline_s3_s": round(self.s3_allw.measured.wall_s, 3),
            "s3_over_local": round(self.s3_over_local, 3),
            "overhead_s": _round(self.local_1w.seconds.get("overhead")),
            "overhead_fraction": _round(self.local_1w.overhead_fraction(), 4),
        }


def median_round(rounds: Sequence[Round], key: Callable[[Round], float]) -> Round:
    """The round whose ``key`` ratio is the median (the upper one of an even count): its runs
    stand for the rounds in the per-run records and the stage table."""
    return sorted(rounds, key=key)[len(rounds) // 2]


def assemble(
    n: int,
    rounds: Sequence[Round],
    naive: NaiveResult,
    runs: Mapping[str, PipelineRun],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """results.json: headline numbers, ratios, per-run records and the machine.

    The floor's, the local and the S3 runs' seconds are medians over the rounds, their ratios
    (and the 1-worker run's overhead) the medians of each round's; ``rounds`` keeps every
    round's numbers.
    """
    noop = runs["noop"]
    local = [*(r.local_1w for r in rounds), *(r.local_allw for r in rounds), noop]
    memory = runs.get("memory")
    floor_s = statistics.median(r.floor.wall_s for r in rounds)
    one_s = statistics.median(r.local_1w.measured.wall_s for r in rounds)
    all_s = statistics.median(r.local_allw.measured.wall_s for r in rounds)
    r: dict[str, Any] = {
        "n_reports": n,
        "rounds": [rnd.record() for rnd in rounds],
        "floor_s": round(floor_s, 3),
        "naive_s": round(naive.seconds, 3),
        "naive_sampled": naive.sampled,
        "naive_reports_timed": naive.reports_timed,
        "naive_measured_s": round(naive.measured_s, 3),
        "pipeline_1w_s": round(one_s, 3),
        "pipeline_allw_s": round(all_s, 3),
        "pipeline_s3_s": round(statistics.median(r.s3_allw.measured.wall_s for r in rounds), 3),
        "incremental_noop_s": round(noop.measured.wall_s, 3),
        "incremental_noop_flow_s": _round(noop.seconds.get("run")),
        "incremental_startup_s": _round(noop.startup_s()),
        "overhead_s": _median(rnd.local_1w.seconds.get("overhead") for rnd in rounds),
        "overhead_fraction": _median([rnd.local_1w.overhead_fraction() for rnd in rounds], 4),
        "peak_rss_mb": round(max(run.measured.peak_rss_mb for run in local), 1),
        "peak_rss_single_mb": round(max(run.measured.peak_rss_single_mb for run in local), 1),
        "memory_n": None if memory is None else memory.summary.get("read"),
        "peak_pss_mb": None if memory is None else _round(memory.measured.peak_pss_mb, 1),
        "memory_peak_rss_mb": None if memory is None else round(memory.measured.peak_rss_mb, 1),
        "memory_peak_rss_single_mb": (
            None if memory is None else round(memory.measured.peak_rss_single_mb, 1)
        ),
        "pipeline_1w_over_floor": round(statistics.median(rnd.ratios[0] for rnd in rounds), 3),
        "pipeline_allw_over_floor": round(statistics.median(rnd.ratios[1] for rnd in rounds), 3),
        "naive_over_pipeline": round(naive.seconds / one_s, 3),
        "s3_over_local": round(statistics.median(rnd.s3_over_local for rnd in rounds), 3),
        "floor_peak_rss_mb": round(max(rnd.floor.peak_rss_mb for rnd in rounds), 1),
        "runs": {name: run.record() for name, run in runs.items()},
        **extra,
    }
    r["stages"] = {name: rec["seconds"] for name, rec in r["runs"].items()}
    r["targets"] = {
        row.key: {"target": row.target, "met": row.met}
        for row in build_rows(r)
        if row.key != "floor"
    }
    return r


def write_results(r: dict[str, Any], table: str, stages: str, out: Path) -> None:
    """results.json (atomically) and results.md beside it."""
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(r, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    md = table + (
        "\nSeconds per stage (from each run's --summary-json):\n\n" + stages if stages else ""
    )
    out.with_suffix(".md").write_text(md, encoding="utf-8")


# --- the whole bench ----------------------------------------------------------------------------


def prepare_corpus(n: int, seed: int, *, read: bool = True) -> tuple[Path, list[Path]]:
    """The cached corpus, generated if missing, with its files read once (warm page cache)
    if ``read``."""
    out_dir = CACHE / f"corpus-{n}-{seed}"
    verb = "reusing" if corpus.is_complete(out_dir, n, seed) else f"generating {n} reports into"
    log(f"corpus: {verb} {out_dir.relative_to(REPO)}")
    paths = corpus.ensure(out_dir, n, seed)
    for path in paths if read else ():
        path.read_bytes()
    return out_dir, paths


@dataclass(frozen=True)
class MemoryCorpus:
    """The corpus of the memory run: ``n`` reports in ``inbox``."""

    inbox: Path
    n: int


def measure_all(
    inbox: Path, n: int, work: Path, rounds: int, memory: MemoryCorpus | None = None
) -> tuple[list[Round], NaiveResult, dict[str, PipelineRun]]:
    """Every measurement, on one Prefect server and one S3 server: ``rounds`` rounds of the
    floor, the local and the S3 runs, then the incremental run and the memory run (1 worker,
    ``memory``'s corpus, PSS polled; not timed against anything); the naive script before the
    servers start."""
    support = cli_support()
    naive = run_naive(inbox, work, n)
    done: list[Round] = []
    runs: dict[str, PipelineRun] = {}
    with prefect_server(work) as api, moto_s3(work) as endpoint:
        env = {**base_env(work / "prefect-home"), "PREFECT_API_URL": api}
        s3_env = {**env, **S3_CREDENTIALS, "REPORTLAKE_S3_ENDPOINT_URL": endpoint}
        pipeline = Pipeline(inbox, work, env, support)
        for i in range(rounds):
            log(f"round {i + 1} of {rounds}")
            floor = run_floor(inbox, work)
            one = run_pipeline(
                pipeline, f"local_1w-{i}", lake=str(work / f"lake-1w-{i}"), workers=1
            )
            # All cores as a user gets them: the default, cores - 1 workers beside the flow's
            # own process, which extracts too (--workers CORES would run one extractor more
            # than cores).
            allw = run_pipeline(
                pipeline, f"local_allw-{i}", lake=str(work / f"lake-allw-{i}"), workers=None
            )
            s3 = run_pipeline(
                pipeline,
                f"s3_allw-{i}",
                lake=f"s3://{S3_BUCKET}/lake-{i}",
                workers=None,
                env=s3_env,
            )
            for run in (one, allw, s3):
                check_written(run, n)
            if done:  # the lakes of earlier rounds are not needed again
                for run in (done[-1].local_1w, done[-1].local_allw):
                    shutil.rmtree(run.lake, ignore_errors=True)
            done.append(Round(floor, one, allw, s3))
        middle = median_round(done, key=lambda r: r.ratios[1])
        runs["local_1w"], runs["local_allw"] = middle.local_1w, middle.local_allw
        runs["s3_allw"] = median_round(done, key=lambda r: r.s3_over_local).s3_allw
        # The same command again over the last round's lake: everything is in it already.
        runs["noop"] = run_pipeline(pipeline, "noop", lake=done[-1].local_allw.lake, workers=None)
        check_noop(runs["noop"])
        if memory is not None:
            for run in (done[-1].local_1w, done[-1].local_allw):
                shutil.rmtree(run.lake, ignore_errors=True)
            runs["memory"] = run_pipeline(
                pipeline,
                "memory",
                lake=str(work / "lake-memory"),
                workers=1,
                inbox=memory.inbox,
                pss=True,
            )
            check_written(runs["memory"], memory.n)
    return done, naive, runs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; 0 when every measurement could be taken (targets may still be missed)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="reports in the corpus")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument("--out", type=Path, default=BENCH / "results.json")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds of the floor and local runs"
    )
    parser.add_argument(
        "--memory-n",
        type=int,
        default=MEMORY_TARGET_N,
        help="reports in the memory run's corpus (0: no memory run)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the lakes and logs")
    args = parser.parse_args(argv)

    load_start = os.getloadavg()
    memory = None
    if args.memory_n > 0:
        memory_dir, _ = prepare_corpus(args.memory_n, args.seed, read=False)
        memory = MemoryCorpus(memory_dir, args.memory_n)
    corpus_dir, paths = prepare_corpus(args.n, args.seed)
    work = Path(tempfile.mkdtemp(prefix="reportlake-bench-"))
    done = False
    try:
        rounds, naive, runs = measure_all(corpus_dir, args.n, work, max(1, args.rounds), memory)
        done = True
    except BenchError as exc:
        log(f"FAILED: {exc}")
        return 1
    finally:
        if done and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"lakes and logs kept in {work}")

    extra = {"corpus": corpus_stats(paths, corpus_dir), "machine": machine(load_start)}
    results = assemble(args.n, rounds, naive, runs, extra)
    table = render_table(build_rows(results), results)
    stages = render_stages(results["runs"])
    write_results(results, table, stages, args.out)
    print(table)
    if stages:
        print(stages)
    log(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
