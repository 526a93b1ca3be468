"""One typed settings object, read from the environment (prefix HUB_) and an optional `.env`."""

from __future__ import annotations

import functools
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from hub import clock
from hub.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
# The documented placeholder of HUB_API_TOKEN: the service refuses it outside development mode.
DEFAULT_API_TOKEN = "change-me"


def _default_token_file() -> Path:
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "hub" / "token"


def _end_of_this_year() -> date:
    return date(clock.local_today().year, 12, 31)


TASK_MEMORY_BYTES = 2 * 2**30  # what one ingest task may hold at Shunde's size (a full-scale land peaks below it)


def default_parallelism() -> int:
    """Tasks the local Airflow runs at once: four per core, as a task is half waiting (on Kafka, on the
    warehouse's writer, on Airflow's execution API), and no more than the RAM holds at 2 GiB a task.
    Airflow's own 32 put every resource of a DAG on two cores together, each holding its rows."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(1, min(4 * (os.cpu_count() or 1), memory // TASK_MEMORY_BYTES))


class Settings(BaseSettings):
    """Every knob of the hub. Each field is documented in the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=".env", extra="ignore")

    var_dir: Path = Field(REPO_ROOT / "var", description="all runtime state")
    kafka_bootstrap_servers: str | None = Field(
        None, validation_alias="HUB_KAFKA_BOOTSTRAP", description="an existing cluster; nothing is started"
    )
    kafka_client: Literal["confluent", "kafka-python"] = Field(
        "confluent", description="Kafka client library: confluent (librdkafka, fast) or kafka-python (pure Python)"
    )
    kafka_port: int = Field(9092, ge=1, le=65535)
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_heap: str = "1g"
    kafka_libs_dir: Path | None = Field(None, description="cache of the Kafka jars (default <var>/kafka/libs)")
    kafka_partitions: int = Field(3, ge=1, description="partitions of new raw topics")
    kafka_replication: int = Field(1, ge=1, description="replication factor of new topics")
    topic_prefix: str = Field(
        "",
        max_length=40,
        pattern=r"^([a-z0-9][a-z0-9._]*)?$",
        description="put before every topic and consumer group name the hub derives (e.g. 't1a2b3c4.')",
    )
    catalog_url: str | None = Field(None, description="SQLAlchemy URL of the catalogue database")
    lake_dir: Path | None = None
    warehouse_path: Path | None = None
    # Device-level coverage: the warehouse writes one JSON per computation here, the catalogue reads it.
    device_coverage_dir: Path | None = None
    # 一数一源 conflict figures: the warehouse writes one JSON per computation here, the catalogue reads it.
    source_conflicts_dir: Path | None = None
    coverage_target: float = Field(0.7, gt=0, le=1)
    target_date: date = Field(default_factory=_end_of_this_year)
    api_token: SecretStr = SecretStr(DEFAULT_API_TOKEN)
    dev_mode: bool = Field(False, description="development only: the service accepts the default API token")
    public_base_url: AnyHttpUrl = Field(
        AnyHttpUrl("http://127.0.0.1:8000"), description="the service's address for links it publishes (DCAT @id)"
    )
    token: SecretStr | None = Field(None, description="the CLI's account token (else read from token_file)")
    token_file: Path = Field(default_factory=_default_token_file, description="where the CLI reads its token")
    query_timeout_s: float = Field(30.0, gt=0)
    query_row_limit: int = Field(10_000, gt=0)
    # Where the departments' source systems answer (catalog/systems.py names them; connectors/systems.py
    # reads these). A database URL may carry a password, so it is a secret and never printed.
    source_population_db_url: SecretStr | None = Field(None, description="default: a SQLite file in <var>/sources")
    source_legal_entity_db_url: SecretStr | None = Field(None, description="default: a SQLite file in <var>/sources")
    source_utility_db_url: SecretStr | None = Field(None, description="default: a SQLite file in <var>/sources")
    source_drone_db_url: SecretStr | None = Field(None, description="default: a SQLite file in <var>/sources")
    gis_drop_dir: Path | None = Field(None, description="GIS drop folder (default <var>/sources/gis_drop)")
    video_url: str = Field("http://127.0.0.1:8731", description="base URL of the video platform's HTTP API")
    video_cloud_police_url: str = Field("http://127.0.0.1:8732", description="公安网视频云平台's HTTP API")
    video_cloud_city_url: str = Field("http://127.0.0.1:8733", description="城市视频专网视频云平台's HTTP API")
    video_cloud_gov_url: str = Field("http://127.0.0.1:8734", description="政务视频网视频云平台's HTTP API")
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(18830, ge=1, le=65535, description="not 1883: a distribution's mosquitto may hold it")
    # The analyst sandbox's child process (warehouse.access.worker): hard limits set by the OS.
    query_memory_mb: int = Field(1024, ge=256, description="address space of one analyst query (RLIMIT_AS)")
    query_cpu_s: int = Field(60, ge=1, description="CPU seconds of one analyst query, all threads (RLIMIT_CPU)")
    query_threads: int = Field(2, ge=1, le=64)
    query_result_max_mb: int = Field(64, ge=1, description="largest result handed back to the analyst")
    # HMAC key of the pseudonyms that replace ID numbers, phones and credit codes in masked views.
    # Unset: a random key is generated once under <var>/secrets/pseudonym.key (mode 0600).
    pseudonym_key: SecretStr | None = None
    objection_ack_workdays: int = Field(2, ge=0, description="working days a 数源部门 has to acknowledge an objection")
    objection_resolve_workdays: int = Field(10, ge=1, description="working days to resolve an objection")
    share_answer_workdays: int = Field(5, ge=1, description="working days to answer a 有条件共享 request")
    # Exports (`hub sql -o FILE`, the workspace's export jobs) get every row or fail: these bound them.
    export_row_limit: int = Field(5_000_000, gt=0, description="most rows one export may hold; more fails it")
    export_max_mb: int = Field(2048, ge=1, description="largest Arrow result of one export, before conversion")
    export_keep_hours: float = Field(24.0, gt=0, description="how long the workspace keeps an export's file")
    mart_min_group: int = Field(5, ge=1, description="k: mart rows of groups smaller than this are dropped")
    airflow_port: int = Field(8080, ge=1, le=65535, description="the local Airflow UI and API (hub demo)")
    airflow_parallelism: int = Field(
        default_factory=lambda: default_parallelism(),
        ge=1,
        description="tasks the local Airflow scheduler runs at once (default: 4 per core, 1 per 2 GiB of RAM at most)",
    )
    # Alerts (pipeline/alerts.py) and the report's delivery (hub report send): a webhook and/or a mail server.
    alert_webhook: AnyHttpUrl | None = Field(None, description="URL that receives a JSON POST per alert")
    smtp_host: str | None = Field(None, description="mail server for alerts and the report; unset: no mail")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = Field("hub@localhost", description="sender address of alert and report mails")
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(False, description="upgrade the connection with STARTTLS before sending")
    # NoDecode: pydantic-settings would read a list from the environment as JSON; _address_list splits commas.
    alert_to: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="mail addresses of alerts (comma-separated)"
    )
    report_to: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="mail addresses of the daily report"
    )

    @field_validator("alert_to", "report_to", mode="before")
    @classmethod
    def _address_list(cls, value):
        # The environment gives "a@x, b@y"; a list (from code or JSON) passes through.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("alert_to", "report_to")
    @classmethod
    def _addresses_look_like_mail(cls, value: list[str]) -> list[str]:
        bad = [address for address in value if "@" not in address or " " in address]
        if bad:
            raise ValueError(f"not mail addresses: {', '.join(bad)} (give a comma-separated list like a@x.cn,b@y.cn)")
        return value

    @model_validator(mode="after")
    def _fill_paths(self) -> "Settings":
        self.var_dir = self.var_dir.resolve()
        if self.catalog_url is None:
            self.catalog_url = f"sqlite:///{self.var_dir / 'catalog.db'}"
        self.lake_dir = self.lake_dir or self.var_dir / "lake"
        self.warehouse_path = self.warehouse_path or self.var_dir / "warehouse.duckdb"
        self.device_coverage_dir = self.device_coverage_dir or self.var_dir / "device_coverage"
        self.source_conflicts_dir = self.source_conflicts_dir or self.var_dir / "source_conflicts"
        return self

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.kafka_port}"

    @property
    def kafka_is_external(self) -> bool:
        return self.kafka_bootstrap_servers is not None

    @property
    def kafka_dir(self) -> Path:
        return self.var_dir / "kafka"

    @property
    def streams_dir(self) -> Path:
        """The streams supervisor's status, heartbeats and logs (pipeline/streams.py writes, the
        catalogue service's /api/streams reads)."""
        return self.var_dir / "streams"


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings; a bad environment raises ConfigError listing every problem."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"HUB_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings (read from the environment and .env): {problems}") from exc


def reset_settings() -> None:
    """Forget the cached settings (tests that change the environment call this)."""
    get_settings.cache_clear()
