"""The DAG folder imports cleanly, opens nothing while it is parsed, and lays the ingest DAGs out
from the catalogue: one per domain and update cycle, each on its cycle's cron in Beijing time."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pendulum
import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DOMAINS = ("population", "legal_entity", "utility", "gis", "video", "iot", "drone")
# Written down from the seed catalogue (catalog/seed/resources), not read back from pipeline/layout.py.
SLUGS = {
    "实时": "realtime",
    "每日": "daily",
    "每周": "weekly",
    "每月": "monthly",
    "每季度": "quarterly",
    "半年": "half_yearly",
    "每年": "yearly",
}
SEED_INGEST_DAGS = {
    "ingest_population_daily",
    "ingest_population_weekly",
    "ingest_population_monthly",
    "ingest_population_half_yearly",
    "ingest_legal_entity_daily",
    "ingest_legal_entity_weekly",
    "ingest_legal_entity_monthly",
    "ingest_legal_entity_quarterly",
    "ingest_legal_entity_yearly",
    "ingest_utility_daily",
    "ingest_utility_monthly",
    "ingest_gis_weekly",
    "ingest_gis_monthly",
    "ingest_gis_quarterly",
    "ingest_gis_yearly",
    "ingest_video_realtime",
    "ingest_video_daily",
    "ingest_iot_realtime",
    "ingest_drone_daily",
}
EXPECTED = SEED_INGEST_DAGS | {"coverage_daily", "quality_docs"}


def _load_seed(changes: dict[str, str] | None = None) -> None:
    """Load the seed catalogue into the current hub home, with `changes` (resource id → update cycle)."""
    from catalog.db import session_scope
    from catalog.selection import SEED_DIR
    from catalog.spec import load_catalogue
    from catalog.store import load_catalogue_into

    catalogue = load_catalogue(SEED_DIR)
    for resource in catalogue.resources:
        if resource.id in (changes or {}):
            resource.update_cycle = changes[resource.id]
    with session_scope() as session:
        load_catalogue_into(session, catalogue, now=datetime.now(timezone.utc))


@pytest.fixture(scope="module")
def loaded_catalogue(tmp_path_factory):
    """A hub home with the seed catalogue loaded: the DAG files lay tasks out from its snapshot file."""
    from hub import settings as hub_settings

    patch = pytest.MonkeyPatch()
    patch.setenv("HUB_VAR_DIR", str(tmp_path_factory.mktemp("dags-parse") / "var"))
    hub_settings.reset_settings()
    _load_seed()
    yield
    patch.undo()
    hub_settings.reset_settings()


def _parse():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    return bag


@pytest.fixture(scope="module")
def parsed(loaded_catalogue):
    """Parse the folder with every way out of the process patched to record calls."""
    import duckdb
    import kafka
    import sqlalchemy
    from airflow.dag_processing.dagbag import DagBag  # noqa: F401  Airflow's own metadata engine is not ours to police

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
    # librdkafka opens its sockets in C, out of the socket module's sight: its client classes are recorded.
    from hub import kafka_confluent, kafka_confluent_consumer

    patch.setattr(kafka_confluent, "Producer", recorder("confluent_kafka.Producer"))
    patch.setattr(kafka_confluent, "AdminClient", recorder("confluent_kafka.admin.AdminClient"))
    patch.setattr(kafka_confluent_consumer, "Consumer", recorder("confluent_kafka.Consumer"))
    patch.setattr(sqlalchemy, "create_engine", recorder("sqlalchemy.create_engine"))
    patch.setattr(duckdb, "connect", recorder("duckdb.connect"))
    try:
        bag = _parse()
    finally:
        patch.undo()
    return bag, calls


def _seed_cycles() -> dict[str, tuple[str, str]]:
    """Bound seed resource id → (ingest domain, update cycle), read from the seed files."""
    from catalog.selection import SEED_DIR, ingest_domain
    from catalog.spec import load_catalogue

    return {
        r.id: (ingest_domain(r), r.update_cycle)
        for r in load_catalogue(SEED_DIR).resources
        if r.binding is not None and r.status != "已下线"
    }


def _resources_of(dag) -> set[str]:
    return {task.task_id.split(".")[0] for task in dag.tasks if task.task_id.endswith(".load")}


def test_no_import_errors_and_no_calls(parsed):
    bag, calls = parsed
    assert bag.import_errors == {}
    assert calls == []
    assert set(bag.dag_ids) == EXPECTED


def test_every_dag_is_owned_retried_tagged_described_and_documented(parsed):
    bag, _ = parsed
    for dag_id in EXPECTED:
        dag = bag.dags[dag_id]
        assert dag.doc_md and len(dag.doc_md) > 80, dag_id
        assert dag.description, dag_id
        assert dag.tags, dag_id
        assert dag.timezone.name == "Asia/Shanghai", dag_id
        for task in dag.tasks:
            assert task.owner not in ("airflow", "", None), (dag_id, task.task_id)
            assert task.retries >= 1, (dag_id, task.task_id)
            assert task.retry_delay >= timedelta(seconds=10), (dag_id, task.task_id)


def test_every_ingest_dag_runs_on_its_cycles_cron_in_beijing_time(parsed):
    from airflow.timetables.trigger import CronTriggerTimetable

    bag, _ = parsed
    seed = _seed_cycles()
    for dag_id in SEED_INGEST_DAGS:
        dag = bag.dags[dag_id]
        assert isinstance(dag.timetable, CronTriggerTimetable), dag_id
        assert dag.timetable._timezone.name == "Asia/Shanghai", dag_id
        # The next run is known (the UI shows it), and it is at night or, for 实时, within 15 minutes.
        after = pendulum.datetime(2026, 12, 6, 12, 0, tz="Asia/Shanghai")
        upcoming = dag.timetable._get_next(after)
        if dag_id.endswith("_realtime"):
            assert upcoming - after <= timedelta(minutes=15), dag_id
        else:
            assert 1 <= upcoming.in_timezone("Asia/Shanghai").hour <= 5, (dag_id, upcoming)
        domain, slug = next((d, s) for d in DOMAINS for s in SLUGS.values() if dag_id == f"ingest_{d}_{s}")
        assert _resources_of(dag) == {
            rid for rid, (dom, cycle) in seed.items() if (dom, SLUGS[cycle]) == (domain, slug)
        }


def test_coverage_daily_runs_at_seven_beijing_time_not_on_asset_events(parsed):
    from airflow.timetables.trigger import CronTriggerTimetable

    bag, _ = parsed
    timetable = bag.dags["coverage_daily"].timetable
    assert type(timetable) is CronTriggerTimetable  # not AssetOrTimeSchedule: no run mid-ingest
    assert timetable._expression == "0 7 * * *" and timetable._timezone.name == "Asia/Shanghai"
    nights = [bag.dags[d].timetable for d in SEED_INGEST_DAGS if not d.endswith("_realtime")]
    assert all(t._expression.split()[1] < "7" for t in nights)  # every batch cycle starts before 07:00


def test_every_bound_resource_has_one_chain_and_a_named_asset(parsed):
    bag, _ = parsed
    seed = _seed_cycles()
    assert len(seed) == 100  # the seed's bound entries
    placed: dict[str, str] = {}
    for dag_id in SEED_INGEST_DAGS:
        for resource_id in _resources_of(bag.dags[dag_id]):
            assert resource_id not in placed, (resource_id, placed.get(resource_id), dag_id)
            placed[resource_id] = dag_id
    assert set(placed) == set(seed)
    load = bag.dags["ingest_utility_monthly"].get_task("gas_readings.load")
    (asset,) = load.outlets
    assert asset.uri == "duckdb://warehouse/staging/gas_readings"
    assert asset.name.startswith("管道燃气抄表数据（") and asset.extra["code"] in asset.name
    assert asset.extra["resource_id"] == "gas_readings" and asset.extra["update_cycle"] == "每月"
    assert asset.group == asset.extra["department"] and asset.group.endswith("公司")


def test_realtime_dags_land_without_connecting(parsed):
    bag, _ = parsed
    for dag_id in ("ingest_iot_realtime", "ingest_video_realtime"):
        steps = {task.task_id.split(".")[-1] for task in bag.dags[dag_id].tasks}
        assert steps == {"load", "refresh_marts", "sync_catalogue"}, dag_id
    assert bag.dags["ingest_video_daily"].get_task("camera_devices.connect")


def test_realtime_tasks_go_before_every_nightly_task_when_slots_are_scarce(parsed):
    bag, _ = parsed
    dags = [bag.dags[dag_id] for dag_id in SEED_INGEST_DAGS]
    # A nightly task's weight is its own plus its downstream tasks': at most its DAG's sum.
    nightly = max(sum(t.priority_weight for t in dag.tasks) for dag in dags if not dag.dag_id.endswith("_realtime"))
    realtime = [task for dag in dags if dag.dag_id.endswith("_realtime") for task in dag.tasks]
    assert {str(getattr(task.weight_rule, "value", task.weight_rule)) for task in realtime} == {"absolute"}
    assert min(task.priority_weight for task in realtime) > nightly


def test_a_batch_resource_is_connect_then_one_load_task_before_the_marts(parsed):
    bag, _ = parsed
    dag = bag.dags["ingest_utility_monthly"]
    group = {task.task_id for task in dag.tasks if task.task_id.startswith("gas_readings.")}
    assert group == {"gas_readings.connect", "gas_readings.load"}
    assert dag.get_task("gas_readings.connect").downstream_task_ids == {"gas_readings.load"}
    assert dag.get_task("gas_readings.load").downstream_task_ids == {"refresh_marts"}
    steps = {task.task_id.split(".")[-1] for task in dag.tasks}
    assert steps == {"connect", "load", "refresh_marts", "sync_catalogue"}


def _weight(dag, task) -> int:
    """The weight the scheduler sorts the task by: its own (absolute) or its own and every downstream task's."""
    if str(getattr(task.weight_rule, "value", task.weight_rule)) == "absolute":
        return task.priority_weight
    return task.priority_weight + sum(dag.get_task(t).priority_weight for t in task.get_flat_relative_ids())


