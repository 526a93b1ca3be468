"""Where each department's source system answers: the one place both the synthetic sources and the
connectors look it up. The systems are declared in catalog/systems.py; their endpoints are typed
fields of the settings object (env `HUB_SOURCE_<SYSTEM>_URL`, `HUB_GIS_DROP_DIR`, `HUB_VIDEO_URL`,
`HUB_MQTT_HOST`, `HUB_MQTT_PORT`).

Defaults put everything under `<var_dir>/sources`: SQLite files for the department databases, a
drop folder for GIS files, a local HTTP video platform and a Mosquitto broker on loopback.
"""

from __future__ import annotations

from pathlib import Path

from catalog.systems import SOURCE_SYSTEMS, systems_of_kind
from hub.errors import ConfigError
from hub.settings import get_settings

SQL_SYSTEMS = systems_of_kind("sql")
FILE_SYSTEMS = systems_of_kind("file")
HTTP_SYSTEMS = systems_of_kind("http")
MQTT_SYSTEMS = systems_of_kind("mqtt")
ALL_SYSTEMS = SOURCE_SYSTEMS


def sources_dir() -> Path:
    """`<var_dir>/sources`: the synthetic systems' files, pid files and the manifest."""
    return get_settings().var_dir / "sources"


def manifest_path() -> Path:
    """The ground truth of the last `hub seed`: counts and defective record identities."""
    return sources_dir() / "manifest.json"


def source_url(system: str) -> str:
    """SQLAlchemy URL of a department database: HUB_SOURCE_<SYSTEM>_URL or a SQLite file.

    The URL may hold a password: pass it to SQLAlchemy, never into a message."""
    if system not in SQL_SYSTEMS:
        raise ConfigError(f"{system!r} is not a database source system; use one of {', '.join(SQL_SYSTEMS)}")
    field = f"source_{system}_url"
    if not hasattr(get_settings(), field):
        raise ConfigError(
            f"hub.settings.Settings has no field {field} for the database system {system!r} "
            f"declared in catalog/systems.py; add it (env HUB_SOURCE_{system.upper()}_URL)"
        )
    override = getattr(get_settings(), field)
    if override is not None:
        return override.get_secret_value()
    return f"sqlite:///{sources_dir() / f'{system}.sqlite'}"


def gis_drop_dir() -> Path:
    """The GIS drop folder (GeoJSON / GeoPackage files): HUB_GIS_DROP_DIR."""
    return get_settings().gis_drop_dir or sources_dir() / "gis_drop"


def video_url() -> str:
    """Base URL of the video platform's HTTP API: HUB_VIDEO_URL."""
    return get_settings().video_url.rstrip("/")


def mqtt_host_port() -> tuple[str, int]:
    """(host, port) of the IoT MQTT broker: HUB_MQTT_HOST / HUB_MQTT_PORT."""
    settings = get_settings()
    return settings.mqtt_host, settings.mqtt_port


def http_url(system: str) -> str:
    """Base URL of an HTTP source system: HUB_VIDEO_URL for the video platform, HUB_<SYSTEM>_URL otherwise."""
    if system not in HTTP_SYSTEMS:
        raise ConfigError(f"{system!r} is not an HTTP source system; use one of {', '.join(HTTP_SYSTEMS)}")
    field = "video_url" if system == "video_platform" else f"{system}_url"
    if not hasattr(get_settings(), field):
        raise ConfigError(
            f"hub.settings.Settings has no field {field} for the HTTP system {system!r} declared in "
            f"catalog/systems.py; add it (env HUB_{field.upper()})"
        )
    return str(getattr(get_settings(), field)).rstrip("/")
