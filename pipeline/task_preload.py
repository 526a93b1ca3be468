"""What the ingest tasks import, loaded once in Airflow's scheduler so that every task starts with it.

Airflow's LocalExecutor forks its workers from the scheduler, and each worker forks every task (a
bare `os.fork` on Linux): a module the scheduler has imported is in every task at no cost. Each
step of pipeline.flow imports its own modules (pyarrow, DuckDB, confluent-kafka, SQLAlchemy and the
hub's packages): about 1–2 CPU s in every task before it does any work (bench/task_overhead.py).
Loaded here once, they are not loaded again per task. Great Expectations is not preloaded: only
quality_docs uses it, once per build.

Importing these opens no file, connection or thread (a forked child must not share one).
"""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger(__name__)

#: The modules pipeline.flow's steps import inside themselves (connect, land, quality, stage,
#: refresh_marts, sync_catalogue).
STEP_MODULES = (
    "connectors.runner",
    "warehouse.landing",
    "warehouse.gate",
    "warehouse.store",
    "warehouse.events",
    "warehouse.marts",
    "warehouse.devices",
    "catalog.events",
)


def preload() -> None:
    """Import every step's modules; one that fails to import is left to fail in its task, loudly."""
    for name in STEP_MODULES:
        try:
            importlib.import_module(name)
        except Exception:
            log.exception("preloading %s for the ingest tasks failed; the tasks import it themselves", name)
