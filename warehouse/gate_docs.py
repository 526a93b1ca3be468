"""Data Docs once per build: the quality gate notes what to document, one task documents it all.

Building a run's Data Docs page means loading Great Expectations (seconds), running the resource's
suite over the batch, storing the result and rendering the site: done in every quality task, that
was the largest fixed cost of a task. So a gate run with `docs="later"` only writes a small job
(`defer`): the resource, the gate run, its landed files and those judged before it, and the page
the result will have (its path is fixed by the run's name and time, so the quality.completed event
can carry it now). `build` then (the quality_docs DAG, on the Asset every quality task updates)
validates every waiting job in one process and renders all their pages in one Data Docs build. The
verdict never waits on any of this.

A job whose landed files a crashed landing removed is dropped (that range is judged again under new
names, with a job of its own); a build that dies leaves its jobs, and the next one redoes them (the
same run name and time give the same result key and page).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from catalog import derive
from hub import clock
from hub.files import exclusive_lock, write_atomic
from hub.memory import return_freed_memory
from hub.settings import get_settings
from quality.judge import docs_page
from warehouse import lake
from warehouse.errors import UnknownResource, WarehouseError

log = logging.getLogger(__name__)
DOCS_ROWS = 500_000  # rows of one batch a page is validated on; beyond, a labelled sample (≈ 0.4 GB of GX work)


def pending_dir() -> Path:
    return get_settings().var_dir / "quality" / "docs_pending"


def defer(resource, run_id: str, files: list[Path], earlier: list[Path]) -> str:
    """Note the gate run `run_id` (over `files`, `earlier` judged before) for `build`; returns its page."""
    run_time = clock.now()
    page = docs_page(resource.id, run_id, run_time)
    job = {
        "resource": resource.id,
        "run_id": run_id,
        "run_time": run_time.isoformat(),
        "files": [lake.relative(p) for p in files],
        "earlier": [lake.relative(p) for p in earlier],
        "page": page,
    }
    write_atomic(pending_dir() / f"{run_id}.json", orjson.dumps(job))
    return page


def pending() -> list[Path]:
    return sorted(pending_dir().glob("*.json"))


def build(catalogue=None) -> dict:
    """Validate every waiting job and render all their pages in one Data Docs build."""
    if not pending():  # GX takes seconds to load: not for a build with nothing to do
        return {"pages": 0, "dropped": []}
    from quality import suites  # GX: loaded here, once per build, not by each quality task

    folder = pending_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(folder / ".lock"):  # two DAG runs finishing at once: one builds, the other waits
        runs, done, dropped = [], [], []
        for path in pending():
            job = orjson.loads(path.read_bytes())
            run = _document(job, catalogue)
            return_freed_memory()  # the job's batch and GX's work on it are gone
            if run is None:
                dropped.append(job["run_id"])
            else:
                runs.append(run)
            done.append(path)
        suites.build_pages(runs)
        for path in done:  # only after the build: a build that dies leaves its jobs for the next one
            path.unlink(missing_ok=True)
    return {"pages": len(runs), "dropped": dropped}


def _document(job: dict, catalogue):
    """The suite run of one job (result stored, page not rendered), or None if it cannot be documented."""
    from quality.judge import document_run

    try:
        resource = lake.resolve_resource(job["resource"], catalogue)
    except UnknownResource:
        log.warning("Data Docs: %s is no longer in the catalogue; dropping run %s", job["resource"], job["run_id"])
        return None
    files = [lake.absolute(f) for f in job["files"]]
    if not all(path.exists() for path in files):
        log.warning("Data Docs: the landed files of %s were replaced since; dropping its page", job["run_id"])
        return None
    batch, history, label = _batch_and_history(resource, files, [lake.absolute(f) for f in job["earlier"]])
    run_time = datetime.fromisoformat(job["run_time"])
    run = document_run(resource, batch, history, run_name=job["run_id"], run_time=run_time, build=False, markers=label)
    if run.docs_path != job["page"]:  # the event already named job["page"]: a different page is a broken link
        raise WarehouseError(
            f"Data Docs put the page of {job['run_id']} at {run.docs_path}, not at {job['page']} as announced; "
            "GX's page layout changed: update quality.judge.docs_page",
            kind="fatal",
        )
    return run


def _batch_and_history(resource, files: list[Path], earlier: list[Path]) -> tuple[pa.Table, dict, dict]:
    """The gate run's batch as the gate saw it, the landed history its row-set checks need, and the
    sample's label. A batch beyond DOCS_ROWS is documented on a sample: the rows whose group of the
    row-set checks (else first key) falls in one of `every` hash buckets, read a file at a time, so
    the build stays in bounded memory; groups and keys stay whole, so their checks still see each
    subject entire. The gate's verdict, in the quality event and the catalogue, covers every row."""
    from quality.judge import history_needs
    from warehouse.gate import conformed, landed_history

    shape = pa.unify_schemas([pq.read_schema(path) for path in files], promote_options="default")
    rows = sum(pq.ParquetFile(path).metadata.num_rows for path in files)
    needs = history_needs(resource, shape.names)
    every = -(-rows // DOCS_ROWS)
    column = sample_column(resource, shape.names, needs)
    parts = [conformed(_bucket(pq.read_table(path), column, every), shape) for path in files]
    batch = pa.concat_tables(parts)
    history = landed_history([path for path in earlier if path.exists()], needs, batch)
    label = {} if every == 1 else {"hub_sample": _label(len(batch), rows, column, every)}
    return batch, history, label


def sample_column(resource, columns: list[str], needs) -> str:
    """What a sample keeps whole: the group of the row-set checks, else the first key column."""
    keys = [name for name in derive.key_columns(resource) if name in columns]
    return needs[0].group if needs else (keys[0] if keys else "_offset")


def _bucket(table: pa.Table, column: str, every: int) -> pa.Table:
    if every == 1:
        return table
    values = table.column(column).to_numpy(zero_copy_only=False)
    return table.filter(pa.array(pd.util.hash_array(values.astype(object)) % every == 0))


def _label(kept: int, rows: int, column: str, every: int) -> str:
    return (
        f"a sample: {kept:,} of {rows:,} rows, those whose {column} falls in 1 of {every} hash buckets "
        "(each value whole); the gate judged every row"
    )
