"""The quality gate between landing and staging: judge every landed file of a resource not judged yet.

One `check(resource_id)`:
1. takes the landed files without a verdict (and drops verdicts whose landed file a crashed
   landing deleted);
2. repairs what a stated rule can repair (quality.plan.plan_repairs: full-width codes, `x` → `X`,
   15-digit IDs → 18), each repair counted and noted;
3. runs the resource's Great Expectations suite (quality.suites, generated from the catalogue) on
   the upserts; row-set checks see the staged rows of the same meters/households as history;
4. writes per landed file its verdict into the lake's gate zones (warehouse.lake): rows failing a
   critical expectation → `_quarantine` (as landed, with `_failed_rules`), every flagged or repaired
   row → `_findings`, the rest (repaired) → `_passed`, which is all staging ever merges;
5. publishes `quality.completed`: pass rate, failed rules with row counts, the critical rules
   broken beyond the resource's threshold (these drop it out of coverage), repairs, Data Docs page.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from catalog import derive
from catalog.coverage import DEFAULT_QUALITY_THRESHOLD
from hub.events import make_event, publish_events
from quality.errors import QualityError
from quality.normalise import RepairCounts, get_normaliser
from quality.plan import ROW_CHECKS, Check, plan_checks, plan_repairs
from warehouse import lake

log = logging.getLogger(__name__)

SCHEMA_CHECK = "schema"   # records landing could not decode or cast (in the DLQ), as a critical rule
FINDINGS_SCHEMA = pa.schema([
    ("key", pa.string()), ("check", pa.string()), ("outcome", pa.string()),
    ("_partition", pa.int32()), ("_offset", pa.int64()), ("gate_run", pa.string()),
])


@dataclass
class GateResult:
    """What one gate run judged and decided (JSON-able through `to_dict`, for Airflow XComs)."""

    resource: str
    run_id: str
    files: list[str] = field(default_factory=list)   # landed files judged, relative to the lake
    rows: int = 0                    # records judged: landed upserts and deletes, plus the load's DLQ records
    passed_rows: int = 0
    quarantined_rows: int = 0
    dlq_rows: int = 0
    pass_rate: float | None = None
    failed_rules: list[dict] = field(default_factory=list)   # {name, critical, failed_rows, success}
    failed_critical: list[str] = field(default_factory=list)
    repairs: dict[str, int] = field(default_factory=dict)
    docs_path: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def check(resource_id: str, landed: Mapping | None = None, *, catalogue=None, docs: bool = True,
          publish: bool = True, producer=None) -> GateResult:
    """Judge the resource's landed files that have no verdict yet; `landed` (the load's
    LandingResult dict) adds its DLQ records and landing repairs to the figures."""
    resource = lake.resolve_resource(resource_id, catalogue)
    landed = dict(landed or {})
    with _gate_lock(resource):
        _drop_orphan_verdicts(resource)
        pending = [f.path for f in lake.list_files(resource) if not _judged(resource, f.path)]
        result = GateResult(resource.id, _run_id(resource.id, pending, landed), dlq_rows=int(landed.get("dlq_rows") or 0))
        result.repairs = {k: int(v) for k, v in (landed.get("repairs") or {}).items() if v}
        if pending:
            _judge(resource, pending, result, docs=docs)
        result.rows += result.dlq_rows
        _finish_figures(resource, result)
        if publish and result.rows:
            _keep_event(resource, quality_event(result, landed.get("load_id")))
    if publish:
        _publish_kept_events(resource, producer)
    return result


# --- events kept until published ------------------------------------------------------------------
# A run's event is written next to its verdicts before it is sent, and removed once Kafka has it:
# if sending fails (broker down, task killed), the next gate run of the resource sends it first.
# Its id is stable, so the catalogue applies it once however often it is sent.

def _events_dir(resource):
    return lake.lake_dir() / "_quality_events" / resource.id


def _keep_event(resource, event: dict) -> None:
    folder = _events_dir(resource)
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".{event['id']}.tmp"
    temp.write_text(json.dumps(event, ensure_ascii=False), encoding="utf-8")
    temp.replace(folder / f"{event['id']}.json")


def _publish_kept_events(resource, producer=None) -> int:
    kept = sorted(_events_dir(resource).glob("*.json"), key=lambda path: path.stat().st_mtime_ns)
    if kept:
        publish_events([json.loads(path.read_text(encoding="utf-8")) for path in kept], producer=producer)
        for path in kept:
            path.unlink(missing_ok=True)
    return len(kept)


# --- judging ------------------------------------------------------------------------------------

def _judge(resource, pending: list, result: GateResult, *, docs: bool) -> None:
    from quality import suites  # GX is heavy to import; only a run with files to judge pays for it

    tables = [pq.read_table(path) for path in pending]
    landed_rows = pa.concat_tables(tables, promote_options="default")
    upserts = np.asarray(pc.equal(landed_rows.column("_op"), "upsert").to_numpy(zero_copy_only=False), dtype=bool)
    checks = [c for c in plan_checks(resource) if all(col in landed_rows.column_names for col in c.columns)]
    counts = RepairCounts()
    repaired_rows, repaired_notes = _repair(resource, landed_rows, counts)
    judged = repaired_rows.filter(pa.array(upserts))
    run = suites.validate(resource, judged.to_pandas(), table=judged, history=_history(resource, checks, judged),
                          run_name=result.run_id, docs=docs)
    failed = _spread(run.masks, upserts)
    critical = np.zeros(landed_rows.num_rows, dtype=bool)
    for c in checks:
        if c.severity == "critical":
            critical |= failed[c.name]
    keys = _key_strings(resource, landed_rows)
    offset = 0
    for path, table in zip(pending, tables):
        rows = slice(offset, offset + table.num_rows)
        offset += table.num_rows
        _write_verdict(resource, path, landed_rows.slice(rows.start, table.num_rows),
                       repaired_rows.slice(rows.start, table.num_rows), critical[rows],
                       {c: m[rows] for c, m in failed.items()}, checks, keys[rows],
                       {n: m[rows] for n, m in repaired_notes.items()}, result.run_id)
    result.files = [lake.relative(p) for p in pending]
    result.rows = landed_rows.num_rows
    result.quarantined_rows = int(critical.sum())
    result.passed_rows = result.rows - result.quarantined_rows
    for name, count in counts.as_dict().items():
        result.repairs[name] = result.repairs.get(name, 0) + count
    result.failed_rules = sorted(run.failed_checks, key=lambda rule: (not rule["critical"], rule["name"]))
    result.failed_critical = sorted(rule["name"] for rule in run.failed_checks if rule["critical"] and not rule["success"])
    result.docs_path = run.docs_path


def _repair(resource, table: pa.Table, counts: RepairCounts) -> tuple[pa.Table, dict[str, np.ndarray]]:
    """The table with each planned normaliser applied; per "column.normaliser" the rows it changed."""
    notes: dict[str, np.ndarray] = {}
    for repair in plan_repairs(resource):
        if repair.column not in table.column_names:
            continue
        index = table.column_names.index(repair.column)
        values = table.column(index).combine_chunks()
        for name in repair.normalisers:
            new_values, count = get_normaliser(name).vectorised(values)
            new_values = pa.array(new_values, type=values.type) if not isinstance(new_values, pa.Array) else new_values
            if count:
                changed = pc.fill_null(pc.not_equal(values, new_values), False).to_numpy(zero_copy_only=False)
                notes[f"{repair.column}.{name}"] = changed
                counts.add(name, int(changed.sum()))
            values = new_values
        table = table.set_column(index, table.field(index), values)
    return table, notes


def _spread(masks: Mapping[str, np.ndarray], upserts: np.ndarray) -> dict[str, np.ndarray]:
    """Masks over the judged upserts → masks over every landed row (deletes never fail)."""
    spread = {}
    for name, mask in masks.items():
        full = np.zeros(len(upserts), dtype=bool)
        full[upserts] = mask
        spread[name] = full
    return spread


def _history(resource, checks: list[Check], judged: pa.Table) -> dict[str, pa.Table | None]:
    """For each row-set check with a group role: the staged rows of the groups in this batch."""
    from warehouse.store import connect_reader, table_exists

    wanted = [c for c in checks if c.kind in ROW_CHECKS and ROW_CHECKS[c.kind].group]
    if not wanted:
        return {}
    history: dict[str, pa.Table | None] = {}
    connection = connect_reader()
    try:
        staged = table_exists(connection, "staging", resource.id)
        for c in wanted:
            group_column = c.params["roles"][ROW_CHECKS[c.kind].group]
            if not staged:
                history[c.name] = None
                continue
            connection.register("_hub_groups", pa.table({"g": pc.unique(judged.column(group_column))}))
            columns = ", ".join(derive.quoted(col) for col in c.columns)
            history[c.name] = connection.execute(
                f"SELECT {columns} FROM staging.{derive.quoted(resource.id)} "
                f"WHERE {derive.quoted(group_column)} IN (SELECT g FROM _hub_groups)").to_arrow_table()
            connection.unregister("_hub_groups")
    finally:
        connection.close()
    return history


def _key_strings(resource, table: pa.Table) -> pa.Array:
    """Each row's business key as text, key values joined by "|" (as the catalogue's keys read)."""
    keys = [k for k in derive.key_columns(resource) if k in table.column_names]
    if not keys:
        return pa.array([f"{p}:{o}" for p, o in zip(table.column("_partition").to_pylist(), table.column("_offset").to_pylist())])
    parts = [pc.fill_null(pc.cast(table.column(k), pa.string()), "") for k in keys]
    return pc.binary_join_element_wise(*parts, "|").combine_chunks() if len(parts) > 1 else parts[0].combine_chunks()


def _write_verdict(resource, landed_path, landed: pa.Table, repaired: pa.Table, critical: np.ndarray,
                   failed: Mapping[str, np.ndarray], checks: list[Check], keys: pa.Array,
                   repaired_notes: Mapping[str, np.ndarray], run_id: str) -> None:
    """Quarantine and findings first, passed last: the passed file is the verdict (see `_judged`)."""
    names = [[c.name for c in checks if c.severity == "critical" and failed[c.name][row]] for row in np.flatnonzero(critical)]
    quarantined = landed.filter(pa.array(critical))
    quarantined = quarantined.append_column("_failed_rules", pa.array(names, type=pa.list_(pa.string())))
    quarantined = quarantined.append_column("_gate_run", pa.array([run_id] * quarantined.num_rows, type=pa.string()))
    lake.write_parquet_atomic(quarantined, lake.zone_path(resource, "_quarantine", landed_path))
    lake.write_parquet_atomic(_findings(landed, failed, checks, keys, repaired_notes, run_id),
                              lake.zone_path(resource, "_findings", landed_path))
    lake.write_parquet_atomic(repaired.filter(pa.array(~critical)), lake.zone_path(resource, "_passed", landed_path))


def _findings(landed: pa.Table, failed: Mapping[str, np.ndarray], checks: list[Check], keys: pa.Array,
              repaired_notes: Mapping[str, np.ndarray], run_id: str) -> pa.Table:
    """One row per (record, check) flagged or quarantined, and per (record, repair) made."""
    outcomes = {"critical": "quarantined", "warning": "flagged"}
    pieces = [(c.name, outcomes[c.severity], failed[c.name]) for c in checks]
    pieces += [(name, "repaired", mask) for name, mask in repaired_notes.items()]
    columns: dict[str, list] = {name: [] for name in FINDINGS_SCHEMA.names}
    partitions, offsets = landed.column("_partition").to_numpy(), landed.column("_offset").to_numpy()
    for name, outcome, mask in pieces:
        rows = np.flatnonzero(mask)
        if not len(rows):
            continue
        columns["key"].extend(keys.take(pa.array(rows)).to_pylist())
        columns["check"].extend([name] * len(rows))
        columns["outcome"].extend([outcome] * len(rows))
        columns["_partition"].extend(partitions[rows].tolist())
        columns["_offset"].extend(offsets[rows].tolist())
        columns["gate_run"].extend([run_id] * len(rows))
    return pa.table(columns, schema=FINDINGS_SCHEMA)


# --- figures and the event ------------------------------------------------------------------------

def _finish_figures(resource, result: GateResult) -> None:
    """Pass rate over every record of the load; undecodable records count as the critical rule `schema`."""
    if not result.rows:
        return
    valid = result.passed_rows
    result.pass_rate = valid / result.rows
    if result.dlq_rows:
        tolerated = 1 - _threshold(resource)
        broken = result.dlq_rows / result.rows > tolerated
        result.failed_rules.insert(0, {"name": SCHEMA_CHECK, "critical": True, "failed_rows": result.dlq_rows,
                                       "success": not broken})
        if broken:
            result.failed_critical = sorted({*result.failed_critical, SCHEMA_CHECK})


def _threshold(resource) -> float:
    threshold = getattr(resource, "quality_threshold", None)
    return DEFAULT_QUALITY_THRESHOLD if threshold is None else float(threshold)


def quality_event(result: GateResult, load_id: str | None = None) -> dict:
    """quality.completed for one gate run (the catalogue turns it into a quality run and a status)."""
    from hub.events import QualityCompleted

    return QualityCompleted.build(
        result.resource, id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"hub-quality:{result.run_id}")),
        run_id=result.run_id, load_id=load_id, suite=f"hub.{result.resource}",
        ran_at=datetime.now(timezone.utc).isoformat(),
        rows_checked=result.rows, rows_valid=result.passed_rows, pass_rate=result.pass_rate,
        quarantined_rows=result.quarantined_rows, dlq_rows=result.dlq_rows,
        failed_rules=result.failed_rules, failed_critical=result.failed_critical,
        failed_warning=sorted(r["name"] for r in result.failed_rules if not r["critical"]),
        repairs=result.repairs, docs=result.docs_path,
    ).wire()


# --- verdict bookkeeping --------------------------------------------------------------------------

def _run_id(resource_id: str, pending: list, landed: Mapping) -> str:
    # Stable for the same files (and load): a gate run repeated after a crash publishes the same event id.
    marks = [f"{lake.relative(p)}@{p.stat().st_mtime_ns}" for p in pending] + [str(landed.get("load_id") or "")]
    return f"{resource_id}-{uuid.uuid5(uuid.NAMESPACE_URL, '|'.join(marks)).hex[:12]}"


def _judged(resource, landed_path) -> bool:
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
    folder = lake.zone_dir(resource, "_passed")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise QualityError(f"another quality gate of {resource.id} is running (lock {folder / '.lock'}); "
                               "wait for it and retry", kind="retriable") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
