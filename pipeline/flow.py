"""The pipeline's steps as plain functions: what each Airflow task calls, and `hub flow …` by hand.

Only orchestration lives here — each step is one call into the package that owns the work
(connectors, warehouse, quality, catalog). Results are small JSON-able dicts (Airflow XComs).
DAG files import this module inside their tasks only; what they need at parse time is in
pipeline.layout.

Each step imports what it calls inside itself: every Airflow task is a fresh process (or a fresh
interpreter on a worker), and importing every step's packages (the report's matplotlib, the
service's FastAPI, the catalogue's SQLAlchemy models, GX) cost each task seconds. A land task now
loads Kafka, Arrow and the lake only (`python -X importtime -c "from pipeline import flow"`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, is_dataclass

from hub.errors import HubError
from pipeline import task_costs

log = logging.getLogger(__name__)


def _plain(result) -> dict:
    """A dataclass result as a JSON-able dict for XCom."""
    data = asdict(result) if is_dataclass(result) else dict(result)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


def connect(resource_id: str) -> dict:
    """Read what is new in the resource's source into Kafka; fails if the connector could not run.
    Notes its seconds for the next night's task weights (pipeline.task_costs)."""
    from connectors.runner import connect as run_connector  # per step: see the module's docstring

    started = time.perf_counter()
    reports = run_connector(resource_id, progress=False)
    failed = [r for r in reports if not r.ok]
    if failed:
        raise HubError(
            f"connector of {resource_id} failed: {failed[0].error}", kind=failed[0].error_kind or "retriable"
        )
    task_costs.note(resource_id, "connect", time.perf_counter() - started)
    return {"resource": resource_id, "passes": [_plain(r) for r in reports]}


def land(resource_id: str) -> dict:
    """Land the resource's raw topic up to its current end offsets as Parquet."""
    from warehouse.landing import land as land_topic  # per step: see the module's docstring

    return land_topic(resource_id).to_dict()


def quality_gate(resource_id: str, landed: dict, *, docs: bool | str = True) -> dict:
    """The quality gate: the resource's GX suite on what landed; failing rows quarantined, the rest
    passed to staging; publishes quality.completed (pass rate, failed rules, Data Docs page unless
    `docs` is False: `hub quality docs` renders the pages later; "later": the quality_docs DAG builds it)."""
    from warehouse.gate import check  # per step: see the module's docstring

    result = check(resource_id, landed, docs=docs)
    return {k: v for k, v in result.to_dict().items() if k != "files"}


def data_docs() -> dict:
    """Build the Data Docs pages every quality task since the last build noted (docs="later"), in one GX build."""
    from warehouse.gate_docs import build  # per step: see the module's docstring

    return build()


def stage(resource_id: str, landed: dict, checked: dict) -> dict:
    """Merge the gate's passed rows into staging.<resource> and tell the catalogue the landing completed."""
    from warehouse.events import publish_landing_event  # per step: see the module's docstring
    from warehouse.landing import LandingResult
    from warehouse.store import update_staging

    result = LandingResult.from_dict(landed)
    merged = update_staging(resource_id, result)
    publish_landing_event(result)
    return {
        "resource": resource_id,
        "merged_rows": merged,
        "pass_rate": checked.get("pass_rate"),
        "quarantined_rows": checked.get("quarantined_rows"),
    }


def load(resource_id: str, *, docs: bool | str = True) -> dict:
    """land → quality gate → stage of one resource, one step after the other (an ingest DAG's `load`
    task). A retry of the whole is safe: the gate judges every landed file without a verdict and
    staging merges every passed file not applied yet, whatever attempt landed them. Only the figures
    of an attempt that failed midway are not in the retry's (its dead letters stay counted in the DLQ).
    Returns each step's result and its seconds, and notes their sum for the next night's task weights
    (pipeline.task_costs). The catalogue is read once for the three steps
    (each read it again: ≈ 0.12 s a read on the seed catalogue, of ≈ 0.7 s for the three steps of a
    small resource)."""
    from catalog import reader

    with reader.held():
        loaded = _load(resource_id, docs)
    task_costs.note(resource_id, "load", sum(loaded["seconds"].values()))
    return loaded


def _load(resource_id: str, docs: bool | str) -> dict:
    seconds: dict[str, float] = {}
    landed = _timed(seconds, "land", land, resource_id)
    log.info("land: %s rows to the lake, %s to the DLQ (%.1f s)", landed["rows"], landed["dlq_rows"], seconds["land"])
    checked = _timed(seconds, "gate", quality_gate, resource_id, landed, docs=docs)
    log.info(
        "quality gate: pass rate %s, %s rows quarantined (%.1f s)",
        checked.get("pass_rate"),
        checked.get("quarantined_rows"),
        seconds["gate"],
    )
    staged = _timed(seconds, "stage", stage, resource_id, landed, checked)
    log.info("stage: %s staging rows changed (%.1f s)", staged["merged_rows"], seconds["stage"])
    return {"resource": resource_id, "landed": landed, "quality": checked, "staged": staged, "seconds": seconds}


def _timed(seconds: dict[str, float], step: str, function, *args, **kwargs):
    started = time.perf_counter()
    try:
        return function(*args, **kwargs)
    finally:
        seconds[step] = round(time.perf_counter() - started, 3)


def refresh_marts() -> list[str]:
    """Rebuild the mart.* views over what staging now holds (a mart without its resources is skipped),
    and the device-level figures the catalogue's coverage document reads (one catalogue read for both)."""
    from catalog import reader
    from warehouse.devices import refresh as refresh_device_figures  # per step: see the module's docstring
    from warehouse.marts import refresh_marts as refresh

    with reader.held():
        built = refresh()
        refresh_device_figures()
    return built


def sync_catalogue() -> dict:
    """Apply every event waiting on hub.events to the catalogue database."""
    from catalog.events import consume  # per step: see the module's docstring

    return {"applied": str(consume(follow=False))}


def snapshot() -> dict:
    """Today's coverage snapshot (taken once a day; the only writer of snapshots) and its headline figures."""
    from catalog.snapshots import snapshot_today  # per step: see the module's docstring
    from pipeline import alerts
    from warehouse.conflicts import refresh as check_source_conflicts
    from warehouse.devices import refresh as refresh_device_figures

    refresh_device_figures()  # the day's snapshot carries the device figures of this moment
    check_source_conflicts()  # and the day's 一数一源 check (once a day: here, not per staging update)
    document = snapshot_today()
    alerted = alerts.freshness_breached(document)
    figures = {k: document[k] for k in ("as_of", "target", "overall", "weighted", "projection")}
    return {**figures, "freshness_alert": alerted}


def render_report() -> dict:
    """The leadership report (HTML, PDF, XLSX) for today's snapshot, mailed to HUB_REPORT_TO when set
    (coverage_daily's schedule is the report's); returns where the files are and who got them."""
    from catalog.report.deliver import send_report  # per step: see the module's docstring
    from catalog.report.render import render_report as render
    from hub.settings import get_settings

    files = render()
    recipients = get_settings().report_to
    sent_to = send_report(files.folder, recipients) if recipients else []
    return {**files.as_json(), "sent_to": sent_to}