def test_after_a_night_the_longest_chains_go_first_and_realtime_still_before_them(loaded_catalogue):
    import shutil

    from airflow.dag_processing.dagbag import DagBag

    from pipeline import task_costs

    for (resource_id, step), seconds in {
        ("electricity_readings", "connect"): 516.4,
        ("electricity_readings", "load"): 177.6,
        ("schools", "connect"): 11.1,
        ("schools", "load"): 14.8,
    }.items():
        task_costs.note(resource_id, step, seconds)
    try:
        bag = DagBag(dag_folder=str(DAGS / "ingest.py"))
    finally:
        shutil.rmtree(task_costs.folder())
    weight = {
        task.task_id: _weight(dag, task) for dag in bag.dags.values() for task in dag.tasks if "." in task.task_id
    }

    chain = ["electricity_readings.connect", "electricity_readings.load", "schools.connect", "schools.load"]
    assert [weight[t] for t in chain] == sorted((weight[t] for t in chain), reverse=True) == [12, 10, 7, 6]
    assert weight["gas_readings.connect"] == 12  # never run: as the longest that did
    nightly, realtime = (
        [_weight(d, t) for d in bag.dags.values() if d.dag_id.endswith("_realtime") is rt for t in d.tasks]
        for rt in (False, True)
    )
    assert min(realtime) > max(nightly)


