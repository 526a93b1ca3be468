"""Shared fixtures: the real Kafka broker, and per-test isolation of hub state."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from hub import settings as hub_settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# Airflow reads its configuration once, at import: point it at a test home before anything imports it.
os.environ.setdefault("AIRFLOW_HOME", str(REPO / "var" / "airflow-test"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The bootstrap of a running Kafka: HUB_KAFKA_BOOTSTRAP's cluster, or the local broker started now."""
    from hub import broker

    hub_settings.reset_settings()
    print(broker.up())
    return hub_settings.get_settings().kafka_bootstrap


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
