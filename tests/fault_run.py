"""Run reportlake commands in child processes and SIGKILL them at a chosen point.

A test helper with two entry points:

- ``python -m tests.fault_run N INBOX LAKE BATCH_SIZE`` runs one ingest in this process and
  kills it in the middle of its N-th Parquet write (N = 0: no kill), then prints
  ``writes=<Parquet writes> written=<reports> quarantined=<reports>``.
- ``python -m tests.fault_run serve`` is a fork server (:class:`ForkServer` drives it): it
  imports Prefect and the flows once (each run starts its own validation process), then forks a
  child per command, so a run costs its own work instead of ~12 s of start-up. Each child is
  the leader of its own process group, runs ``reportlake <argv>`` and exits with its code.

**Kill points.** A :class:`KillPlan` (in ``REPORTLAKE_TEST_KILL``, so the flow's spawned
extraction workers, which import this module as ``__mp_main__``, follow it too) names a point
``<function>:<kind of path>`` and the call to die at: the N-th call to that point over the run
and all its worker processes (counted in files under ``counters``), ``before`` it, ``after``
it returned, or ``during`` it: the write is cut off the way a crash cuts it (bytes sent, the
file never closed or renamed, so a temporary file stays behind locally and an S3 upload never
completes). Dying kills the child's whole process group with SIGKILL, workers included. The
functions are the lake's write paths: ``write_parquet_atomic`` and ``write_bytes_atomic``
(by path: ``table`` partitions, ``raw`` originals, ``state`` key files, ``cursor``, ``docs``),
``write_tables`` (a batch's data) and ``record_keys`` (a batch's state: ``after`` it is between
batches). A plan with ``call`` 0 only counts, which is how a clean run measures the points.

``REPORTLAKE_TEST_RETRY_DELAY_S`` shortens the waits between the flow's task retries in a
forked run (their number stays the product's), so fault tests do not sit out 2 + 10 + 30 s.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PLAN_ENV = "REPORTLAKE_TEST_KILL"
GROUP_ENV = "REPORTLAKE_TEST_RUN_PGID"
# Seconds between the flow's task retries in a fault test (their number stays the product's).
FAST_RETRIES_ENV = "REPORTLAKE_TEST_RETRY_DELAY_S"
FUNCTIONS = {  # function -> module defining it
    "write_parquet_atomic": "reportlake.storage",
    "write_bytes_atomic": "reportlake.storage",
    "write_tables": "reportlake.lake",
    "record_keys": "reportlake.state",
}
ATOMIC_WRITERS = ("write_parquet_atomic", "write_bytes_atomic")


@dataclass(frozen=True)
class KillPlan:
    """Die at the ``call``-th time the run reaches ``point`` (0: never, only count)."""

    counters: str  # directory of the per-point call counters
    point: str = ""  # "<function>:<kind>", kind "*" for any path
    call: int = 0
    when: str = "before"  # before | during | after

    def to_env(self) -> dict[str, str]:
        return {PLAN_ENV: json.dumps(asdict(self))}

    def counts(self) -> dict[str, int]:
        """How often the run (and its workers) reached each point."""
        folder = Path(self.counters)
        return {f.name: f.stat().st_size for f in folder.iterdir()} if folder.exists() else {}


def path_kind(path: str) -> str:
    """What an atomic write writes, from its path: table, raw, state, cursor, docs or other."""
    parts = path.split("/")
    if "_quality" in parts:
        return "docs"
    if "_state" in parts:
        if parts[-1] == "cursor.json":
            return "cursor"
        return "state" if "keys" in parts else "other"
    if "raw" in parts:
        return "raw"
    return "table"


def _tick(counters: str, point: str) -> int:
    """Count one call at ``point``; its number over every process of the run (from 1)."""
    fd = os.open(Path(counters) / point, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, b".")  # O_APPEND: the offset after the write is this call's number
        return os.lseek(fd, 0, os.SEEK_CUR)
    finally:
        os.close(fd)


def die() -> None:
    """SIGKILL the run's process group (the run and its workers), like a machine crash."""
    group = os.getpgrp()
    if str(group) == os.environ.get(GROUP_ENV) or group == os.getpid():
        os.killpg(group, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)  # never the caller's group (pytest's)


