"""Validate the lake tables of a batch against the Great Expectations suites in ``expectations/``.

One ``Validator`` is built per run: it loads every ``<table>.json`` suite into an ephemeral GX
context once, then validates each table of each batch with one GX call. Row-level results are
mapped back to ``report_id`` so a bad report is quarantined while the rest of the batch goes on;
an expectation that itself errors fails the run (``QualityRunError``), never passes silently.

The validator also keeps the GX results of the current run, so ``build_data_docs`` can render
them as Great Expectations Data Docs into the lake; ``reset_results`` starts a new run.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import logging
import math
import posixpath
import sys
import tempfile
import types
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from reportlake.errors import ConfigurationError, QualityRunError
from reportlake.storage import Location, write_bytes_atomic
from reportlake.tables import DATA_TABLES
from reportlake.vocab import broker_names, rating_words

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation import Expectation

__all__ = [
    "TableCounts",
    "ValidationResult",
    "Validator",
    "frame_for_validation",
    "split_quarantine",
    "suite_parameters",
]

# Reports may be dated up to a week ahead: brokers publish on Friday with Monday's date.
PUBLISH_DATE_SLACK = dt.timedelta(days=7)
_MAX_SHOWN = 60  # longest offending value quoted in a reason; longer ones are cut
DOCS_DIR = "_quality/docs"  # Data Docs of each run, under the lake root


@dataclass(frozen=True)
class TableCounts:
    """Per-table numbers for the run summary."""

    rows: int
    rows_failed: int
    expectations: int


@dataclass
class ValidationResult:
    """Failed checks per report of one batch, plus per-table counts."""

    failures: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, TableCounts] = field(default_factory=dict)


@dataclass(frozen=True)
class _Check:
    """One expectation as written in its suite file (parameters unresolved)."""

    type: str
    kwargs: dict[str, Any]
    notes: str | None


@dataclass(frozen=True)
class _SuiteSpec:
    """A suite file read and checked, before GX sees it."""

    path: Path
    table: str
    raw: dict[str, Any]

    @property
    def parameter_names(self) -> set[str]:
        """Names of every ``{"$PARAMETER": name}`` the suite uses."""
        names: set[str] = set()
        for exp in self.raw["expectations"]:
            names.update(_parameter_refs(exp.get("kwargs", {})))
        return names


@dataclass(frozen=True)
class _LoadedSuite:
    """A suite registered in the GX context, with the batch definition of its table."""

    path: Path
    suite: ExpectationSuite
    batch_definition: BatchDefinition
    checks: dict[str, _Check]  # by GX expectation id
    expectations: dict[str, Expectation]  # the suite's, by GX expectation id


def suite_parameters(today: dt.date) -> dict[str, Any]:
    """Values for the ``$PARAMETER`` references in the suites, for a run on ``today``."""
    import pandas as pd

    return {
        "broker_names": broker_names(),
        "rating_words": rating_words(),
        # A timestamp, not a date: pandas 3 refuses to compare datetime64 columns with dates.
        "max_publish_date": pd.Timestamp(today + PUBLISH_DATE_SLACK),
    }


# Modules Great Expectations imports with itself for features our suites do not use: scipy.stats
# for its distribution expectations (KL divergence, KS tests; ~0.5 s of CPU, a quarter of GX's
# import) and altair for their charts (~0.1 s).
_DEFERRED_IMPORTS = ("scipy.stats", "altair")


class _ImportedOnUse(types.ModuleType):
    """Stands in for a module until one of its attributes is first looked up, which imports it.

    An import statement takes the stand-in as it is (``import altair as alt``, ``from scipy
    import stats``); ``alt.Chart`` imports the real module (which replaces the stand-in in
    ``sys.modules`` and on its package) and returns the real attribute.
    """

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def _defer_unused_imports() -> None:
    """Have the modules of ``_DEFERRED_IMPORTS`` load on first use rather than when Great
    Expectations is imported: validator start-up 1.18 -> 1.09 s of CPU for altair alone (3 runs
    each). A suite that uses them still works: the module loads when first used."""
    if "great_expectations" in sys.modules:
        return
    for name in _DEFERRED_IMPORTS:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)  # imports the package of a submodule
        if spec is None:
            continue
        stand_in = _ImportedOnUse(name)
        stand_in.__spec__ = spec  # what importlib looks at, as on the real module
        sys.modules[name] = stand_in
        package, _, attr = name.rpartition(".")
        if package:
            # Bound on the package as an import would: ``from scipy import stats`` then takes
            # it as it is, where the package's module __getattr__ would import it.
            setattr(sys.modules[package], attr, stand_in)


class Validates(Protocol):
    """What a commit needs of a validator: a :class:`Validator` in this process, or one in a
    process of its own (:class:`reportlake.quality_process.ValidatorProcess`)."""

    def validate(self, tables: Mapping[str, pa.Table]) -> ValidationResult: ...


class Validator:
    """The expectation suites of a run, loaded once into an ephemeral GX context."""

    def __init__(self, suites_dir: Path, *, today: dt.date | None = None) -> None:
        self.suites_dir = Path(suites_dir)
        self._today = today
        specs = _read_suite_specs(self.suites_dir)
        known = set(self.parameters)
        for spec in specs:
            unknown = spec.parameter_names - known
            if unknown:
                raise ConfigurationError(
                    f"{spec.path}: unknown suite parameter(s) {sorted(unknown)}; "
                    f"known: {sorted(known)}"
                )
        with _quiet_gx():
            self._suites = self._load_into_gx(specs)
        # GX results of the current run, in validation order, for its Data Docs.
        self._results: list[ExpectationSuiteValidationResult] = []

    def _load_into_gx(self, specs: Sequence[_SuiteSpec]) -> dict[str, _LoadedSuite]:
        """Build the ephemeral context, one dataframe asset and suite per table."""
        # Imported here: GX takes seconds to import and most reportlake commands never validate.
        _defer_unused_imports()
        import great_expectations as gx
        from great_expectations.core.expectation_suite import ExpectationSuite
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.expectations.expectation_configuration import (
            ExpectationConfiguration,
        )

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_pandas("reportlake")
        loaded: dict[str, _LoadedSuite] = {}
        for spec in specs:
            expectations = []
            for i, raw in enumerate(spec.raw["expectations"]):
                try:
                    config = ExpectationConfiguration(
                        type=raw["type"],
                        kwargs=raw.get("kwargs") or {},
                        meta=raw.get("meta"),
                        notes=raw.get("notes"),
                        description=raw.get("description"),
                    )
                    # Built here rather than by ExpectationSuite(), which logs and *drops*
                    # an invalid expectation: a typo would silently weaken the suite.
                    expectations.append(config.to_domain_obj())
                except Exception as exc:
                    raise ConfigurationError(
                        f"{spec.path}: expectation #{i} ({raw.get('type')}) is invalid: {exc}"
                    ) from exc
            try:
                suite = context.suites.add(
                    ExpectationSuite(
                        name=spec.table,
                        expectations=expectations,
                        meta=spec.raw.get("meta"),
                        notes=spec.raw.get("notes"),
                    )
                )
            except Exception as exc:
                raise ConfigurationError(f"{spec.path}: GX rejected the suite: {exc}") from exc
            if len(suite.expectations) != len(expectations):
                raise ConfigurationError(
                    f"{spec.path}: GX kept {len(suite.expectations)} of "
                    f"{len(expectations)} expectations (duplicates?)"
                )
            checks = {
                str(exp.id): _Check(
                    type=raw["type"],
                    kwargs=raw.get("kwargs") or {},
                    notes=_notes(raw),
                )
                for exp, raw in zip(suite.expectations, spec.raw["expectations"], strict=True)
            }
            asset = source.add_dataframe_asset(spec.table)
            loaded[spec.table] = _LoadedSuite(
                path=spec.path,
                suite=suite,
                batch_definition=asset.add_batch_definition_whole_dataframe("batch"),
                checks=checks,
                expectations={str(exp.id): exp for exp in suite.expectations},
            )
        return loaded

    @property
    def parameters(self) -> dict[str, Any]:
        """Suite parameter values for a validation now."""
        # Recomputed per call: a validator cached by a long-lived worker must not freeze "today".
        return suite_parameters(self._today or dt.date.today())

    @property
    def tables(self) -> tuple[str, ...]:
        """Names of the tables that have a suite."""
        return tuple(self._suites)

    def reset_results(self) -> None:
        """Forget the results kept so far: a new run starts (one validator serves many runs)."""
        self._results.clear()

    def render_data_docs(self, run_key: str) -> dict[str, bytes] | None:
        """The kept results as a GX Data Docs site: its files by path in the site; None if
        nothing was validated since the last ``reset_results``.

        GX's site builder writes only to local disk: the site is built in a temporary directory
        and read back, to be stored in the lake by :func:`write_data_docs`.
        """
        if not self._results:
            return None
        _check_run_key(run_key)
        with tempfile.TemporaryDirectory(prefix="reportlake-docs-") as tmp:
            site = Path(tmp)
            with _quiet_gx():
                self._render_site(site, run_key)
            if not (site / "index.html").is_file():
                raise QualityRunError(f"GX built no index.html for run {run_key!r}")
            return {
                path.relative_to(site).as_posix(): path.read_bytes()
                for path in sorted(site.rglob("*"))
                if path.is_file()
            }

    def _render_site(self, site: Path, run_key: str) -> None:
        """Build the Data Docs of the kept results in a fresh ephemeral context at ``site``."""
        import copy

        import great_expectations as gx
        from great_expectations.core.expectation_suite import ExpectationSuite
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        # A context per build: its in-memory stores hold this run only and are dropped after.
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.add_data_docs_site(
            "run",
            {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(site),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        for loaded in self._suites.values():
            # GX refuses expectations that belong to another context's suite: copy them.
            context.suites.add(
                ExpectationSuite(
                    name=loaded.suite.name,
                    expectations=[copy.copy(e) for e in loaded.suite.expectations],
                    meta=loaded.suite.meta,
                    notes=loaded.suite.notes,
                )
            )
        store = context.validation_results_store
        run_time = dt.datetime.now(dt.UTC)
        for i, outcome in enumerate(self._results):
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(outcome.suite_name),
                run_id=RunIdentifier(run_name=run_key, run_time=run_time),
                batch_identifier=f"{outcome.suite_name}-{i:04d}",
            )
            store.set(key, outcome)
        context.build_data_docs(site_names=["run"])

    def validate(self, tables: Mapping[str, pa.Table]) -> ValidationResult:
        """Validate each table once; failed checks are keyed by the ``report_id`` of the row."""
        result = ValidationResult()
        for name, table in tables.items():
            loaded = self._suites.get(name)
            if loaded is None:
                # Not skipped: a table nobody validates would reach the lake unchecked.
                raise QualityRunError(
                    f"no expectation suite for table {name!r} in {self.suites_dir}"
                )
            if table.num_rows == 0:
                result.counts[name] = TableCounts(rows=0, rows_failed=0, expectations=0)
                continue
            result.counts[name] = self._validate_table(name, table, loaded, result.failures)
        return result

    def _validate_table(
        self,
        name: str,
        table: pa.Table,
        loaded: _LoadedSuite,
        failures: dict[str, list[str]],
    ) -> TableCounts:
        """Run one suite over one table and add its row failures to ``failures``."""
        if "report_id" not in table.column_names:
            raise QualityRunError(f"table {name!r} has no report_id column to attribute rows to")
        report_ids: list[str | None] = table.column("report_id").to_pylist()
        frame = frame_for_validation(table)
        parameters = self.parameters
        with _quiet_gx():
            try:
                batch = loaded.batch_definition.get_batch(batch_parameters={"dataframe": frame})
                # Only GX's COMPLETE format lists every failing row, and it costs ~60% more
                # than BASIC on every expectation (measured: 0.30 against 0.18 s for a batch of
                # 500 reports): the suite runs in BASIC, and only what failed (rarely anything)
                # runs again in COMPLETE, its result taking the place of the BASIC one.
                outcome = batch.validate(
                    loaded.suite,
                    result_format={"result_format": "BASIC"},
                    expectation_parameters=parameters,
                )
                results = outcome.results
                for i, r in enumerate(results):
                    if not r.success and _raised_exception(r) is None:
                        results[i] = batch.validate(
                            loaded.expectations[str(r.expectation_config.id)],
                            result_format={"result_format": "COMPLETE"},
                            expectation_parameters=parameters,
                        )
            except Exception as exc:
                raise QualityRunError(
                    f"validating table {name!r} with {loaded.path} failed: {exc}"
                ) from exc
        self._results.append(outcome)

        if len(results) != len(loaded.checks):
            raise QualityRunError(
                f"{loaded.path}: GX returned {len(results)} results for "
                f"{len(loaded.checks)} expectations"
            )
        errors = [
            f"{_label(name, check)} raised {message}"
            for check, message in (
                (self._check_of(loaded, r), _raised_exception(r)) for r in results
            )
            if message is not None
        ]
        if errors:
            raise QualityRunError(
                f"expectation(s) in {loaded.path} could not be evaluated: " + "; ".join(errors)
            )

        failed_rows: set[int] = set()
        for r in results:
            # A passing expectation quarantines nobody, even if a ``mostly`` tolerated some rows.
            if r.success:
                continue
            check = self._check_of(loaded, r)
            indices = r.result.get("unexpected_index_list") or []
            if not indices:
                # E.g. a table-level or aggregate expectation: nothing to quarantine, so the
                # only honest outcome is to stop the run.
                raise QualityRunError(
                    f"{_label(name, check)} failed for the batch as a whole and cannot be traced "
                    f"to rows (observed: {_short(r.result.get('observed_value'))}); "
                    f"see {loaded.path}"
                )
            if len(indices) < int(r.result.get("unexpected_count") or 0):
                # A truncated index list would let the unlisted bad rows through.
                raise QualityRunError(
                    f"{_label(name, check)}: GX listed {len(indices)} of "
                    f"{r.result.get('unexpected_count')} failing rows"
                )
            for index in indices:
                row = int(index)
                report_id = report_ids[row]
                if report_id is None:
                    raise QualityRunError(
                        f"{_label(name, check)} failed on row {row}, which has no report_id"
                    )
                reason = _reason(name, check, table, row, parameters)
                reasons = failures.setdefault(report_id, [])
                if reason not in reasons:
                    reasons.append(reason)
                failed_rows.add(row)
        return TableCounts(
            rows=table.num_rows, rows_failed=len(failed_rows), expectations=len(results)
        )

    @staticmethod
    def _check_of(loaded: _LoadedSuite, r: ExpectationValidationResult) -> _Check:
        """The suite-file expectation behind a GX result."""
        check = loaded.checks.get(str(r.expectation_config.id))
        if check is None:
            raise QualityRunError(
                f"{loaded.path}: GX returned a result for an unknown expectation "
                f"{r.expectation_config.type}"
            )
        return check


def split_quarantine(
    report_ids: Sequence[str], result: ValidationResult
) -> tuple[set[str], dict[str, list[str]]]:
    """Split a batch: ids that passed every table, and failed ids with their reasons.

    A report fails if any of its rows in any table failed. Failures for ids not in
    ``report_ids`` are ignored: only the given reports are being decided.
    """
    passed: set[str] = set()
    quarantined: dict[str, list[str]] = {}
    for report_id in report_ids:
        reasons = result.failures.get(report_id)
        if reasons:
            quarantined[report_id] = list(reasons)
        else:
            passed.add(report_id)
    return passed, quarantined


def write_data_docs(lake: Location, run_key: str, files: Mapping[str, bytes]) -> str:
    """Store a run's Data Docs site in ``<lake>/_quality/docs/<run_key>/`` (local or S3), file
    by file; the URI of its ``index.html``."""
    _check_run_key(run_key)
    target = lake.join(DOCS_DIR, run_key)
    for rel, data in sorted(files.items()):
        write_bytes_atomic(lake, posixpath.join(target, rel), data)
    return lake.uri_of(posixpath.join(target, "index.html"))


def _check_run_key(run_key: str) -> None:
    if not run_key or "/" in run_key or run_key.startswith("."):
        raise ValueError(f"run key {run_key!r} must be a plain directory name")


def validation_columns(table: pa.Table) -> pa.Table:
    """The columns of ``table`` that expectations read: no list columns, no bulk text."""
    return table.select([f.name for f in table.schema if not _is_bulky(f.type)])


def frame_for_validation(table: pa.Table) -> pd.DataFrame:
    """The scalar columns of ``table`` as pandas, row ``i`` at index ``i``.

    List columns and bulk text are left out: no expectation reads them and the extracted text
    would double the memory of the batch. Dates become ``datetime64[ms]`` rather than Python
    ``date`` objects so range checks compare timestamps with timestamps; ``ms`` (not ``ns``)
    keeps a mistyped year like 3024 representable, so it fails the check instead of crashing.
    """
    kept = validation_columns(table)
    frame = kept.to_pandas(date_as_object=False)
    for f in kept.schema:
        if pa.types.is_date(f.type):
            frame[f.name] = frame[f.name].astype("datetime64[ms]")
    return frame


def _is_bulky(arrow_type: pa.DataType) -> bool:
    """Nested or large columns that GX cannot or need not check."""
    return bool(
        pa.types.is_nested(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_large_binary(arrow_type)
    )


def _read_suite_specs(suites_dir: Path) -> list[_SuiteSpec]:
    """Read every ``*.json`` suite; each data table must have one."""
    if not suites_dir.is_dir():
        raise ConfigurationError(f"expectation suite directory {suites_dir} does not exist")
    paths = sorted(suites_dir.glob("*.json"))
    missing = [t for t in DATA_TABLES if suites_dir / f"{t}.json" not in paths]
    if missing:
        raise ConfigurationError(
            "missing expectation suite(s): "
            + ", ".join(str(suites_dir / f"{t}.json") for t in missing)
        )
    return [_read_suite_spec(path) for path in paths]


def _read_suite_spec(path: Path) -> _SuiteSpec:
    """Parse one suite file and check the shape GX would otherwise half-accept."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"{path}: not a readable JSON suite: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path}: a suite is a JSON object, got {type(raw).__name__}")
    if raw.get("name") != path.stem:
        raise ConfigurationError(
            f"{path}: suite name {raw.get('name')!r} must equal the table name {path.stem!r}"
        )
    expectations = raw.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise ConfigurationError(f"{path}: 'expectations' must be a non-empty list")
    for i, exp in enumerate(expectations):
        if (
            not isinstance(exp, dict)
            or not isinstance(exp.get("type"), str)
            or not isinstance(exp.get("kwargs", {}), dict)
        ):
            raise ConfigurationError(
                f"{path}: expectation #{i} needs a string 'type' and an object 'kwargs'"
            )
    return _SuiteSpec(path=path, table=path.stem, raw=raw)


