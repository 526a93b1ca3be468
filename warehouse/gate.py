"""The quality gate between landing and staging: the warehouse side of it.

One `check(resource_id)`:
1. takes the landed files without a verdict (and drops verdicts whose landed file a crashed
   landing deleted);
2. reads the history the resource's row-set checks need: the earlier landed rows (every file
   already judged, as landed) of the meters/households in this batch;
3. asks the judge (quality.judge, a pure function) for the verdict on those rows;
4. writes per landed file its verdict into the lake's gate zones (warehouse.lake): rows failing a
   critical expectation → `_quarantine` (as landed, with `_failed_rules`), every flagged or repaired
   row → `_findings`, the rest (repaired) → `_passed`, which is all staging ever merges;
5. keeps `quality.completed` in the outbox (hub.outbox) and sends it: pass rate, failed rules with row counts, the critical rules
   broken beyond the resource's threshold (these drop it out of coverage), repairs, Data Docs page.

History is what was *landed* before, never what staging holds: staging depends on how far an
interrupted run got, the landed files do not. So a range judged again after a crash (whatever was
merged meanwhile) gets the verdict an uninterrupted run gives it.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from catalog.coverage import DEFAULT_QUALITY_THRESHOLD
from catalog.derive import quoted
from hub import clock, outbox
from hub.events import QualityCompleted
from hub.files import LockHeld, exclusive_lock
from quality.judge import (
    HistoryNeed,
    Verdict,
    batch_columns,
    batch_masks,
    document,
    history_needs,
    judge,
    key_strings,
    rule_outcomes,
)
from quality.plan import Check
from warehouse import gate_docs, lake
from warehouse.errors import WarehouseError

log = logging.getLogger(__name__)

SCHEMA_CHECK = "schema"  # records landing could not decode or cast (in the DLQ), as a critical rule


@dataclass
class GateResult:
    """What one gate run judged and decided (JSON-able through `to_dict`, for Airflow XComs)."""

    resource: str
    run_id: str
    files: list[str] = field(default_factory=list)  # landed files judged, relative to the lake
    rows: int = 0  # records judged: landed upserts and deletes, plus the load's DLQ records
    passed_rows: int = 0
    quarantined_rows: int = 0
    dlq_rows: int = 0
    pass_rate: float | None = None
    failed_rules: list[dict] = field(default_factory=list)  # {name, critical, failed_rows, success}
    failed_critical: list[str] = field(default_factory=list)
    repairs: dict[str, int] = field(default_factory=dict)
    docs_path: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def check(
    resource_id: str,
    landed: Mapping | None = None,
    *,
    catalogue=None,
    docs: bool | Literal["later"] = True,
    publish: bool = True,
    producer=None,
) -> GateResult:
    """Judge the resource's landed files that have no verdict yet; `landed` (the load's
    LandingResult dict) adds its DLQ records and landing repairs to the figures. `docs`: build the
    run's Data Docs page now (True), not at all (False), or note it for `gate_docs.build` ("later")."""
    resource = lake.resolve_resource(resource_id, catalogue)
    landed = dict(landed or {})
    with _gate_lock(resource):
        _drop_orphan_verdicts(resource)
        files = lake.list_files(resource)
        pending = [f.path for f in files if not _judged(resource, f.path)]
        result = GateResult(
            resource.id, _run_id(resource.id, pending, landed), dlq_rows=int(landed.get("dlq_rows") or 0)
        )
        result.repairs = {k: int(v) for k, v in (landed.get("repairs") or {}).items() if v}
        if pending:
            waiting = set(pending)
            judged_before = [f.path for f in files if f.path not in waiting]
            _judge_files(resource, pending, judged_before, result, docs=docs)
        result.rows += result.dlq_rows
        _finish_figures(resource, result)
        if publish and result.rows:
            outbox.keep(quality_event(result, landed.get("load_id")))
    if publish:
        outbox.flush(producer)
    return result


