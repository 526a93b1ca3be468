"""The DAG folder imports cleanly and opens nothing while it is parsed."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DOMAINS = ("population", "legal_entity", "utility", "gis", "video", "iot")
EXPECTED = {f"ingest_{d}" for d in ("population", "legal_entity", "utility", "gis", "video", "iot")} | {
    "coverage_daily"
}


@pytest.fixture(scope="module")
def loaded_catalogue(tmp_path_factory):
    """A hub home with the seed catalogue loaded: the DAG files lay tasks out from its snapshot file."""
    from datetime import datetime, timezone

    from catalog.db import session_scope
    from catalog.selection import SEED_DIR
    from catalog.spec import load_catalogue
    from catalog.store import load_catalogue_into
    from hub import settings as hub_settings

    patch = pytest.MonkeyPatch()
    patch.setenv("HUB_VAR_DIR", str(tmp_path_factory.mktemp("dags-parse") / "var"))
    hub_settings.reset_settings()
    with session_scope() as session:
        load_catalogue_into(session, load_catalogue(SEED_DIR), now=datetime.now(timezone.utc))
    yield
    patch.undo()
    hub_settings.reset_settings()


@pytest.fixture(scope="module")
def parsed(loaded_catalogue):
    """Parse the folder with every way out of the process patched to record calls."""
    import duckdb
    import kafka
    import sqlalchemy
    from airflow.dag_processing.dagbag import DagBag  # Airflow's own metadata engine is not ours to police

    calls: list[str] = []
    patch = pytest.MonkeyPatch()

    def recorder(name):
        def record(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} called while parsing DAGs")

        return record

    for module, attr in [
        (kafka.KafkaProducer, "__init__"),
        (kafka.KafkaConsumer, "__init__"),
        (kafka.KafkaAdminClient, "__init__"),
        (socket.socket, "connect"),
        (socket, "create_connection"),
    ]:
        patch.setattr(module, attr, recorder(f"{getattr(module, '__name__', module)}.{attr}"))
    patch.setattr(sqlalchemy, "create_engine", recorder("sqlalchemy.create_engine"))
    patch.setattr(duckdb, "connect", recorder("duckdb.connect"))
    try:
        bag = DagBag(dag_folder=str(DAGS))
    finally:
        patch.undo()
    return bag, calls


def test_no_import_errors_and_no_calls(parsed):
    bag, calls = parsed
    assert bag.import_errors == {}
    assert calls == []
    assert EXPECTED <= set(bag.dag_ids)


def test_every_dag_is_owned_retried_tagged_and_documented(parsed):
    bag, _ = parsed
    for dag_id in EXPECTED:
        dag = bag.dags[dag_id]
        assert dag.doc_md and len(dag.doc_md) > 80, dag_id
        assert dag.tags, dag_id
        for task in dag.tasks:
            assert task.owner not in ("airflow", "", None), (dag_id, task.task_id)
            assert task.retries >= 1, (dag_id, task.task_id)
            assert task.retry_delay >= timedelta(seconds=10), (dag_id, task.task_id)


def test_every_bound_resource_has_a_chain_and_an_asset(parsed):
    from pipeline.layout import bound_resources

    bag, _ = parsed
    assert len({r for d in DOMAINS for r in bound_resources(d)}) == 97  # the seed's bound entries
    for domain in DOMAINS:
        dag = bag.dags[f"ingest_{domain}"]
        resources = bound_resources(domain)
        assert resources, f"no bound resource in {domain}"
        for resource_id in resources:
            stage = dag.get_task(f"{resource_id}.stage")
            assert [o.uri for o in stage.outlets] == [f"duckdb://warehouse/staging/{resource_id}"]
