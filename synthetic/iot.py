"""IoT telemetry for the MQTT broker: one generator for every sensor type, driven by the bound
resource's topic filter (sd/+/<type>/+/telemetry) and its items.

Each sensor reports every 5 minutes; values are physical (river levels mostly 0–1 m with a
tide, waterlogging 0 except where it rains, PM2.5 log-normal around 30, noise 40–85 dB(A),
manhole tilt with rare alarms above 15°, smoke detectors with rare alarms). Defects: QoS 1
redeliveries (exact duplicates), device clocks in UTC ("Z") instead of +08:00, and payloads
that are not JSON (the unreadable rows).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from catalog.reference import SHUNDE_TOWNS
from synthetic.base import CHUNK_ROWS, Chunk, ResourceContext, iso_ts_seconds, stable_seed
from synthetic.defects import plan_defects
from synthetic.values import maker_for

INTERVAL = timedelta(minutes=5)
# sensor type in the topic: (small sensors, full sensors, device-id prefix)
SENSORS = {
    "waterlevel": (25, 600, "WL"),
    "waterlogging": (30, 800, "WG"),
    "pm25": (20, 300, "AQ"),
    "noise": (20, 300, "NS"),
    "manhole": (40, 1500, "MH"),
    "smoke": (40, 1200, "SM"),
}
OTHER_SENSORS = (5, 60)
READINGS = {"tiny": 3, "small": 6, "medium": 6, "full": 288}  # per sensor at step 0 (full: one day)
TELEMETRY_DEFECTS = ("duplicate_exact", "iot_ts_utc", "unreadable_row")
# pollutant, typical concentration, discharge limit (mg/L or mg/m³; ≈ GB 8978 / GB 16297 levels)
POLLUTANTS = (
    ("COD", 45.0, 100.0),
    ("氨氮", 4.0, 15.0),
    ("总磷", 0.4, 1.0),
    ("二氧化硫", 60.0, 400.0),
    ("氮氧化物", 80.0, 240.0),
    ("颗粒物", 15.0, 120.0),
)


def sensor_type(resource) -> str:
    """The type level of the topic filter, e.g. sd/+/pm25/+/telemetry → pm25."""
    levels = str(resource.binding.config["topic_filter"]).split("/")
    return levels[2] if len(levels) > 2 else levels[-1]


def _value(kind: str, sensor: random.Random, rng: random.Random, moment: datetime, state: dict) -> dict:
    """The type's measured value and its companion fields."""
    hours = moment.timestamp() / 3600
    if kind == "waterlevel":
        return {"value": round(state["base"] + 0.3 * math.sin(2 * math.pi * hours / 12.42) + rng.gauss(0, 0.02), 3)}
    if kind == "waterlogging":
        depth = max(0.0, state["rain"] * (30 + 20 * math.sin(hours)) + rng.gauss(0, 1)) if state["rain"] else 0.0
        return {
            "value": round(depth, 1),
            "alarm_level": str(0 if depth < 15 else 1 if depth < 30 else 2 if depth < 50 else 3),
        }
    if kind == "pm25":
        pm25 = min(480.0, state["base"] * rng.lognormvariate(0, 0.15))
        return {
            "value": round(pm25, 1),
            "pm10": round(pm25 * rng.uniform(1.3, 2.0), 1),
            "aqi": int(min(500, pm25 * 1.4 + 5)),
        }
    if kind == "noise":
        return {"value": round(min(85.0, max(40.0, state["base"] + rng.gauss(0, 3))), 1)}
    if kind == "manhole":
        tilt = state["tilt"] + abs(rng.gauss(0, 0.2))
        return {"value": round(tilt, 2), "alarm": tilt > 15, "overflow_alarm": rng.random() < 0.002}
    if kind == "smoke":
        alarm = state["fire"]
        return {"value": round(rng.uniform(1.5, 4.0) if alarm else abs(rng.gauss(0.01, 0.01)), 3), "alarm": alarm}
    if kind == "gasleak":  # %LEL: a trace, or a leak above the 20 % alarm level
        level = rng.uniform(25, 60) if state["fire"] else abs(rng.gauss(0.3, 0.4))
        return {"value": round(level, 2), "alarm": level > 20}
    if kind == "rainfall":  # mm in 5 minutes, where it rains
        return {"value": round(state["rain"] * rng.uniform(0.5, 5.0), 1) if state["rain"] else 0.0}
    if kind == "dust":  # µg/m³ at a building site
        pm10 = state["base"] * 2.5 * rng.lognormvariate(0, 0.2)
        return {"value": round(pm10, 1), "pm25": round(pm10 * rng.uniform(0.4, 0.6), 1)}
    if kind == "waterquality":  # dissolved oxygen, pH, ammonia nitrogen, permanganate index
        return {
            "value": round(rng.uniform(4.0, 8.0), 2),
            "ph": round(rng.uniform(6.6, 8.2), 2),
            "nh3n": round(rng.lognormvariate(-0.5, 0.5), 3),
            "codmn": round(rng.uniform(2.0, 6.0), 2),
        }
    if kind == "outlet":  # a discharge concentration against its permit limit
        pollutant, typical, limit = state["pollutant"]
        value = typical * rng.lognormvariate(0, 0.25) * (1.8 if state["fire"] else 1.0)
        return {"value": round(value, 3), "pollutant": pollutant, "over_limit": value > limit}
    return {}


