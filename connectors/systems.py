"""Where each department's source system lives: the one place both the synthetic sources and the
connectors read it from (env `HUB_SOURCE_*`, `HUB_GIS_DROP_DIR`, `HUB_VIDEO_URL`, `HUB_MQTT_*`).

Defaults put everything under `<var_dir>/sources`: SQLite files for the department databases, a
drop folder for GIS files, a local HTTP video platform and a Mosquitto broker on loopback.
"""
from __future__ import annotations

import os
from pathlib import Path

from hub.errors import ConfigError
from hub.settings import get_settings

SQL_SYSTEMS = ("population_db", "legal_entity_db", "utility_db")
FILE_SYSTEMS = ("gis_drop",)
HTTP_SYSTEMS = ("video_platform",)
MQTT_SYSTEMS = ("iot_broker",)
ALL_SYSTEMS = SQL_SYSTEMS + FILE_SYSTEMS + HTTP_SYSTEMS + MQTT_SYSTEMS

DEFAULT_VIDEO_URL = "http://127.0.0.1:8731"
DEFAULT_MQTT_HOST = "127.0.0.1"
# Not 1883: a distribution's own mosquitto service may already hold it.
DEFAULT_MQTT_PORT = 18830


def sources_dir() -> Path:
    """`<var_dir>/sources`: the synthetic systems' files, pid files and the manifest."""
    return get_settings().var_dir / "sources"


def manifest_path() -> Path:
    """The ground truth of the last `hub seed`: counts and defective record identities."""
    return sources_dir() / "manifest.json"


def source_url(system: str) -> str:
    """SQLAlchemy URL of a department database: env HUB_SOURCE_<SYSTEM>_URL or a SQLite file."""
    if system not in SQL_SYSTEMS:
        raise ConfigError(f"{system!r} is not a database source system; use one of {', '.join(SQL_SYSTEMS)}")
    override = os.environ.get(f"HUB_SOURCE_{system.upper()}_URL")
    if override:
        return override
    return f"sqlite:///{sources_dir() / f'{system}.sqlite'}"


def gis_drop_dir() -> Path:
    """The GIS drop folder (GeoJSON / GeoPackage files): env HUB_GIS_DROP_DIR."""
    override = os.environ.get("HUB_GIS_DROP_DIR")
    return Path(override) if override else sources_dir() / "gis_drop"


def video_url() -> str:
    """Base URL of the video platform's HTTP API: env HUB_VIDEO_URL."""
    return os.environ.get("HUB_VIDEO_URL", DEFAULT_VIDEO_URL).rstrip("/")


def mqtt_host_port() -> tuple[str, int]:
    """(host, port) of the IoT MQTT broker: env HUB_MQTT_HOST / HUB_MQTT_PORT."""
    host = os.environ.get("HUB_MQTT_HOST", DEFAULT_MQTT_HOST)
    raw_port = os.environ.get("HUB_MQTT_PORT", str(DEFAULT_MQTT_PORT))
    try:
        port = int(raw_port)
    except ValueError:
        raise ConfigError(f"HUB_MQTT_PORT={raw_port!r} is not a port number; set an integer 1–65535") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"HUB_MQTT_PORT={port} is out of range; set an integer 1–65535")
    return host, port
