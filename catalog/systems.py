"""The departments' source systems, declared once: name, how a connector reads it, which domain it feeds.

Everything else derives from `SYSTEMS`: the catalogue's vocabulary (spec.SOURCE_SYSTEMS,
spec.CONNECTOR_KINDS), the lint's binding consistency, the domain an ingest DAG groups a resource
under, the connectors' endpoint lookup and the synthetic stand-ins built for the demo.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceSystem:
    name: str  # the `binding.system` of a catalogue entry
    kind: str  # the connector kind that reads it (connectors.kinds registry)
    domain: str  # the core domain whose resources it feeds (themes may bind to any system)
    title: str = ""  # the system's own name, as the district calls it (shown in reports)


SYSTEMS: tuple[SourceSystem, ...] = (
    SourceSystem("population_db", "sql", "population"),
    SourceSystem("legal_entity_db", "sql", "legal_entity"),
    SourceSystem("utility_db", "sql", "utility"),
    SourceSystem("gis_drop", "file", "gis"),
    SourceSystem("video_platform", "http", "video"),
    SourceSystem("iot_broker", "mqtt", "iot"),
    # The public video surveillance cloud joins three platforms; each is a source of its own.
    SourceSystem("video_cloud_police", "http", "video", "公安网视频云平台"),
    SourceSystem("video_cloud_city", "http", "video", "城市视频专网视频云平台"),
    SourceSystem("video_cloud_gov", "http", "video", "政务视频网视频云平台"),
    SourceSystem("drone_db", "sql", "drone"),  # 区无人机作业与数据共享平台: missions, imagery, work orders
)

BY_NAME = {system.name: system for system in SYSTEMS}
SOURCE_SYSTEMS = tuple(BY_NAME)
CONNECTOR_KINDS = tuple(dict.fromkeys(system.kind for system in SYSTEMS))
SYSTEM_KINDS = {system.name: system.kind for system in SYSTEMS}
SYSTEM_DOMAINS = {system.name: system.domain for system in SYSTEMS}
# A core-domain resource comes from one of its domain's source systems.
DOMAIN_SYSTEMS: dict[str, tuple[str, ...]] = {
    domain: tuple(system.name for system in SYSTEMS if system.domain == domain)
    for domain in dict.fromkeys(system.domain for system in SYSTEMS)
}
#: The video clouds (name → title) whose channels device-level coverage counts.
VIDEO_CLOUDS = {system.name: system.title for system in SYSTEMS if system.name.startswith("video_cloud_")}


def systems_of_kind(kind: str) -> tuple[str, ...]:
    """Names of the systems read with connector kind `kind` (e.g. the department databases for "sql")."""
    return tuple(system.name for system in SYSTEMS if system.kind == kind)
