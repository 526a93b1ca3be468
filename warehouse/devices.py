"""Device-level coverage, computed from what staging holds: of the devices registered, how many
actually deliver data (the catalogue's coverage asks whether a resource landed; this asks it per
device). Written as one JSON file per computation under HUB_DEVICE_COVERAGE_DIR, which the
catalogue's coverage document reads (catalog/devices.py): the catalogue never opens the warehouse.

Video: per video cloud (catalog/systems.py VIDEO_CLOUDS), the resource whose binding says
`device_role: registry` is the cloud's 一机一档 and the one with `device_role: status` its status
event log (`report_window_hours`, default 24). A channel is
  registered  — its ID is in the registry (staging, one row per channel);
  reporting   — it sent a status event within the window before as_of;
  online      — it is reporting and its latest event says ON.
The online rate is online / registered, held against ONLINE_TARGET (90 %). Events of channels the
registry does not hold are counted apart (`unregistered_reporting`), never in the rates.

IoT: per bound iot resource with device_id, town_code, sensor_type and ts, a sensor is registered
once any reading of it is staged, and reporting when its newest reading is within the resource's
cadence (its update cycle's window plus its grace, as coverage uses).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from catalog import derive
from catalog.coverage import CoveragePolicy
from catalog.reference import SHUNDE_TOWNS
from catalog.systems import VIDEO_CLOUDS
from hub import clock
from hub.files import stamp_name, write_atomic
from hub.settings import get_settings
from warehouse import lake, store

ONLINE_TARGET = 0.9
DEFAULT_REPORT_WINDOW_H = 24.0
DEFINITION_VERSION = "devices-2026.1"
KEEP_FILES = 500  # computations kept: enough for weeks of hourly runs, bounded on disk
IOT_ITEMS = {"device_id", "town_code", "sensor_type", "ts"}


def coverage_dir() -> Path:
    return get_settings().device_coverage_dir


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _video_counts(row: dict) -> dict:
    return {
        **row,
        "reporting_ratio": _ratio(row["reporting"], row["registered"]),
        "online_ratio": _ratio(row["online"], row["registered"]),
        "meets_target": row["registered"] > 0 and row["online"] / row["registered"] >= ONLINE_TARGET,
    }


def _video_sql(registry: str, status: str) -> str:
    """Per (department, town) of one cloud: registered, reporting and online channels."""
    return f"""
WITH registered AS (
    SELECT device_id, any_value(coalesce(owner, '未知')) AS department,
           any_value(CASE WHEN length(civil_code) >= 9 THEN left(civil_code, 9) ELSE civil_code END) AS town_code
    FROM {registry} WHERE device_id IS NOT NULL GROUP BY device_id),
latest AS (
    SELECT device_id, max(ts) AS last_ts, arg_max(status, ts) AS status
    FROM {status} WHERE device_id IS NOT NULL AND ts <= $as_of GROUP BY device_id)
SELECT department, town_code, count(*) AS registered,
       count(*) FILTER (WHERE last_ts >= $since) AS reporting,
       count(*) FILTER (WHERE last_ts >= $since AND latest.status = 'ON') AS online
FROM registered LEFT JOIN latest USING (device_id)
GROUP BY ALL ORDER BY ALL"""


def _unregistered_sql(registry: str, status: str) -> str:
    return f"""
SELECT count(DISTINCT device_id) FROM {status}
WHERE device_id IS NOT NULL AND ts <= $as_of AND ts >= $since
  AND device_id NOT IN (SELECT device_id FROM {registry} WHERE device_id IS NOT NULL)"""


def _cloud_resources(resources: Iterable) -> dict[str, dict[str, object]]:
    """cloud → {"registry": resource, "status": resource} from the bindings' device_role."""
    found: dict[str, dict[str, object]] = defaultdict(dict)
    for resource in resources:
        binding = resource.binding
        if binding and binding.system in VIDEO_CLOUDS and binding.config.get("device_role") in ("registry", "status"):
            found[binding.system][binding.config["device_role"]] = resource
    return found


def _staging(resource) -> str:
    return derive.quoted(derive.table_names(resource).staging)


def _sum(rows: list[dict], key: str, label: str | None = None) -> list[dict]:
    groups: dict[str, dict] = {}
    for row in rows:
        group = groups.setdefault(row[key], {key: row[key], "registered": 0, "reporting": 0, "online": 0})
        if label:
            group[label] = row[label]
        for field in ("registered", "reporting", "online"):
            group[field] += row[field]
    return [_video_counts(group) for _name, group in sorted(groups.items())]