def _parameter_refs(value: Any) -> Iterator[str]:
    """Every ``$PARAMETER`` name inside a kwargs value."""
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            yield str(value["$PARAMETER"])
        else:
            for v in value.values():
                yield from _parameter_refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _parameter_refs(v)


def _notes(raw: Mapping[str, Any]) -> str | None:
    """The fix-it hint of an expectation: ``meta.notes`` or ``description``."""
    meta = raw.get("meta") or {}
    notes = meta.get("notes") if isinstance(meta, dict) else None
    if isinstance(notes, dict):  # GX's {"format": ..., "content": [...]} form
        notes = " ".join(str(c) for c in notes.get("content", []))
    return str(notes or raw.get("description") or "") or None


def _raised_exception(r: ExpectationValidationResult) -> str | None:
    """The message of an exception GX caught while evaluating ``r``, if any."""
    info = r.exception_info or {}
    # Either one flat record, or one record per metric that failed to compute.
    records = [info] if "raised_exception" in info else list(info.values())
    messages = [
        str(rec.get("exception_message") or "exception")
        for rec in records
        if isinstance(rec, dict) and rec.get("raised_exception")
    ]
    return "; ".join(dict.fromkeys(messages)) or None


def _columns(check: _Check) -> list[str]:
    """The columns an expectation reads."""
    if "column" in check.kwargs:
        return [str(check.kwargs["column"])]
    return [str(c) for c in check.kwargs.get("column_list", [])]


