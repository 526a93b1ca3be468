"""The production-like stack in docker/, read as files: there is no Docker engine to start it."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from hub.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE_TEXT = (DOCKER / "compose.yaml").read_text(encoding="utf-8")
DOCKERFILE_TEXT = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
ENV_EXAMPLE_TEXT = (DOCKER / ".env.example").read_text(encoding="utf-8")
INIT_SQL_TEXT = (DOCKER / "postgres-init.sql").read_text(encoding="utf-8")

AIRFLOW_SERVICES = {"airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}
HUB_SERVICES = AIRFLOW_SERVICES | {"airflow-init", "catalog", "streams"}
ONE_SHOT_SERVICES = {"airflow-init"}
EXPECTED_SERVICES = HUB_SERVICES | {"kafka", "postgres", "mosquitto"}

# name[:tag] where the tag holds at least major.minor, e.g. postgres:16.11-bookworm, apache/kafka:4.1.1.
PINNED_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]*:(?P<tag>[A-Za-z0-9._-]*\d+\.\d+[A-Za-z0-9._-]*)$")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}, and $$ (a literal $).
VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
HUB_NAME = re.compile(r"\bHUB_[A-Z0-9_]+\b")


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Substitute variables as `docker compose` does, failing where compose would refuse to start."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"] or "", match["arg"] or ""
        value = env.get(name)
        missing = value is None or (op.startswith(":") and value == "")
        if missing and op.endswith("-"):
            return arg
        if missing and op.endswith("?"):
            raise AssertionError(f"compose would stop: {name} is required ({arg})")
        return value or ""

    return VARIABLE.sub(substitute, text)


def _env_example() -> dict[str, str]:
    lines = (line.strip() for line in ENV_EXAMPLE_TEXT.splitlines())
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


@pytest.fixture(scope="module")
def compose() -> dict:
    """compose.yaml with docker/.env.example filled in, as `docker compose config` would see it."""
    return yaml.safe_load(_interpolate(COMPOSE_TEXT, _env_example()))


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: "" if value is None else str(value) for name, value in env.items()}


def _settings_env_names() -> set[str]:
    """The environment names Settings reads: HUB_<FIELD>, or the field's validation alias."""
    names = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else f"HUB_{field_name.upper()}")
    return names


def test_the_stack_has_every_service(services):
    assert set(services) == EXPECTED_SERVICES


def test_every_long_running_service_has_a_healthcheck(services):
    for name, service in services.items():
        if name in ONE_SHOT_SERVICES:
            assert service.get("restart") == "no", f"{name} is a one-shot job and must not restart"
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and check["test"] != ["NONE"] and not check.get("disable"), name
        assert service.get("restart") == "unless-stopped", name


@pytest.mark.parametrize("name", sorted(EXPECTED_SERVICES))
def test_every_image_is_pinned_to_an_exact_version(services, name):
    image = services[name].get("image", "")
    match = PINNED_IMAGE.match(image)
    assert match, f"{name}: image {image!r} must carry an exact tag such as postgres:16.11-bookworm"
    assert "latest" not in match["tag"]


def test_the_built_image_is_tagged_with_the_project_version(services):
    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    built = {name: service for name, service in services.items() if "build" in service}
    assert set(built) == HUB_SERVICES
    for name, service in built.items():
        assert service["image"] == f"shunde-hub:{version}", name
        assert (DOCKER / service["build"]["context"]).resolve() == REPO, name
        assert service["build"]["dockerfile"] == "docker/Dockerfile", name


def test_dockerfile_base_image_is_pinned():
    bases = re.findall(r"^FROM\s+(?:--\S+\s+)*(\S+)", DOCKERFILE_TEXT, flags=re.MULTILINE)
    assert bases, "Dockerfile has no FROM"
    for base in bases:
        assert PINNED_IMAGE.match(base) and "latest" not in base, base
    assert bases[-1].startswith("python:3.11.") and bases[-1].endswith("-slim-bookworm")


def test_dockerfile_installs_the_lock_file_then_the_project_without_deps():
    lock_install = DOCKERFILE_TEXT.find("pip install --no-cache-dir -r requirements.lock")
    project_install = DOCKERFILE_TEXT.find("pip install --no-cache-dir --no-deps .")
    assert lock_install != -1, "the image must install the exact pins of requirements.lock"
    assert project_install > lock_install, "the project goes in after its locked dependencies, with --no-deps"
    assert not re.search(r"openjdk|default-jre|temurin", DOCKERFILE_TEXT, flags=re.IGNORECASE), (
        "no JRE in the hub image: Kafka runs in its own container"
    )


