"""Airflow's local-settings hook for the hub's Airflow: Airflow imports this module in every process it
starts (pipeline.airflow_local.airflow_env puts this folder on PYTHONPATH).

In the scheduler it preloads the ingest steps' modules (pipeline/task_preload.py): the LocalExecutor
forks every task from it, so no task imports them again. The other processes (API server, DAG
processor, triggerer, the `airflow` commands) load nothing more.
"""

import sys

__all__: list[str] = []  # no cluster policies: Airflow registers the names listed here as hooks

if sys.argv[1:2] == ["scheduler"]:
    from pipeline.task_preload import preload

    preload()