def _label(table: str, check: _Check) -> str:
    """``table.column: expectation_type`` for messages."""
    columns = _columns(check)
    where = columns[0] if len(columns) == 1 else "(" + ", ".join(columns) + ")"
    return f"{table}.{where}: {check.type}" if columns else f"{table}: {check.type}"


def _describe(check: _Check, parameters: Mapping[str, Any]) -> str:
    """The rule in a few characters: the regex, the value set or the range."""
    kwargs = check.kwargs

    def resolve(value: Any) -> Any:
        if isinstance(value, dict) and "$PARAMETER" in value:
            return parameters.get(str(value["$PARAMETER"]))
        if isinstance(value, str):
            try:  # JSON suites spell date bounds as ISO timestamps
                return dt.datetime.fromisoformat(value)
            except ValueError:
                return value
        return value

    if "regex" in kwargs:
        return str(kwargs["regex"])
    if "value_set" in kwargs:
        value_set = kwargs["value_set"]
        if isinstance(value_set, dict) and "$PARAMETER" in value_set:
            return f"in {value_set['$PARAMETER']}"  # vocabularies are too long to quote
        return "in {" + ", ".join(str(v) for v in value_set) + "}"
    if "min_value" in kwargs or "max_value" in kwargs:
        low, high = resolve(kwargs.get("min_value")), resolve(kwargs.get("max_value"))
        return f"[{'' if low is None else _show(low)}, {'' if high is None else _show(high)}]"
    return ""