def _judge_files(
    resource, pending: list[Path], earlier: list[Path], result: GateResult, *, docs: bool | Literal["later"]
) -> None:
    """Judge the pending files one at a time (memory: one file and the batch-wide checks' columns).

    Checks that look across rows (one key twice, a meter's readings in order) are answered first
    over the whole batch from their columns alone; each file then gets the row-by-row checks and
    its slice of those masks, so the verdict is the one a judge of the whole batch at once gives."""
    shape = pa.unify_schemas([pq.read_schema(path) for path in pending], promote_options="default")
    wanted = set(batch_columns(resource, shape.names))
    needs = history_needs(resource, shape.names)
    wanted.update(need.group for need in needs)
    narrow_shape = pa.schema([f for f in shape if f.name in wanted])
    narrow = pa.concat_tables([conformed(_read(path, narrow_shape), narrow_shape) for path in pending])
    history = landed_history(earlier, needs, narrow)
    across = batch_masks(resource, narrow, history)
    del narrow
    tallies: dict[str, list[int]] = {}
    checks: dict[str, Check] = {}
    offset = 0
    for path in pending:
        raw = pq.read_table(path)
        table = conformed(raw, shape)
        rows = table.num_rows
        verdict = judge(
            resource,
            table,
            history,
            batch={name: mask[offset : offset + rows] for name, mask in across.items()},
            run_name=result.run_id,
            docs=False,
        )
        unchanged = _passes_as_landed(raw, shape, verdict)
        _write_verdict(resource, path, table, verdict, key_strings(resource, table), result.run_id, unchanged)
        result.rows += rows
        result.quarantined_rows += int(verdict.critical.sum())
        for name, count in verdict.repairs.items():
            result.repairs[name] = result.repairs.get(name, 0) + count
        for check in verdict.checks:
            checks[check.name] = check
            tally = tallies.setdefault(check.name, [0, 0])
            tally[0] += verdict.tallies[check.name][0]
            tally[1] += verdict.tallies[check.name][1]
        offset += rows
        del raw, table, verdict
    result.files = [lake.relative(p) for p in pending]
    result.passed_rows = result.rows - result.quarantined_rows
    result.failed_rules, result.failed_critical = rule_outcomes(
        resource, list(checks.values()), {name: (failed, considered) for name, (failed, considered) in tallies.items()}
    )
    if docs == "later":  # one Data Docs build per DAG run (warehouse.gate_docs)
        result.docs_path = gate_docs.defer(resource, result.run_id, pending, earlier)
    elif docs:  # the Data Docs page: Great Expectations runs the same suite over the whole batch
        batch = pa.concat_tables([conformed(pq.read_table(path), shape) for path in pending])
        result.docs_path = document(resource, batch, history, run_name=result.run_id)


def _read(path: Path, shape: pa.Schema) -> pa.Table:
    present = set(pq.read_schema(path).names)
    return pq.read_table(path, columns=[name for name in shape.names if name in present])


def conformed(table: pa.Table, shape: pa.Schema) -> pa.Table:
    """`table` with the batch's columns in the batch's order; a column a file lacks is null there."""
    columns = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in shape
    ]
    return pa.Table.from_arrays(columns, schema=shape)


def landed_history(earlier: list[Path], needs: list[HistoryNeed], batch: pa.Table) -> dict[str, pa.Table | None]:
    """Per row-set check, the distinct upserts of `earlier` landed files in the batch's groups."""
    if not needs:
        return {}
    if not earlier:
        return {need.check: None for need in needs}
    connection = duckdb.connect()
    source = "read_parquet($files, union_by_name = true, hive_partitioning = false)"
    files = {"files": [str(path) for path in earlier]}
    try:
        present = {name for name, *_ in connection.execute(f"DESCRIBE SELECT * FROM {source}", files).fetchall()}
        history: dict[str, pa.Table | None] = {}
        for need in needs:
            if not {need.group, *need.columns} <= present:
                history[need.check] = None
                continue
            connection.register("_hub_groups", pa.table({"g": pc.unique(batch.column(need.group))}))
            columns = ", ".join(quoted(column) for column in need.columns)
            history[need.check] = connection.execute(
                f"SELECT DISTINCT {columns} FROM {source} WHERE _op = 'upsert' "
                f"AND {quoted(need.group)} IN (SELECT g FROM _hub_groups)",
                files,
            ).to_arrow_table()
            connection.unregister("_hub_groups")
    finally:
        connection.close()
    return history


def _passes_as_landed(raw: pa.Table, shape: pa.Schema, verdict: Verdict) -> bool:
    """Whether the passed rows are the landed file exactly: nothing quarantined, nothing repaired,
    and the file already has the batch's shape (the usual clean load)."""
    return (
        not verdict.critical.any()
        and not any(mask.any() for mask in verdict.repaired_notes.values())
        and raw.schema.equals(shape)
        and verdict.repaired.schema.equals(shape)
    )