def video_coverage(connection, resources: Iterable, as_of: datetime, staged: set[str]) -> dict:
    """The video clouds' device figures at `as_of` from staging (clouds not landed yet are listed as such)."""
    rows, clouds = [], []
    for cloud, title in VIDEO_CLOUDS.items():
        parts = _cloud_resources(resources).get(cloud, {})
        registry, status = parts.get("registry"), parts.get("status")
        window_h = float(
            (status.binding.config.get("report_window_hours") if status else None) or DEFAULT_REPORT_WINDOW_H
        )
        entry = {"cloud": cloud, "title": title, "window_hours": window_h, "registered": 0, "reporting": 0}
        entry.update(online=0, unregistered_reporting=0, landed=bool(registry and status))
        if registry is None or status is None or not {registry.id, status.id} <= staged:
            entry["landed"] = False
            clouds.append(_video_counts(entry))
            continue
        params = {"as_of": as_of, "since": as_of - timedelta(hours=window_h)}
        cursor = connection.execute(_video_sql(_staging(registry), _staging(status)), params)
        names = [d[0] for d in cursor.description]
        cloud_rows = [{"cloud": cloud, **dict(zip(names, values))} for values in cursor.fetchall()]
        for field in ("registered", "reporting", "online"):
            entry[field] = sum(row[field] for row in cloud_rows)
        unregistered = connection.execute(_unregistered_sql(_staging(registry), _staging(status)), params)
        entry["unregistered_reporting"] = unregistered.fetchone()[0]
        clouds.append(_video_counts(entry))
        rows += cloud_rows
    for row in rows:
        row["town"] = SHUNDE_TOWNS.get(row["town_code"], "区级" if row["town_code"] == "440606" else "未知")
    overall = {field: sum(c[field] for c in clouds) for field in ("registered", "reporting", "online")}
    return {
        "online_target": ONLINE_TARGET,
        "overall": _video_counts(overall),
        "by_cloud": clouds,
        "by_department": _sum(rows, "department"),
        "by_town": _sum(rows, "town_code", "town"),
        "by_cloud_department": [
            {"cloud": cloud, **group}
            for cloud in VIDEO_CLOUDS
            for group in _sum([row for row in rows if row["cloud"] == cloud], "department")
        ],
    }


def _iot_counts(row: dict) -> dict:
    return {**row, "ratio": _ratio(row["reporting"], row["registered"])}


def iot_coverage(connection, resources: Iterable, as_of: datetime, staged: set[str]) -> dict:
    """The IoT sensors' figures at `as_of`: registered vs reporting within cadence, per type and town."""
    policy, rows = CoveragePolicy.default(), []
    for resource in resources:
        if resource.domain != "iot" or not resource.binding or resource.id not in staged:
            continue
        if not IOT_ITEMS <= {item.name for item in resource.items}:
            continue
        cadence = policy.max_age_for(resource.update_cycle, resource.freshness_grace_hours)
        if cadence is None:
            continue
        sql = f"""
WITH sensors AS (
    SELECT device_id, any_value(sensor_type) AS sensor_type, any_value(town_code) AS town_code,
           max(ts) FILTER (WHERE ts <= $as_of) AS last_ts
    FROM {_staging(resource)} WHERE device_id IS NOT NULL GROUP BY device_id)
SELECT sensor_type, town_code, count(*) AS registered, count(*) FILTER (WHERE last_ts >= $since) AS reporting
FROM sensors GROUP BY ALL ORDER BY ALL"""
        cursor = connection.execute(sql, {"as_of": as_of, "since": as_of - cadence})
        for sensor_type, town_code, registered, reporting in cursor.fetchall():
            rows.append(
                {
                    "resource": resource.id,
                    "sensor_type": sensor_type or resource.id,
                    "cadence_hours": round(cadence.total_seconds() / 3600, 2),
                    "town_code": town_code,
                    "town": SHUNDE_TOWNS.get(town_code, "未知"),
                    "registered": registered,
                    "reporting": reporting,
                }
            )
    by_type: dict[tuple, dict] = {}
    by_town: dict[str, dict] = {}
    for row in rows:
        kind = by_type.setdefault(
            (row["sensor_type"], row["resource"]),
            {k: row[k] for k in ("sensor_type", "resource", "cadence_hours")} | {"registered": 0, "reporting": 0},
        )
        town = by_town.setdefault(row["town_code"], {"town_code": row["town_code"], "town": row["town"]})
        for field in ("registered", "reporting"):
            kind[field] += row[field]
            town[field] = town.get(field, 0) + row[field]
    overall = {field: sum(row[field] for row in rows) for field in ("registered", "reporting")}
    return {
        "overall": _iot_counts(overall),
        "by_type": [_iot_counts(v) for _k, v in sorted(by_type.items())],
        "by_town": [_iot_counts(v) for _k, v in sorted(by_town.items())],
    }


def compute(as_of: datetime | None = None, catalogue=None) -> dict:
    """Device-level figures at `as_of` (default now) from the current warehouse."""
    moment = as_of or clock.now()
    resources = lake.catalogue_resources(catalogue)
    connection = store.connect_reader()
    try:
        staged = {
            name
            for (name,) in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'"
            ).fetchall()
        }
        return {
            "definition_version": DEFINITION_VERSION,
            "computed_at": moment.isoformat(),
            "video": video_coverage(connection, resources, moment, staged),
            "iot": iot_coverage(connection, resources, moment, staged),
        }
    finally:
        connection.close()


def write(document: dict) -> Path:
    """Keep one computation for the catalogue to read (file named by its time; the oldest beyond KEEP_FILES go)."""
    folder = coverage_dir()
    folder.mkdir(parents=True, exist_ok=True)
    moment = datetime.fromisoformat(document["computed_at"])
    path = write_atomic(folder / stamp_name(moment), json.dumps(document, ensure_ascii=False, indent=1).encode())
    for stale in sorted(folder.glob("*.json"))[:-KEEP_FILES]:
        stale.unlink(missing_ok=True)
    return path


def refresh(as_of: datetime | None = None) -> Path:
    """Compute the device figures now and keep them for the catalogue: what the flows call after staging."""
    return write(compute(as_of))
