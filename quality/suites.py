"""Great Expectations suites generated from the catalogue, their validation, and the Data Docs.

`suite_for(resource)` turns the resource's plan (quality.plan.plan_checks) into a GX 1.x
ExpectationSuite named `hub.<resource>`: GX built-ins where their semantics equal the plan's
(required, length, value set on text, range on numbers), the hub's custom expectations
(quality.expectations) for the rest. Every expectation's meta names its check and severity.
Critical expectations carry `mostly` = the resource's quality threshold: one fails as a whole when
more than (1 − threshold) of the rows fail it — the failing rows are reported (and quarantined by
the gate) either way. Warnings are reported and never fail the suite.

`validate(...)` runs the suite on one batch (a pandas DataFrame) with COMPLETE results and returns
which rows failed which check. With `docs`, it stores the result with PII samples masked
(quality.docs_privacy) and updates the Data Docs under var/quality/docs (a file-backed GX project).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
import pyarrow as pa

from catalog import derive
from catalog.coverage import DEFAULT_QUALITY_THRESHOLD
from hub.files import exclusive_lock
from hub.settings import get_settings
from quality import docs_assets, docs_privacy
from quality import expectations as hub_expectations
from quality.plan import Check, plan_checks

log = logging.getLogger(__name__)
# No tqdm bars: in a task they go to stderr, which Airflow logs at ERROR, one line per metric batch.
PROGRESS_BARS = {"globally": False, "metric_calculations": False}

DATASOURCE = "hub"
SITE = "hub_docs"


@dataclass
class SuiteRun:
    """One validation: per check the failing rows (True = failed, in frame order)."""

    rows: int
    masks: dict[str, np.ndarray]
    failed_checks: list[dict]  # {name, critical, failed_rows, success} for checks with failing rows
    suite_success: bool  # every critical expectation succeeded (within its `mostly`)
    docs_path: str | None = None  # this validation's page, relative to docs_dir()
    unbuilt: tuple = ()  # GX resource identifiers of a result stored but not rendered yet (`build_pages`)


def suite_name(resource_id: str) -> str:
    return f"hub.{resource_id}"


def docs_dir() -> Path:
    return get_settings().var_dir / "quality" / "docs"


def _project_dir() -> Path:
    return get_settings().var_dir / "quality"


# --- the suite ------------------------------------------------------------------------------------


def threshold_of(resource) -> float:
    threshold = getattr(resource, "quality_threshold", None)
    return DEFAULT_QUALITY_THRESHOLD if threshold is None else float(threshold)


def suite_for(resource, schema: pa.Schema | None = None):
    """The GX suite of `resource` (checks whose columns `schema` lacks are left out)."""
    import great_expectations as gx  # GX takes seconds to import: only when a suite runs or docs build

    _context()  # a GX suite belongs to a project: make sure this process has one
    name = suite_name(resource.id)
    suite = gx.ExpectationSuite(name=name, meta={"resource": resource.id, "threshold": threshold_of(resource)})
    for check in _checks(resource, schema):
        suite.add_expectation(_expectation(check, name, threshold_of(resource), schema))
    return suite


def _checks(resource, schema: pa.Schema | None) -> list[Check]:
    checks = plan_checks(resource)
    if schema is None:
        return checks
    return [c for c in checks if all(column in schema.names for column in c.columns)]


def _expectation(check: Check, suite: str, threshold: float, schema: pa.Schema | None):
    import great_expectations as gx  # GX takes seconds to import: only when a suite runs or docs build

    meta = {"check": check.name, "severity": check.severity, "description": check.description}
    mostly = {"mostly": threshold} if check.severity == "critical" and threshold < 1 else {}
    column = check.columns[0]
    kind = schema.field(column).type if schema is not None and column in schema.names else None
    text = kind is not None and (pa.types.is_string(kind) or pa.types.is_large_string(kind))
    number = kind is not None and (pa.types.is_integer(kind) or pa.types.is_floating(kind))
    if check.kind == "not_null":
        return gx.expectations.ExpectColumnValuesToNotBeNull(column=column, meta=meta, **mostly)
    if check.kind == "max_length" and text:
        return gx.expectations.ExpectColumnValueLengthsToBeBetween(
            column=column, max_value=check.params["max"], meta=meta, **mostly
        )
    if check.kind == "in_set" and text:
        return gx.expectations.ExpectColumnValuesToBeInSet(
            column=column, value_set=[str(v) for v in check.params["values"]], meta=meta, **mostly
        )
    if check.kind == "between" and number:
        return gx.expectations.ExpectColumnValuesToBeBetween(
            column=column, min_value=check.params.get("min"), max_value=check.params.get("max"), meta=meta, **mostly
        )
    if len(check.columns) == 1:  # GX multicolumn expectations need two columns or more
        return hub_expectations.ExpectColumnValuesToPassHubCheck(
            column=column, suite=suite, check=check.name, meta=meta, **mostly
        )
    return hub_expectations.ExpectRowsToPassHubCheck(
        column_list=list(check.columns), suite=suite, check=check.name, meta=meta, **mostly
    )


# --- validation -----------------------------------------------------------------------------------


def validate(
    resource,
    frame: pd.DataFrame,
    *,
    history: Mapping[str, pa.Table | None] | None = None,
    run_name: str | None = None,
    docs: bool = True,
    table: pa.Table | None = None,
    run_time: datetime | None = None,
    build: bool = True,
    markers: Mapping[str, str] | None = None,
) -> SuiteRun:
    """Run the resource's suite on `frame` (one batch); `table` is the same batch as Arrow, if at hand.
    With `docs`, the result is stored for Data Docs (at `run_time`, GX stamps now if None) and its page
    rendered, unless `build` is False: then `build_pages` renders the pages of many runs at once."""
    frame = frame.reset_index(drop=True)
    table = table if table is not None else pa.Table.from_pandas(frame, preserve_index=False)
    suite = suite_for(resource, table.schema)
    checks = {c.name: c for c in _checks(resource, table.schema)}
    name = suite_name(resource.id)
    hub_expectations.ACTIVE[name] = hub_expectations.ActiveRun(checks, table, dict(history or {}))
    try:
        if docs:
            results, docs_path, unbuilt = _validate_with_docs(
                resource, suite, frame, run_name, run_time, build, markers
            )
        else:
            unbuilt = ()
            results, docs_path = (
                _batch(resource, frame).validate(suite, result_format={"result_format": "COMPLETE"}),
                None,
            )
    finally:
        hub_expectations.ACTIVE.pop(name, None)
        _forget_batches()
    run = _suite_run(results, checks, len(frame), docs_path)
    run.unbuilt = unbuilt
    return run


def _suite_run(results, checks: Mapping[str, Check], rows: int, docs_path: str | None) -> SuiteRun:
    masks, failed, success = {}, [], True
    for result in results.results:
        name = result.expectation_config.meta["check"]
        if result.exception_info and result.exception_info.get("raised_exception"):
            raise RuntimeError(f"expectation {name} raised: {result.exception_info.get('exception_message')}")
        mask = np.zeros(rows, dtype=bool)
        mask[np.asarray(result.result.get("unexpected_index_list") or [], dtype=np.int64)] = True
        masks[name] = mask
        critical = checks[name].severity == "critical"
        if mask.any():
            failed.append(
                {"name": name, "critical": critical, "failed_rows": int(mask.sum()), "success": bool(result.success)}
            )
        success = success and (bool(result.success) or not critical)
    return SuiteRun(rows, masks, failed, success, docs_path)


# --- GX context, batches, checkpoints and docs -------------------------------------------------------

_CONTEXTS: dict[Path, object] = {}


def _context():
    """The file-backed GX project under var/quality (one per var dir and process)."""
    import great_expectations as gx  # GX takes seconds to import: only when a suite runs or docs build
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root = _project_dir()
    if root not in _CONTEXTS:
        root.mkdir(parents=True, exist_ok=True)
        context = _file_context(gx, root)
        site = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
        bars = context.variables.progress_bars
        bars_off = bars is not None and all(not getattr(bars, key, True) for key in PROGRESS_BARS)
        if (context.variables.data_docs_sites or {}).get(SITE) != site or not bars_off:
            context.variables.data_docs_sites = {SITE: site}
            context.variables.progress_bars = ProgressBarsConfig(**PROGRESS_BARS)
            context.variables.save()
        _CONTEXTS[root] = context
    return _CONTEXTS[root]


def _file_context(gx, root: Path):
    """The GX project at `root`. GX writes its great_expectations.yml in place, so a run killed
    while writing it leaves a file GX cannot read; everything in it is derived here (the pandas
    data source, the docs site), so it is set aside and the project configured afresh."""
    try:
        return gx.get_context(mode="file", project_root_dir=str(root))
    except Exception as exc:  # GX raises KeyError, InvalidDataContextConfigError … for a torn file
        config = root / "gx" / "great_expectations.yml"
        if not config.exists():
            raise
        broken = config.with_name(f"{config.name}.broken-{os.getpid()}")
        log.warning(
            "GX project config %s is unreadable (%s: %s), likely torn by a killed run; set aside "
            "as %s and configured afresh",
            config,
            type(exc).__name__,
            exc,
            broken.name,
        )
        os.replace(config, broken)
        return gx.get_context(mode="file", project_root_dir=str(root))


def _batch_definition(resource):
    try:
        source = _context().data_sources.get(DATASOURCE)
    except (LookupError, KeyError, ValueError):
        source = _context().data_sources.add_pandas(DATASOURCE)
    try:
        asset = source.get_asset(resource.id)
    except (LookupError, KeyError, ValueError):
        asset = source.add_dataframe_asset(resource.id)
    try:
        return asset.get_batch_definition("load")
    except (LookupError, KeyError, ValueError):
        return asset.add_batch_definition_whole_dataframe("load")


def _batch(resource, frame: pd.DataFrame):
    return _batch_definition(resource).get_batch(batch_parameters={"dataframe": frame})


def _forget_batches() -> None:
    """Drop the batches GX's pandas engine keeps after a validation, with their metrics. It keeps
    each batch id's frame (one per resource) for the life of the process, and the Data Docs build
    validates every noted run in one process: ~73 MB more per 200 k-row resource, 4.7 GB at full
    scale. No public call clears them; the engine is the data source's cached one. A run that failed
    before its first batch may have no data source yet: nothing to drop, and its own error stands."""
    context = _CONTEXTS.get(_project_dir())
    try:
        source = context.data_sources.get(DATASOURCE) if context is not None else None
    except (LookupError, KeyError, ValueError):  # failed before its first batch was made
        source = None
    if source is None:
        return
    engine = source.get_execution_engine()
    engine.batch_manager.reset_batch_cache()
    engine.batch_manager.batch_data_cache.clear()
    engine._metric_cache.clear()


def _validate_with_docs(
    resource, suite, frame: pd.DataFrame, run_name: str | None, run_time: datetime | None, build: bool, markers=None
):
    """Validate in memory, then store a copy without PII values (quality.docs_privacy) and render
    its page (unless not `build`): GX's Checkpoint would store the clear samples before any action could mask them."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = _context()
    run_id = RunIdentifier(run_name=run_name, run_time=run_time)  # without run_time GX stamps now
    with _docs_lock():
        suite = context.suites.add_or_update(suite)
        batch = _batch(resource, frame)
        results = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        results.meta["run_id"] = run_id
        results.meta["validation_time"] = run_id.run_time
        if markers:
            results.meta["batch_markers"] = dict(markers)
        suite_id = ExpectationSuiteIdentifier(name=suite.name)
        identifier = ValidationResultIdentifier(
            expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=batch.id
        )
        context.validation_results_store.set(identifier, docs_privacy.redacted(results, derive.pii_columns(resource)))
        if not build:
            return results, _relative_page(context, identifier, only_if_exists=False), (identifier, suite_id)
        context.build_data_docs(site_names=[SITE], resource_identifiers=[identifier, suite_id])
        docs_assets.localise(docs_dir())
    return results, _relative_page(context, identifier), ()


