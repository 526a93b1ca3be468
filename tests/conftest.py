"""Shared fixtures: the real Kafka broker, and per-test isolation of hub state.

A test run shares the machine's broker with whatever else runs there (a demo, another run), so
before anything reads the settings this module gives the session its own topic and consumer-group
prefix (HUB_TOPIC_PREFIX, e.g. `t1a2b3c4.hub.events`) and its own HUB_VAR_DIR (catalogue, lake,
warehouse, reports); tests that want a fresh one per test use `hub_env`. The e2e demo starts a
broker of its own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

SESSION_PREFIX = f"t{uuid.uuid4().hex[:8]}."
SESSION_VAR = Path(tempfile.mkdtemp(prefix="hub-test-var-"))
# Set, not defaulted: a shell that runs a demo (HUB_TOPIC_PREFIX="" or a var dir) must not leak in.
os.environ["HUB_TOPIC_PREFIX"] = SESSION_PREFIX
os.environ["HUB_VAR_DIR"] = str(SESSION_VAR)
for _derived in ("HUB_CATALOG_URL", "HUB_LAKE_DIR", "HUB_WAREHOUSE_PATH"):
    os.environ.pop(_derived, None)
# The broker and its jars stay the repository's (`hub kafka up` / `make test` put them there).
os.environ.setdefault("HUB_KAFKA_LIBS_DIR", str(REPO / "var" / "kafka" / "libs"))

from hub import kafka_clients  # noqa: E402 (after the environment above is set)
from hub import settings as hub_settings  # noqa: E402

# Airflow reads its configuration once, at import: point it at a test home before anything imports it.
os.environ.setdefault("AIRFLOW_HOME", str(REPO / "var" / "airflow-test"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture(scope="session")
def kafka_bootstrap():
    """The bootstrap of a running Kafka: HUB_KAFKA_BOOTSTRAP's cluster, or the local broker started now.
    At the end of the session its topics and consumer groups (under SESSION_PREFIX) are deleted."""
    from hub import broker

    # The broker lives in the repository's var/kafka (where `hub kafka up` starts it), not in the
    # session's var dir: started from there if none answers, so `hub kafka down` can stop it.
    patch = pytest.MonkeyPatch()
    patch.setenv("HUB_VAR_DIR", str(REPO / "var"))
    hub_settings.reset_settings()
    try:
        print(broker.up())
        bootstrap = hub_settings.get_settings().kafka_bootstrap
    finally:
        patch.undo()
        hub_settings.reset_settings()
    yield bootstrap
    _drop_session_topics_and_groups()


def _drop_session_topics_and_groups() -> None:
    # Only names under this session's random prefix: nothing another run or a demo uses.
    from kafka.errors import KafkaError

    from hub.kafka_clients import make_admin

    try:
        admin = make_admin()
    except (KafkaError, OSError) as exc:
        print(f"could not clean up {SESSION_PREFIX}* on the broker: {exc}")
        return
    try:
        topics = [name for name in admin.list_topics() if name.startswith(SESSION_PREFIX)]
        groups = [group for group in admin.list_groups() if group.startswith(SESSION_PREFIX)]
        if groups:
            admin.delete_groups(groups)
        if topics:
            admin.delete_topics(topics)
    except KafkaError as exc:
        print(f"could not clean up {SESSION_PREFIX}* on the broker: {exc}")
    finally:
        admin.close()


@pytest.fixture
def unique_topic() -> str:
    """A topic name no other test uses (tests share one broker)."""
    return f"test.{uuid.uuid4().hex[:12]}"


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """Isolated runtime state: HUB_VAR_DIR (and so the catalogue, lake, warehouse) in a tmp dir."""
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("HUB_CATALOG_URL", raising=False)
    hub_settings.reset_settings()
    yield tmp_path / "var"
    hub_settings.reset_settings()


@pytest.fixture(params=["confluent", "kafka-python"])
def kafka_backend(request, monkeypatch) -> str:
    """Run the test once per Kafka client backend (HUB_KAFKA_CLIENT, inherited by child processes)."""
    monkeypatch.setenv("HUB_KAFKA_CLIENT", request.param)
    hub_settings.reset_settings()
    yield request.param
    kafka_clients.close_shared_producer(kafka_clients.SWITCH_FLUSH_S)  # else it keeps polling metadata
    monkeypatch.delenv("HUB_KAFKA_CLIENT")
    hub_settings.reset_settings()


@pytest.fixture(autouse=True, scope="module")
def _no_producer_left_on_another_cluster():
    """A module that ran its own broker leaves no shared producer retrying it for the rest of the run."""
    yield
    kafka_clients.retire_stale_producer()


_simulation = None  # sim_kit.Simulation, started once a `simulation` test is collected


@pytest.hookimpl(trylast=True)  # after `-m` deselected what it does
def pytest_collection_modifyitems(config, items):
    """`simulation` tests run last, and the simulation they share starts now in the background, so it
    plays while the rest of the suite runs."""
    global _simulation
    simulated = [item for item in items if item.get_closest_marker("simulation")]
    if not simulated or config.option.collectonly:
        return
    items[:] = [item for item in items if not item.get_closest_marker("simulation")] + simulated
    from sim_kit import Simulation

    _simulation = Simulation.start()


@pytest.fixture(scope="session")
def simulation():
    """The finished ten-day simulation (sim_kit): its env, home and output."""
    return _simulation.wait()


def pytest_sessionfinish(session, exitstatus):
    if _simulation is not None:
        _simulation.stop()
    shutil.rmtree(SESSION_VAR, ignore_errors=True)
