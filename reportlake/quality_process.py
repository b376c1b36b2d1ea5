"""The validator in a process of its own, so that a run's process never loads Great Expectations.

Building the validator imports Great Expectations, pandas and scipy: seconds of CPU and some
150 MB. In a child process it loads while the run's process lists and extracts (nothing waits
for it until the first commit), and the run's process stays that much smaller. The child keeps
the current run's results for its Data Docs, renders them on request and hands the files back
to be stored in the lake by the run's process.

A child serves the process that started it: a forked copy of that process starts its own. It
exits when its parent closes the pipe or dies (the pipe then reads end-of-file).

Starting one imports nothing of the pipeline (pyarrow, the parser, Great Expectations): the
command starts it first thing, so that the child loads on a core of its own while the command
itself is still importing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportlake.errors import QualityRunError
from reportlake.startup import start_up

if TYPE_CHECKING:
    import pyarrow as pa

    from reportlake.quality import ValidationResult, Validator
    from reportlake.storage import Location

_STOP_TIMEOUT_S = 0.5  # an idle child exits at once on end-of-file


class ValidatorProcess:
    """A :class:`~reportlake.quality.Validator` for ``suites_dir``, built and run in a child."""

    def __init__(self, suites_dir: Path) -> None:
        self.suites_dir = Path(suites_dir)
        # A fresh interpreter running this module, not a multiprocessing child: that one would
        # re-import the caller's __main__ (a script without a main guard would run again).
        ours, theirs = socket.socketpair()
        with ours, theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno()), str(self.suites_dir)],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
            self._conn = Connection(ours.detach())
        self._owner = os.getpid()
        self._lock = threading.Lock()  # one request at a time on the pipe
        self._asked = False  # whether anything was asked of it yet
        atexit.register(self.close)  # let the child finish on its own, not be orphaned

    @property
    def usable(self) -> bool:
        """Whether this process started the child and the child still runs."""
        return os.getpid() == self._owner and self._process.poll() is None

    def validate(self, tables: Mapping[str, pa.Table]) -> ValidationResult:
        """Validate each table once (see ``Validator.validate``); only checkable columns travel."""
        from reportlake.quality import validation_columns

        sent = {name: validation_columns(table) for name, table in tables.items()}
        result: ValidationResult = self._call("validate", sent)
        return result

    def reset_results(self) -> None:
        """Forget the results kept so far; does not wait for the validator to be built."""
        self._call("reset", reply=False)

    def prepare_data_docs(self, run_key: str) -> None:
        """Have the Data Docs of ``run_key`` rendered right after the next validation (a run's
        last), so that ``build_data_docs`` finds them ready; does not wait."""
        self._call("prepare", run_key, reply=False)

    def build_data_docs(self, lake: Location, run_key: str) -> str | None:
        """Render the run's results as Data Docs and store them in the lake (see
        ``write_data_docs``); None when nothing was validated since the last reset."""
        from reportlake.quality import write_data_docs

        files: dict[str, bytes] | None = self._call("render", run_key)
        return None if files is None else write_data_docs(lake, run_key, files)

    def close(self) -> None:
        """Stop the child: an idle one exits once its pipe is closed; one still loading Great
        Expectations (a run with nothing new) or rendering docs nobody asked for is killed."""
        if os.getpid() != self._owner:
            return  # a forked copy: the child is its parent's
        atexit.unregister(self.close)
        self._conn.close()
        try:
            self._process.wait(_STOP_TIMEOUT_S if self._asked else 0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _call(self, op: str, *args: Any, reply: bool = True) -> Any:
        with self._lock:
            self._asked = True
            try:
                self._conn.send((op, args))
                if not reply:
                    return None
                status, value = self._conn.recv()
            except (EOFError, OSError) as exc:
                raise QualityRunError(
                    f"the validation process (pid {self._process.pid}) is gone "
                    f"(exit code {self._process.poll()}): rerun; if it keeps dying, check the "
                    "machine's memory and the expectation suites"
                ) from exc
        if status == "error":
            raise value
        return value


_lock = threading.Lock()
_validators: dict[Path, ValidatorProcess] = {}


def _forget_in_forked_child() -> None:
    """In a forked copy of this process: close its copies of the validators' pipes, so that a
    validator still reads end-of-file when the process that started it closes its end."""
    for validator in _validators.values():
        validator._conn.close()
    _validators.clear()


os.register_at_fork(after_in_child=_forget_in_forked_child)


def validator_for(suites_dir: Path) -> ValidatorProcess:
    """This process's validator for ``suites_dir``: one child process, started on first use.

    It takes seconds to build and serves every later run of this process; a new one is started
    if it died (its results for the current run's Data Docs are then lost) or if this process
    is a fork of the one that started it.
    """
    with _lock:  # threads that ask at once share one child
        current = _validators.get(suites_dir)
        if current is None or not current.usable:
            current = _validators[suites_dir] = ValidatorProcess(suites_dir)
        return current


# Back-ends Great Expectations loads at import when they are installed (SQLAlchemy comes with
# Prefect, boto3 with the S3 support) and that this process never uses: it validates pandas
# frames and hands its Data Docs back as bytes. Skipped, they save ~0.35 s of its start-up CPU.
UNUSED_BACKENDS = ("sqlalchemy", "boto3", "botocore")


def skip_unused_backends() -> None:
    """Make GX's imports of ``UNUSED_BACKENDS`` fail, as if they were not installed; for this
    module's own process only (anything else in a process may need them)."""
    for name in UNUSED_BACKENDS:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError


def _serve(conn: Connection, suites_dir: Path) -> None:
    """The child: build the validator, then answer requests until the pipe closes."""
    from reportlake.quality import Validator

    validator: Validator | None = None
    failure: Exception | None = None
    try:
        with start_up():  # Great Expectations' import: no collection during it, frozen after
            validator = Validator(suites_dir)
    except Exception as exc:  # noqa: BLE001 - sent back with every request, not lost
        failure = exc
    docs = _Docs()
    while True:
        try:
            op, args = conn.recv()
        except (EOFError, OSError):
            return  # the run's process closed the pipe or died
        if op == "prepare":
            docs.wanted = args[0]
            continue
        if op in ("validate", "reset"):
            docs.ready = None  # the results change, even if a validation fails half-way
        try:
            if validator is None:
                assert failure is not None
                raise failure
            value = docs.render(validator, *args) if op == "render" else _run(validator, op, args)
        except Exception as exc:  # noqa: BLE001 - the caller raises it
            if op != "reset":
                _send(conn, ("error", exc))
            continue
        if op != "reset":
            _send(conn, ("ok", value))
        if op == "validate":
            docs.render_wanted(validator)


class _Docs:
    """Data Docs rendered ahead: asked for before a run's last validation, they are rendered
    once that validation is answered, while the run's process writes its batch, and
    ``render`` hands them over (rendered again if the key or the results changed since)."""

    def __init__(self) -> None:
        self.wanted: str | None = None  # the run key to render for after the next validation
        self.ready: tuple[str, dict[str, bytes] | None] | None = None

    def render_wanted(self, validator: Validator) -> None:
        key, self.wanted = self.wanted, None
        if key is not None:
            with contextlib.suppress(Exception):  # rendered again on request, and raised then
                self.ready = key, validator.render_data_docs(key)

    def render(self, validator: Validator, run_key: str) -> dict[str, bytes] | None:
        ready, self.ready, self.wanted = self.ready, None, None
        if ready is not None and ready[0] == run_key:
            return ready[1]
        return validator.render_data_docs(run_key)


def _run(validator: Validator, op: str, args: tuple[Any, ...]) -> Any:
    if op == "validate":
        return validator.validate(*args)
    if op == "reset":
        return validator.reset_results()
    raise QualityRunError(f"unknown request {op!r} to the validation process")


def _send(conn: Connection, message: tuple[str, Any]) -> None:
    try:
        conn.send(message)
    except (EOFError, OSError):
        return  # the parent is gone; the next recv ends the loop
    except Exception as exc:  # noqa: BLE001 - an error that cannot be pickled
        error = message[1]
        conn.send(("error", QualityRunError(f"{type(error).__name__}: {error} ({exc})")))


if __name__ == "__main__":
    skip_unused_backends()
    _serve(Connection(int(sys.argv[1])), Path(sys.argv[2]))
    # Nothing is left to flush or close: skip tearing down Great Expectations, pandas and scipy
    # (~1 s that the run's exit would wait for).
    os._exit(0)