def _cut_write(loc: Any, path: str, payload: Any) -> None:
    """Start writing ``path`` as the atomic writers do, send part of it, and die."""
    from reportlake.storage import _atomic_output

    data = payload if isinstance(payload, bytes) else b"PAR1" + b"\0" * 4096
    with _atomic_output(loc, path) as tmp:
        out = loc.fs.open_output_stream(tmp)
        out.write(data[: max(1, len(data) // 2)])
        out.flush()
        die()


def _instrument(plan: KillPlan, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kinds = ["*"]
        if name in ATOMIC_WRITERS:
            kinds.append(path_kind(str(args[1])))
        hit = False
        for kind in kinds:
            point = f"{name}:{kind}"
            number = _tick(plan.counters, point)
            hit = hit or (point == plan.point and number == plan.call)
        if hit and plan.when == "before":
            die()
        if hit and plan.when == "during" and name in ATOMIC_WRITERS:
            _cut_write(*args)
        result = original(*args, **kwargs)
        if hit:  # "after", or "during" a function that is more than one write
            die()
        return result

    wrapper.__wrapped_for_faults__ = True  # type: ignore[attr-defined]
    return wrapper


def install(plan: KillPlan) -> None:
    """Wrap the write paths in every loaded reportlake/flows/tasks module that holds them."""
    for name, module_name in FUNCTIONS.items():
        module = importlib.import_module(module_name)
        original = getattr(module, name)
        if getattr(original, "__wrapped_for_faults__", False):
            continue
        wrapped = _instrument(plan, name, original)
        for loaded in list(sys.modules.values()):
            mod_name = getattr(loaded, "__name__", "") or ""
            if mod_name.split(".")[0] not in {"reportlake", "flows", "tasks"}:
                continue
            for attr, value in list(vars(loaded).items()):
                if value is original:
                    setattr(loaded, attr, wrapped)


def install_from_env() -> None:
    raw = os.environ.get(PLAN_ENV)
    if raw:
        install(KillPlan(**json.loads(raw)))


# --- the fork server ----------------------------------------------------------------------


def _preload() -> None:
    """What every run needs and takes seconds to load: Prefect and the flows.

    Not the validator: it runs in a child process of each run (forked runs cannot share one).
    """
    for name in ("flows.ingest", "flows.backfill", "reportlake.cli"):
        importlib.import_module(name)


def _shorten_retry_delays(seconds: float) -> None:
    """Make the flow's tasks wait ``seconds`` between retries instead of up to 30 s."""
    from prefect import Task

    import tasks.ingest

    for value in vars(tasks.ingest).values():
        if isinstance(value, Task) and value.retries:
            value.retry_delay_seconds = seconds


def _child(argv: list[str], env: Mapping[str, str], log: str) -> int:
    """In the forked child: become a process group, send output to ``log``, run the CLI."""
    os.setpgrp()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.environ.update(env)
    os.environ[GROUP_ENV] = str(os.getpid())
    install_from_env()
    if os.environ.get(FAST_RETRIES_ENV):
        _shorten_retry_delays(float(os.environ[FAST_RETRIES_ENV]))
    from reportlake.cli import app

    try:
        app(args=argv, prog_name="reportlake")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the child reports every failure by its exit code
        traceback.print_exc()
        return 1
    return 0


def _wait(pid: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return {"pid": pid, "returncode": os.waitstatus_to_exitcode(status)}
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"pid": pid, "returncode": -9, "timed_out": True}
        time.sleep(0.05)


def serve() -> None:
    """Answer JSON commands on stdin: ``start`` a child, ``wait`` for one."""
    _preload()
    reply = sys.stdout
    reply.write(json.dumps({"ready": True}) + "\n")
    reply.flush()
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "start":
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    code = _child(command["argv"], command["env"], command["log"])
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            answer: dict[str, Any] = {"pid": pid}
        else:
            answer = _wait(int(command["pid"]), float(command["timeout"]))
        reply.write(json.dumps(answer) + "\n")
        reply.flush()


@dataclass
class Run:
    """A finished child: its exit code (negative: killed by that signal) and its output."""

    returncode: int
    output: str
    seconds: float = 0.0
    timed_out: bool = False

    def number(self, label: str) -> int:
        """A count from the CLI summary, e.g. ``number("written")``."""
        tail = self.output.split(f"{label}: ", 1)[1]
        return int(tail.split()[0])


class ForkServer:
    """Drive ``python -m tests.fault_run serve``: start runs, wait for them, read their output."""

    def __init__(self, env: Mapping[str, str], workdir: Path) -> None:
        self.workdir = workdir
        self._runs = 0
        self._logs: dict[int, tuple[Path, float]] = {}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fault_run", "serve"],
            cwd=REPO,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._ask_ready(timeout=180)

    def _ask_ready(self, timeout: float) -> None:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready and self.proc.stdout else ""
        if not line:
            raise RuntimeError("the fork server did not start: see its stderr above")

    def _call(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return answer

    def start(
        self, argv: list[str], *, env: Mapping[str, str] | None = None, kill: KillPlan | None = None
    ) -> int:
        """Start ``reportlake <argv>`` in a child; its pid."""
        self._runs += 1
        log = self.workdir / f"run-{self._runs:03d}.log"
        full_env = {**(env or {}), **(kill.to_env() if kill else {PLAN_ENV: ""})}
        pid = int(
            self._call({"op": "start", "argv": argv, "env": full_env, "log": str(log)})["pid"]
        )
        self._logs[pid] = (log, time.monotonic())
        return pid

    def wait(self, pid: int, timeout: float = 300) -> Run:
        answer = self._call({"op": "wait", "pid": pid, "timeout": timeout})
        log, started = self._logs.pop(pid)
        output = log.read_text(encoding="utf-8", errors="replace")
        seconds = time.monotonic() - started
        return Run(int(answer["returncode"]), output, seconds, bool(answer.get("timed_out")))

    def run(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        kill: KillPlan | None = None,
        timeout: float = 300,
    ) -> Run:
        return self.wait(self.start(argv, env=env, kill=kill), timeout)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def new_plan(point: str = "", call: int = 0, when: str = "before") -> KillPlan:
    """A plan with a fresh counter directory."""
    return KillPlan(tempfile.mkdtemp(prefix="kill-counters-"), point, call, when)


# --- the one-run entry point ----------------------------------------------------------------


def main() -> None:
    kill_at, inbox, lake, batch_size = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    os.setpgrp()  # a group of its own: dying takes the workers along, never the caller
    os.environ[GROUP_ENV] = str(os.getpid())
    plan = new_plan("write_parquet_atomic:*", kill_at, "during")
    os.environ.update(plan.to_env())
    from flows.ingest import ingest_reports

    install(plan)
    summary = ingest_reports(inbox=inbox, lake=lake, batch_size=batch_size)
    writes = plan.counts().get("write_parquet_atomic:*", 0)
    print(f"writes={writes} written={summary.written} quarantined={summary.quarantined}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve()
    else:
        main()
elif __name__ == "__mp_main__":
    install_from_env()  # a worker process spawned by the run: same plan, same counters
