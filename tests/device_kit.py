"""Device-level coverage fixtures (imported as `device_kit`): the three video clouds' stand-ins seeded,
their rows put into staging as the gate passes them, and the figures an independent reading of the
stand-ins' own stores gives.

Staging is filled straight from the stand-in stores (rows with a well-formed 20-digit channel ID, one
per key) rather than through Kafka: these tests are about what is counted from staging, and the
e2e demo runs the same resources through connect → land → gate → stage.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from datetime import datetime, timedelta

import pyarrow as pa
from seed_kit import seed_catalogue

from catalog.reference import SHUNDE_TOWNS
from catalog.systems import VIDEO_CLOUDS
from synthetic import generate
from synthetic.base import DEFAULT_AS_OF
from synthetic.sinks import http_store
from warehouse import store

CHANNEL_ID = re.compile(r"^\d{20}$")
CLOUD_RESOURCES = {
    cloud: {role: f"{cloud.removeprefix('video_cloud_')}_cloud_{part}" for role, part in (
        ("registry", "devices"), ("status", "status"), ("alerts", "ai_alerts"))}
    for cloud in VIDEO_CLOUDS
}  # fmt: skip
AS_OF = DEFAULT_AS_OF


def store_rows(cloud: str, resource_id: str) -> list[dict]:
    db = sqlite3.connect(http_store(cloud))
    db.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in db.execute(f'SELECT * FROM "{resource_id}" ORDER BY _seq')]
    finally:
        db.close()


def _passed(rows: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """What the gate lets through, for the columns device coverage reads: a well-formed channel ID, once per key."""
    seen, kept = set(), []
    for row in rows:
        key = tuple(row.get(k) for k in keys)
        if not CHANNEL_ID.match(str(row.get("device_id") or "")) or key in seen:
            continue
        seen.add(key)
        kept.append({k: v for k, v in row.items() if k != "_seq"})
    return kept


def seed_and_stage(scale: str = "tiny") -> dict[str, dict[str, list[dict]]]:
    """Seed the clouds' stand-ins and fill staging from them; returns cloud → role → the staged rows."""
    resources = {r.id: r for r in seed_catalogue().resources}
    only = {rid for roles in CLOUD_RESOURCES.values() for rid in roles.values()}
    generate.seed(scale, 7, only=only)
    staged: dict[str, dict[str, list[dict]]] = defaultdict(dict)
    with store.writer() as connection:
        for cloud, roles in CLOUD_RESOURCES.items():
            for role in ("registry", "status"):
                resource = resources[roles[role]]
                keys = tuple(item.name for item in resource.items if item.key)
                rows = _passed(store_rows(cloud, resource.id), keys)
                store.ensure_staging_table(connection, resource)
                table = pa.Table.from_pylist(rows)  # noqa: F841 (read by DuckDB by name)
                names = ", ".join(f'"{name}"' for name in table.column_names)
                connection.execute(f'INSERT INTO staging."{resource.id}" ({names}) SELECT {names} FROM "table"')
                staged[cloud][role] = rows
    return staged


def expected_figures(staged: dict, as_of: datetime = AS_OF, window_h: float = 24.0) -> dict:
    """Registered / reporting / online per cloud, department and town, counted in Python from the rows."""
    since = as_of - timedelta(hours=window_h)
    by = {"cloud": defaultdict(lambda: [0, 0, 0]), "department": defaultdict(lambda: [0, 0, 0])}
    by["town"] = defaultdict(lambda: [0, 0, 0])
    unregistered = {}
    for cloud, roles in staged.items():
        latest: dict[str, tuple[datetime, str]] = {}
        for event in roles["status"]:
            moment = datetime.fromisoformat(event["ts"])
            if moment <= as_of and (event["device_id"] not in latest or moment > latest[event["device_id"]][0]):
                latest[event["device_id"]] = (moment, event["status"])
        registered = {}
        for row in roles["registry"]:
            registered.setdefault(row["device_id"], row)
        for device_id, row in registered.items():
            last = latest.get(device_id)
            reporting = bool(last and last[0] >= since)
            online = reporting and last[1] == "ON"
            for group, key in (("cloud", cloud), ("department", row["owner"]), ("town", row["civil_code"][:9])):
                counts = by[group][key]
                counts[0] += 1
                counts[1] += reporting
                counts[2] += online
        unregistered[cloud] = sum(1 for d, (m, _s) in latest.items() if d not in registered and m >= since)
    return {group: {key: tuple(v) for key, v in rows.items()} for group, rows in by.items()} | {
        "unregistered": unregistered
    }


def town_name(code: str) -> str:
    return SHUNDE_TOWNS.get(code, "未知")


IOT_RESOURCES = ("manhole_covers", "smoke_alarms", "air_quality")


def seed_and_stage_iot(scale: str = "tiny") -> dict[str, list[dict]]:
    """Seed some IoT resources and stage their readable messages; returns resource → the staged rows."""
    import json

    from connectors import systems

    resources = {r.id: r for r in seed_catalogue().resources}
    generate.seed(scale, 7, only=set(IOT_RESOURCES))
    staged: dict[str, list[dict]] = defaultdict(list)
    seen = set()
    for line in (systems.sources_dir() / "iot_outbox.jsonl").read_text(encoding="utf-8").splitlines():
        message = json.loads(line)
        try:
            row = json.loads(message["payload"])
        except ValueError:
            continue  # the unreadable payload goes to the DLQ, not to staging
        moment = datetime.fromisoformat(row["ts"].replace("Z", "+00:00"))  # landing makes UTC times local
        key = (message["resource"], row["device_id"], moment)
        if key not in seen:
            seen.add(key)
            staged[message["resource"]].append({**row, "ts": moment})
    with store.writer() as connection:
        for resource_id, rows in staged.items():
            resource = resources[resource_id]
            store.ensure_staging_table(connection, resource)
            columns = [item.name for item in resource.items]
            table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])  # noqa: F841
            names = ", ".join(f'"{name}"' for name in columns)
            connection.execute(f'INSERT INTO staging."{resource_id}" ({names}) SELECT {names} FROM "table"')
    return staged


def expected_iot(staged: dict[str, list[dict]], cadence_hours: dict[str, float], as_of: datetime = AS_OF) -> dict:
    """(sensor type, resource) → (registered, reporting), and town → (registered, reporting)."""
    by_type: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    by_town: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for resource_id, rows in staged.items():
        newest: dict[str, tuple[datetime | None, dict]] = {}
        for row in rows:
            moment = row["ts"] if row["ts"] <= as_of else None
            earlier = newest.get(row["device_id"], (None, row))[0]
            newest[row["device_id"]] = (max(filter(None, (moment, earlier)), default=None), row)
        since = as_of - timedelta(hours=cadence_hours[resource_id])
        first_of = {}
        for row in rows:
            first_of.setdefault(row["device_id"], row)
        for device_id, (moment, _row) in newest.items():
            reporting = moment is not None and moment >= since
            for counts in (
                by_type[(first_of[device_id]["sensor_type"], resource_id)],
                by_town[first_of[device_id]["town_code"]],
            ):
                counts[0] += 1
                counts[1] += reporting
    return {"by_type": {k: tuple(v) for k, v in by_type.items()}, "by_town": {k: tuple(v) for k, v in by_town.items()}}