def test_dockerfile_copies_every_packaged_folder():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packaged = {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {
        source.rstrip("/")
        for line in re.findall(r"^COPY\s+(.+)$", DOCKERFILE_TEXT, flags=re.MULTILINE)
        for source in line.split()[:-1]
        if not source.startswith("--")
    }
    assert packaged | {"dags", "pyproject.toml", "requirements.lock"} <= copied


def test_dockerfile_runs_as_a_non_root_user_with_airflow_paths():
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE_TEXT, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert "AIRFLOW_HOME=/opt/airflow" in DOCKERFILE_TEXT
    assert "AIRFLOW__CORE__DAGS_FOLDER=/opt/hub/dags" in DOCKERFILE_TEXT


def test_every_hub_service_is_wired_the_same_way(services):
    wiring = {}
    for name in HUB_SERVICES:
        env = _environment(services[name])
        assert env.get("HUB_KAFKA_BOOTSTRAP") == "kafka:9092", name
        assert env.get("HUB_CATALOG_URL", "").startswith("postgresql+psycopg://catalog:"), name
        assert env.get("HUB_VAR_DIR") == "/var/lib/hub", name
        assert "hub-var:/var/lib/hub" in services[name]["volumes"], name
        wiring[name] = {key: value for key, value in env.items() if key.startswith("HUB_")}
    assert len({tuple(sorted(hub_env.items())) for hub_env in wiring.values()}) == 1, wiring


@pytest.mark.parametrize("source", ["compose.yaml", ".env.example"])
def test_every_hub_name_is_a_settings_field(source):
    text = COMPOSE_TEXT if source == "compose.yaml" else ENV_EXAMPLE_TEXT
    unknown = set(HUB_NAME.findall(text)) - _settings_env_names()
    assert not unknown, f"docker/{source} names {sorted(unknown)}, which hub.settings.Settings never reads"


def test_the_wiring_is_valid_settings(services, monkeypatch):
    for name in [name for name in os.environ if name.startswith("HUB_")]:
        monkeypatch.delenv(name)
    for name, value in _environment(services["catalog"]).items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.kafka_bootstrap == "kafka:9092" and settings.kafka_is_external
    assert settings.catalog_url.startswith("postgresql+psycopg://catalog:")
    assert settings.var_dir == Path("/var/lib/hub")
    assert settings.api_token.get_secret_value() == _env_example()["HUB_API_TOKEN"]


def test_depends_on_conditions_can_be_met(services):
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions, not a bare list"
        for target, rule in depends.items():
            assert target in services and target != name, f"{name} depends on unknown {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), f"{name} waits for {target} to be healthy"
            else:
                assert condition == "service_completed_successfully" and target in ONE_SHOT_SERVICES, name
    for name in AIRFLOW_SERVICES | {"airflow-init", "catalog", "streams"}:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy", name


def test_airflow_uses_psycopg3_and_the_api_servers_execution_api(services):
    for name in AIRFLOW_SERVICES | {"airflow-init"}:
        env = _environment(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        # The lock file holds psycopg 3 only; Airflow's derived async URL would need asyncpg.
        for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"):
            assert env[key].startswith("postgresql+psycopg://airflow:"), (name, key)
        execution_api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert (execution_api.hostname, execution_api.port, execution_api.path) == (
            "airflow-api-server",
            8080,
            "/execution/",
        )
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"], name
    assert any(port.endswith(":8080") for port in services["airflow-api-server"]["ports"])


def test_every_variable_is_in_env_example_and_secrets_have_no_default():
    example = _env_example()
    for match in VARIABLE.finditer(COMPOSE_TEXT):
        name = match["name"]
        if name is None:
            continue
        assert name in example, f"compose.yaml reads ${{{name}}}, which docker/.env.example does not list"
        if re.search(r"PASSWORD|SECRET|TOKEN|KEY", name):
            assert (match["op"] or "").endswith("?"), f"{name} is a secret: require it with :?, no default"


def test_postgres_init_creates_the_roles_and_databases_the_urls_use(services):
    urls = [
        _environment(services["catalog"])["HUB_CATALOG_URL"],
        _environment(services["airflow-scheduler"])["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
    ]
    for url in urls:
        parts = urlsplit(url)
        assert (parts.hostname, parts.port) == ("postgres", 5432)
        role, database = parts.username, parts.path.lstrip("/")
        assert re.search(rf"^CREATE ROLE {role} LOGIN PASSWORD :'\w+';", INIT_SQL_TEXT, flags=re.MULTILINE)
        assert re.search(rf"^CREATE DATABASE {database} OWNER {role}\b", INIT_SQL_TEXT, flags=re.MULTILINE)
    check = services["postgres"]["healthcheck"]["test"]
    assert "pg_isready" in check


def test_mounts_exist_and_volumes_are_declared(compose, services):
    for name, service in services.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).is_file(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name} uses undeclared volume {source}"


def test_kafka_runs_kraft_combined_and_advertises_the_hub_bootstrap(services):
    env = _environment(services["kafka"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    advertised = {urlsplit(listener).netloc for listener in env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    assert "kafka:9092" in advertised
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    check = " ".join(services["kafka"]["healthcheck"]["test"])
    assert "kafka-broker-api-versions.sh --bootstrap-server localhost:9092" in check


def test_mosquitto_mounts_its_config_and_checks_sys_topics(services):
    mosquitto = services["mosquitto"]
    assert "./mosquitto.conf:/mosquitto/config/mosquitto.conf:ro" in mosquitto["volumes"]
    assert "$SYS/#" in mosquitto["healthcheck"]["test"]
    config = (DOCKER / "mosquitto.conf").read_text(encoding="utf-8")
    assert re.search(r"^listener 1883\b", config, flags=re.MULTILINE)
    assert re.search(r"^persistence true$", config, flags=re.MULTILINE)


def test_streams_service_supervises_the_realtime_connectors(services):
    streams = services["streams"]
    assert streams["command"] == ["hub", "streams", "up"]
    assert streams["healthcheck"]["test"] == ["CMD", "hub", "streams", "status", "--check"]
    # The MQTT streams need their broker, every stream needs Kafka (and the catalogue for its bindings).
    for needed in ("kafka", "mosquitto", "postgres"):
        assert streams["depends_on"][needed]["condition"] == "service_healthy", needed
    assert _environment(streams)["HUB_MQTT_HOST"] == "mosquitto"
    # SIGTERM lets every stream flush and save; the grace must outlast the supervisor's own (20 s).
    assert int(streams["stop_grace_period"].rstrip("s")) > 20


def test_airflow_schedules_in_beijing_time(services):
    for name in AIRFLOW_SERVICES:
        assert _environment(services[name])["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Shanghai", name
