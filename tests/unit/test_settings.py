from datetime import date

import pytest

from hub.errors import ConfigError
from hub.settings import get_settings, reset_settings


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    for name in ("HUB_KAFKA_BOOTSTRAP", "HUB_CATALOG_URL", "HUB_VAR_DIR", "HUB_KAFKA_PORT"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    yield
    reset_settings()


def test_defaults_live_under_var(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path))
    settings = get_settings()
    assert settings.catalog_url == f"sqlite:///{tmp_path / 'catalog.db'}"
    assert settings.lake_dir == tmp_path / "lake"
    assert settings.warehouse_path == tmp_path / "warehouse.duckdb"
    assert settings.kafka_dir == tmp_path / "kafka"
    assert settings.coverage_target == 0.7
    assert settings.target_date == date(date.today().year, 12, 31)


def test_local_kafka_unless_bootstrap_is_set(monkeypatch):
    monkeypatch.setenv("HUB_KAFKA_PORT", "19092")
    assert get_settings().kafka_bootstrap == "127.0.0.1:19092"
    assert not get_settings().kafka_is_external
    reset_settings()
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    assert get_settings().kafka_bootstrap == "kafka-1:9092,kafka-2:9092"
    assert get_settings().kafka_is_external


def test_bad_settings_report_every_problem(monkeypatch):
    monkeypatch.setenv("HUB_KAFKA_PORT", "not-a-port")
    monkeypatch.setenv("HUB_COVERAGE_TARGET", "1.5")
    with pytest.raises(ConfigError) as caught:
        get_settings()
    message = str(caught.value)
    assert "HUB_KAFKA_PORT" in message and "HUB_COVERAGE_TARGET" in message


def test_token_is_secret(monkeypatch):
    monkeypatch.setenv("HUB_API_TOKEN", "s3cret-token")
    settings = get_settings()
    assert "s3cret-token" not in repr(settings) and "s3cret-token" not in str(settings)
    assert settings.api_token.get_secret_value() == "s3cret-token"


def test_source_endpoints_are_typed_settings_and_database_urls_stay_secret(tmp_path, monkeypatch):
    from catalog.systems import systems_of_kind
    from connectors import systems

    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HUB_SOURCE_UTILITY_DB_URL", "postgresql+psycopg://reader:s3cret@db:5432/utility")
    monkeypatch.setenv("HUB_MQTT_PORT", "1884")
    monkeypatch.setenv("HUB_VIDEO_URL", "http://video:8731/")
    settings = get_settings()
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())
    assert systems.source_url("utility_db") == "postgresql+psycopg://reader:s3cret@db:5432/utility"
    assert systems.source_url("population_db") == f"sqlite:///{tmp_path / 'sources' / 'population_db.sqlite'}"
    assert systems.mqtt_host_port() == ("127.0.0.1", 1884)
    assert systems.video_url() == "http://video:8731"
    assert systems.gis_drop_dir() == tmp_path / "sources" / "gis_drop"
    for system in systems_of_kind("sql"):  # every database system declared has its settings field
        assert systems.source_url(system)


def test_a_bad_mqtt_port_is_reported_with_its_variable(monkeypatch):
    monkeypatch.setenv("HUB_MQTT_PORT", "70000")
    with pytest.raises(ConfigError, match="HUB_MQTT_PORT"):
        get_settings()


def test_airflow_runs_four_tasks_per_core_as_far_as_the_memory_holds_two_gib_each(monkeypatch):
    from hub import settings

    pages = {"SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(settings.os, "sysconf", lambda name: pages.get(name) or pages["pages"])
    monkeypatch.setattr(settings.os, "cpu_count", lambda: 2)
    pages["pages"] = 24 * 2**30 // 4096  # 24 GiB: the cores decide
    assert settings.default_parallelism() == 8
    pages["pages"] = 6 * 2**30 // 4096  # 6 GiB: three tasks of 2 GiB
    assert settings.default_parallelism() == 3
    pages["pages"] = 2**30 // 4096  # less than one task's memory: still one task
    assert settings.default_parallelism() == 1
    monkeypatch.setenv("HUB_AIRFLOW_PARALLELISM", "5")
    assert settings.Settings().airflow_parallelism == 5