def test_a_task_parses_only_its_own_dag(loaded_catalogue, monkeypatch):
    """Airflow names the DAG a task belongs to while the task's process parses the file; the file then
    builds that DAG only (every task used to build all nineteen)."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "ingest_utility_monthly")
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_TASK_ID", "gas_readings.load")
    bag = DagBag(dag_folder=str(DAGS / "ingest.py"))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"ingest_utility_monthly"}


def test_data_docs_are_built_every_half_hour_for_every_gate_not_per_ingest_run(parsed):
    from airflow.timetables.trigger import CronTriggerTimetable

    bag, _ = parsed
    docs = bag.dags["quality_docs"]
    assert type(docs.timetable) is CronTriggerTimetable and docs.timetable._timezone.name == "Asia/Shanghai"
    after = pendulum.datetime(2026, 12, 6, 6, 10, tz="Asia/Shanghai")
    assert docs.timetable._get_next(after) == pendulum.datetime(2026, 12, 6, 6, 30, tz="Asia/Shanghai")
    assert [task.task_id for task in docs.tasks] == ["data_docs"] and docs.max_active_runs == 1
    for dag_id in SEED_INGEST_DAGS:
        assert not any(task.task_id.endswith("data_docs") for task in bag.dags[dag_id].tasks), dag_id


def test_a_cycle_changed_in_the_catalogue_moves_the_resource_at_the_next_parse(tmp_path, monkeypatch):
    from hub import settings as hub_settings

    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    hub_settings.reset_settings()
    try:
        _load_seed()
        before = _parse()
        assert "gas_readings" in _resources_of(before.dags["ingest_utility_monthly"])
        assert "ingest_gis_half_yearly" not in before.dag_ids

        _load_seed({"gas_readings": "每日", "land_parcels": "半年"})  # as `hub catalog load` of an edited entry
        after = _parse()
        assert "gas_readings" not in _resources_of(after.dags["ingest_utility_monthly"])
        assert "gas_readings" in _resources_of(after.dags["ingest_utility_daily"])
        assert _resources_of(after.dags["ingest_gis_half_yearly"]) == {"land_parcels"}
        # gis is the 4th of 7 domains: 25 minutes past the hour
        assert after.dags["ingest_gis_half_yearly"].timetable._expression == "25 5 1 1,7 *"
    finally:
        hub_settings.reset_settings()