def _sensor_state(kind: str, sensor: random.Random) -> dict:
    return {
        "base": {
            "waterlevel": sensor.uniform(0.2, 0.8),
            "pm25": sensor.uniform(15, 55),
            "dust": sensor.uniform(25, 60),
            "noise": sensor.uniform(50, 70),
        }.get(kind, 0.0),
        "rain": sensor.uniform(0.3, 1.5) if sensor.random() < 0.1 else 0.0,
        "tilt": sensor.uniform(16, 40) if sensor.random() < 0.02 else sensor.uniform(0, 3),
        "fire": sensor.random() < 0.005,
        "battery": sensor.uniform(30, 100),
        "pollutant": sensor.choice(POLLUTANTS),
    }


def _messages(ctx: ResourceContext, kind: str) -> Iterator[tuple[datetime, dict]]:
    """Every sensor's readings in time order, one 5-minute slot at a time (memory: one slot)."""
    small, full, prefix = SENSORS.get(kind, (*OTHER_SENSORS, kind[:2].upper()))
    items = list(ctx.resource.items)
    makers = {item.name: maker_for(item, ctx.as_of) for item in items}
    unit = next((item.rules.values[0] for item in items if item.name == "unit" and item.rules.values), None)
    start, end = ctx.window
    count = READINGS.get(ctx.scale, 6) if ctx.step == 0 else int((end - start) / INTERVAL)
    sensors = []
    for index in range(ctx.size(small, full)):
        sensor = random.Random(stable_seed(ctx.seed, ctx.resource.id, "sensor", index))
        town9 = sensor.choice(tuple(SHUNDE_TOWNS))
        device_id = f"{prefix}-{town9}-{index:04d}"
        # What a sensor reports besides its measurements (site code, unit owner …) stays the same.
        fixed = {item.name: None if item.key else makers[item.name](sensor, index) for item in items}
        sensors.append(
            (
                index,
                sensor,
                town9,
                device_id,
                _sensor_state(kind, sensor),
                timedelta(seconds=sensor.randrange(0, 300)),
                _topic(ctx, town9, device_id),
                fixed,
            )
        )
    ctx.expected = count * len(sensors)
    rng = ctx.rng
    for k in range(count):
        slot = []
        for index, sensor, town9, device_id, state, offset, topic, fixed in sensors:
            moment = end - INTERVAL * (count - k) + offset  # inside slot k: slots never interleave
            # In item order, so a payload lists device_id and ts first, as devices send them.
            row = dict(fixed)
            row.update({"device_id": device_id, "town_code": town9, "sensor_type": kind, "ts": moment})
            if unit:
                row["unit"] = unit
            if "battery" in row:
                row["battery"] = round(state["battery"] - 0.001 * k, 1)
            row.update(_value(kind, sensor, rng, moment, state))
            row["_topic"] = topic
            slot.append((moment, row))
        slot.sort(key=lambda pair: (pair[0], pair[1]["device_id"]))
        yield from slot


def _topic(ctx: ResourceContext, town9: str, device_id: str) -> str:
    levels, filled = [], 0
    for level in str(ctx.resource.binding.config["topic_filter"]).split("/"):
        if level == "+":
            levels.append(town9 if filled == 0 else device_id)
            filled += 1
        else:
            levels.append("telemetry" if level == "#" else level)
    return "/".join(levels)


def truncated_payload(row: dict, keys: list[str]) -> str:
    """The JSON text cut off just after its key values (still naming the record), so not JSON."""
    text = json.dumps({k: v for k, v in row.items() if not k.startswith("_")}, ensure_ascii=False)
    cut = max(
        text.find(json.dumps(row[key], ensure_ascii=False)) + len(json.dumps(row[key], ensure_ascii=False))
        for key in keys
    )
    return text[: min(len(text) - 2, max(cut + 2, len(text) * 2 // 3))]


def telemetry(ctx: ResourceContext) -> Iterator[Chunk]:
    """Messages of every sensor of the resource's type, in time order."""
    batch: list[tuple[datetime, dict]] = []
    first = 0
    for message in _messages(ctx, sensor_type(ctx.resource)):
        batch.append(message)
        if len(batch) >= CHUNK_ROWS:
            yield _with_defects(ctx, batch, first)
            first, batch = first + len(batch), []
    if batch:
        yield _with_defects(ctx, batch, first)


def _with_defects(ctx: ResourceContext, batch: list[tuple[datetime, dict]], first: int) -> Chunk:
    plan = plan_defects(
        len(batch),
        TELEMETRY_DEFECTS,
        ctx.random(f"plan{first}"),
        minimum={"unreadable_row": 1 if first == 0 and ctx.step == 0 else 0},
    )
    chunk: Chunk = []
    for offset, (moment, row) in enumerate(batch):
        defect = plan.get(offset)
        row["ts"] = (
            moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            if defect == "iot_ts_utc"
            else iso_ts_seconds(moment)
        )
        if defect == "unreadable_row":
            # A device firmware bug: the payload is cut off mid-object, so it is not JSON.
            row["_payload"] = truncated_payload(row, ctx.key_columns())
        chunk.append(row)
        if defect == "duplicate_exact":
            chunk.append(dict(row))
        if defect:
            ctx.tally.record(row, defect)
    return chunk
