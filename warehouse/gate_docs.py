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
import pyarrow as pa
import pyarrow.parquet as pq

from hub import clock
from hub.files import exclusive_lock, write_atomic
from hub.settings import get_settings
from quality.judge import docs_page
from warehouse import lake
from warehouse.errors import UnknownResource, WarehouseError

log = logging.getLogger(__name__)


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
    batch, history = _batch_and_history(resource, files, [lake.absolute(f) for f in job["earlier"]])
    run = document_run(
        resource, batch, history, run_name=job["run_id"], run_time=datetime.fromisoformat(job["run_time"]), build=False
    )
    if run.docs_path != job["page"]:  # the event already named job["page"]: a different page is a broken link
        raise WarehouseError(
            f"Data Docs put the page of {job['run_id']} at {run.docs_path}, not at {job['page']} as announced; "
            "GX's page layout changed: update quality.judge.docs_page",
            kind="fatal",
        )
    return run


def _batch_and_history(resource, files: list[Path], earlier: list[Path]) -> tuple[pa.Table, dict]:
    """The gate run's batch as the gate saw it, and the landed history its row-set checks need."""
    from quality.judge import history_needs
    from warehouse.gate import conformed, landed_history

    shape = pa.unify_schemas([pq.read_schema(path) for path in files], promote_options="default")
    batch = pa.concat_tables([conformed(pq.read_table(path), shape) for path in files])
    history = landed_history([path for path in earlier if path.exists()], history_needs(resource, shape.names), batch)
    return batch, history
