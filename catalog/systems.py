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


SYSTEMS: tuple[SourceSystem, ...] = (
    SourceSystem("population_db", "sql", "population"),
    SourceSystem("legal_entity_db", "sql", "legal_entity"),
    SourceSystem("utility_db", "sql", "utility"),
    SourceSystem("gis_drop", "file", "gis"),
    SourceSystem("video_platform", "http", "video"),
    SourceSystem("iot_broker", "mqtt", "iot"),
    SourceSystem("drone_db", "sql", "drone"),  # 区无人机作业与数据共享平台: missions, imagery, work orders
)

BY_NAME = {system.name: system for system in SYSTEMS}
SOURCE_SYSTEMS = tuple(BY_NAME)
CONNECTOR_KINDS = tuple(dict.fromkeys(system.kind for system in SYSTEMS))
SYSTEM_KINDS = {system.name: system.kind for system in SYSTEMS}
SYSTEM_DOMAINS = {system.name: system.domain for system in SYSTEMS}
# A core-domain resource comes from its own source system.
DOMAIN_SYSTEMS = {system.domain: system.name for system in SYSTEMS}


def systems_of_kind(kind: str) -> tuple[str, ...]:
    """Names of the systems read with connector kind `kind` (e.g. the department databases for "sql")."""
    return tuple(system.name for system in SYSTEMS if system.kind == kind)