def _reason(
    table_name: str, check: _Check, table: pa.Table, row: int, parameters: Mapping[str, Any]
) -> str:
    """One human-readable line for a failed row: what failed, the value, how to fix it."""
    # The value is read from the Arrow table, not GX's unexpected_list: it is the original
    # (a date stays a date) and it is aligned with the row by construction.
    columns = [c for c in _columns(check) if c in table.column_names]
    compound = len(columns) > 1
    if compound:
        # The reason is already filed under the report id: quoting it again adds 64 characters.
        columns = [c for c in columns if c != "report_id"]
    values = [table.column(c)[row].as_py() for c in columns]
    got = ", ".join(
        f"{c}={_show(v)}" if compound else _show(v) for c, v in zip(columns, values, strict=True)
    )
    rule = _describe(check, parameters)
    text = f"{_label(table_name, check)}{' ' + rule if rule else ''}"
    if values:
        text += f" (got {got})"
    if check.notes:
        text += f" -- {check.notes}"
    return text


def _show(value: Any) -> str:
    """A value as a user would type it, cut to a readable length."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _short(value)


def _short(value: Any) -> str:
    """``repr`` cut to ``_MAX_SHOWN`` characters."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


@contextmanager
def _quiet_gx() -> Iterator[None]:
    """Keep GX's logging and warnings out of the run's logs while it works."""
    # GX logs caught exceptions at ERROR and some modules pin their own logger at INFO; we surface
    # every failure ourselves (ConfigurationError / QualityRunError), so its chatter is noise.
    # Cutting propagation at the package logger silences all of them whatever their levels.
    logger = logging.getLogger("great_expectations")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())  # else logging's last-resort handler prints
    propagate = logger.propagate
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.propagate = propagate
