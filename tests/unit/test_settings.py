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