def _write_verdict(
    resource, landed_path: Path, landed: pa.Table, verdict: Verdict, keys: pa.Array, run_id: str, unchanged: bool
) -> None:
    """Quarantine and findings first, passed last: the passed file is the verdict (see `_judged`).
    When the passed rows are the landed file unchanged, the passed file is a hard link of it (the
    same mtime, so `_judged` holds), which saves rewriting the whole load."""
    lake.write_parquet_atomic(verdict.quarantined(landed, run_id), lake.zone_path(resource, "_quarantine", landed_path))
    lake.write_parquet_atomic(verdict.findings(keys, run_id), lake.zone_path(resource, "_findings", landed_path))
    passed = lake.zone_path(resource, "_passed", landed_path)
    if unchanged:
        lake.link_atomic(landed_path, passed)
    else:
        lake.write_parquet_atomic(verdict.passed(), passed)


# --- figures and the event ------------------------------------------------------------------------


def _finish_figures(resource, result: GateResult) -> None:
    """Pass rate over every record of the load; undecodable records count as the critical rule `schema`."""
    if not result.rows:
        return
    result.pass_rate = result.passed_rows / result.rows
    if result.dlq_rows:
        tolerated = 1 - _threshold(resource)
        broken = result.dlq_rows / result.rows > tolerated
        result.failed_rules.insert(
            0, {"name": SCHEMA_CHECK, "critical": True, "failed_rows": result.dlq_rows, "success": not broken}
        )
        if broken:
            result.failed_critical = sorted({*result.failed_critical, SCHEMA_CHECK})


def _threshold(resource) -> float:
    threshold = getattr(resource, "quality_threshold", None)
    return DEFAULT_QUALITY_THRESHOLD if threshold is None else float(threshold)


def quality_event(result: GateResult, load_id: str | None = None) -> dict:
    """quality.completed for one gate run (the catalogue turns it into a quality run and a status).
    Its id is stable for the run, so however often it is sent the catalogue applies it once."""
    return QualityCompleted.build(
        result.resource,
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"hub-quality:{result.run_id}")),
        run_id=result.run_id,
        load_id=load_id,
        suite=f"hub.{result.resource}",
        ran_at=clock.now().isoformat(),
        rows_checked=result.rows,
        rows_valid=result.passed_rows,
        pass_rate=result.pass_rate,
        quarantined_rows=result.quarantined_rows,
        dlq_rows=result.dlq_rows,
        failed_rules=result.failed_rules,
        failed_critical=result.failed_critical,
        failed_warning=sorted(r["name"] for r in result.failed_rules if not r["critical"]),
        repairs=result.repairs,
        docs=result.docs_path,
    ).wire()


# --- verdict bookkeeping --------------------------------------------------------------------------


def _run_id(resource_id: str, pending: list, landed: Mapping) -> str:
    # Stable for the same files (and load): a gate run repeated after a crash publishes the same event id.
    marks = [f"{lake.relative(p)}@{p.stat().st_mtime_ns}" for p in pending] + [str(landed.get("load_id") or "")]
    return f"{resource_id}-{uuid.uuid5(uuid.NAMESPACE_URL, '|'.join(marks)).hex[:12]}"


def _judged(resource, landed_path: Path) -> bool:
    """A landed file has a verdict when its passed file exists and is not older than it."""
    passed = lake.zone_path(resource, "_passed", landed_path)
    return passed.exists() and passed.stat().st_mtime_ns >= landed_path.stat().st_mtime_ns


def _drop_orphan_verdicts(resource) -> None:
    """Verdicts on files a crashed landing removed (their range is landed again under new names)."""
    landed = {(f.path.parent.name, f.path.name) for f in lake.list_files(resource)}
    for zone in lake.ZONES:
        for verdict in lake.list_files(resource, zone=zone):
            if (verdict.path.parent.name, verdict.path.name) not in landed:
                log.info("%s: dropping the verdict %s on a file landing removed", resource.id, verdict.path)
                verdict.path.unlink(missing_ok=True)


@contextlib.contextmanager
def _gate_lock(resource) -> Iterator[None]:
    lock = lake.zone_dir(resource, "_passed") / ".lock"
    try:
        with exclusive_lock(lock, blocking=False):
            yield
    except LockHeld:
        raise WarehouseError(
            f"another quality gate of {resource.id} is running (lock {lock}); wait for it and retry", kind="retriable"
        ) from None