def build_pages(runs: Iterable[SuiteRun]) -> int:
    """Render the pages of results stored with `build=False` (and the index) in one Data Docs build;
    returns how many results it rendered. One build per DAG run instead of one per quality task."""
    runs = list(runs)
    identifiers = list(dict.fromkeys(i for run in runs for i in run.unbuilt))
    if not identifiers:
        return 0
    context = _context()
    with _docs_lock():
        context.build_data_docs(site_names=[SITE], resource_identifiers=identifiers)
        docs_assets.localise(docs_dir())
    return sum(1 for run in runs if run.unbuilt)


def _relative_page(context, identifier, *, only_if_exists: bool = True) -> str | None:
    urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=SITE, only_if_exists=only_if_exists)
    url = urls[0].get("site_url") if urls else None
    if not url:
        return None
    path = Path(unquote(urlparse(url).path))
    try:
        return path.relative_to(docs_dir()).as_posix()
    except ValueError:
        return None


def suite_docs_path(resource_id: str) -> str | None:
    """The resource's suite page relative to docs_dir(), once docs were built for it."""
    page = docs_dir() / "expectations" / Path(*suite_name(resource_id).split(".")).with_suffix(".html")
    return page.relative_to(docs_dir()).as_posix() if page.exists() else None


def build_docs(pii_by_resource: Mapping[str, Mapping[str, str]] | None = None) -> int:
    """Rebuild the whole Data Docs site from the stored suites and results; returns how many results
    were re-redacted first (results stored before masking existed are cleaned here, by the PII
    columns of `pii_by_resource` (resource id → column → kind) and by shape)."""
    context = _context()
    store = context.validation_results_store
    cleaned = 0
    with _docs_lock():
        for key in store.list_keys():
            resource_id = key.expectation_suite_identifier.name.removeprefix("hub.")
            stored = store.get(key)
            safe = docs_privacy.redacted(stored, (pii_by_resource or {}).get(resource_id, {}))
            if safe.to_json_dict() != stored.to_json_dict():
                store.set(key, safe)
                cleaned += 1
        context.build_data_docs(site_names=[SITE])
        docs_assets.localise(docs_dir())
    return cleaned


@contextlib.contextmanager
def _docs_lock() -> Iterator[None]:
    # Airflow tasks of several resources may validate at once; GX rewrites index.html on each.
    with exclusive_lock(docs_dir().parent / ".docs.lock"):
        yield
