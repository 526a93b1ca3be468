"""The video platform's content: the GB/T 28181 device catalogue (cameras under NVRs, owned by
the departments that installed them, near town centres) and the device status event log
(register / keepalive / keepalive_timeout / unregister), consistent with each other: a device's
catalogue status is its last event's. About 92 % of devices are online (target ≥ 90 %).

Camera-level defects (malformed IDs, positions) come from one plan shared by both resources, so
a malformed ID shows up in the catalogue and in that camera's events alike. A record without a
device ID (the unreadable case) is identified as "#<n>": the n-th item the endpoint serves.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from catalog.reference import SHUNDE_TOWNS
from quality.geo import wgs84_to_gcj02
from synthetic import codes, texts
from synthetic.base import CHUNK_ROWS, Chunk, ResourceContext, iso_ts_seconds, stable_seed
from synthetic.defects import plan_defects
from synthetic.gisfiles import Projector, project_4547
from synthetic.values import gps_fix, point_near_town

SMALL_CAMERAS, FULL_CAMERAS = 1000, 60_000
ONLINE_SHARE = 0.92
CAMERAS_PER_NVR = 32
NVR_SERIAL_BASE = 900_000
STEP_CAMERA_BASE = 700_000  # serials of cameras installed in later steps (2 000 per step)
# owner, industry code, network code, weight
OWNERS = (
    ("区公安分局", "00", "5", 0.45),
    ("区公安分局", "05", "5", 0.1),
    ("区交通运输局", "04", "6", 0.12),
    ("区城市管理和综合执法局", "08", "6", 0.1),
    ("区教育局", "11", "6", 0.08),
    ("镇街综治中心", "01", "6", 0.12),
    ("区生态环境分局", "09", "6", 0.03),
)
MAKERS = (
    ("海康威视", ("DS-2DE7423IW-A", "DS-2CD3T46WDV3-I3", "DS-2CD2347G2-LU")),
    ("大华", ("DH-SD6C3432XA-HNR", "DH-IPC-HFW4443M-I2")),
    ("宇视", ("IPC2124LB-SF40KM-G", "HIC6621E-IR")),
    ("华为", ("X2221-10-HL", "M2241-QL")),
    ("天地伟业", ("TC-NC9401S3E-MP-E-I5",)),
)
PTZ_NAMES = {1: "球机", 2: "半球", 3: "枪机", 4: "遥控枪机"}
CAMERA_DEFECTS = (
    "camera_id_malformed",
    "coord_gcj02",
    "coord_swapped",
    "coord_null_island",
    "coord_outside_box",
    "duplicate_exact",
    "near_duplicate_fullwidth",
)
EVENT_DEFECTS = ("duplicate_exact",)


@dataclass
class Camera:
    index: int
    device_id: str
    parent_id: str
    town9: str
    owner: str
    lon: float
    lat: float
    history: list  # [(ts, status, reason)] oldest first; the last one is the current status


def camera(seed: int, index: int, as_of: datetime) -> Camera:
    """The deterministic model of camera `index` and its event history up to `as_of`."""
    rng = random.Random(stable_seed(seed, "camera", index))
    owner, industry, network, _w = rng.choices(OWNERS, [w for *_, w in OWNERS])[0]
    device_type = rng.choice(("131", "132", "132", "132"))
    town9 = rng.choice(tuple(SHUNDE_TOWNS))
    lon, lat = point_near_town(rng, town9, 0.03)
    moment = as_of - timedelta(days=rng.uniform(1, 7))
    history = [(moment, "ON", "register")]
    for _ in range(rng.randrange(0, 6)):
        moment += timedelta(hours=rng.uniform(0.5, 20))
        if moment >= as_of:
            break
        status = history[-1][1]
        history.append(
            (moment, "OFF", rng.choice(("keepalive_timeout", "keepalive_timeout", "unregister")))
            if status == "ON"
            else (moment, "ON", "register")
        )
    if (history[-1][1] == "ON") != (rng.random() < ONLINE_SHARE):
        last = history[-1][0] + (as_of - history[-1][0]) * rng.uniform(0.2, 0.9)
        history.append((last, "OFF", "keepalive_timeout") if history[-1][1] == "ON" else (last, "ON", "register"))
    return Camera(
        index,
        codes.camera_id(industry, device_type, network, index % 1_000_000),
        codes.camera_id(industry, "118", network, NVR_SERIAL_BASE + index // CAMERAS_PER_NVR),
        town9,
        owner,
        lon,
        lat,
        history,
    )


def camera_plan(seed: int, count: int) -> dict[int, str]:
    """Camera index → its camera-level defect, shared by the catalogue and the event log."""
    plan: dict[int, str] = {}
    for first in range(0, count, CHUNK_ROWS):
        size = min(CHUNK_ROWS, count - first)
        chunk = plan_defects(size, CAMERA_DEFECTS, random.Random(stable_seed(seed, "camera-plan", first)))
        plan.update({first + offset: defect for offset, defect in chunk.items()})
    return plan


def malformed_id(seed: int, c: Camera) -> str:
    """The 19- or 21-digit ID a misconfigured camera reports (the same in catalogue and events)."""
    return codes.malformed_camera_id(c.device_id, random.Random(stable_seed(seed, "camera-malformed", c.index)))


def _device_row(c: Camera, defect: str | None, rng: random.Random, *, surveyed: bool = True) -> dict:
    """A device catalogue row; `surveyed=False` leaves zbx / zby for `with_surveys` to fill."""
    maker, models = rng.choice(MAKERS)
    ptz = rng.choice((1, 2, 3, 3, 3, 4))
    # The installer's GPS fix of the camera (the 一机一档 survey below is exact).
    lon, lat = gps_fix(random.Random(stable_seed(c.device_id, "gps")), c.lon, c.lat)
    if defect == "coord_gcj02":
        lon, lat = (round(v, 6) for v in wgs84_to_gcj02(lon, lat))
    elif defect == "coord_swapped":
        lon, lat = lat, lon
    elif defect == "coord_null_island":
        lon, lat = 0.0, 0.0
    elif defect == "coord_outside_box":
        lon, lat = round(lon + rng.uniform(0.6, 1.0), 6), round(lat - rng.uniform(0.5, 0.8), 6)
    road = rng.choice(texts.ROADS)
    return {
        "device_id": c.device_id,
        "name": f"{texts.TOWN_SHORT[c.town9]}{road}{rng.randrange(1, 300)}号{PTZ_NAMES[ptz]}",
        "manufacturer": maker,
        "model": rng.choice(models),
        "owner": c.owner,
        "civil_code": c.town9 if rng.random() < 0.6 else f"{c.town9}{rng.randrange(1, 40):03d}",
        "address": f"广东省佛山市顺德区{SHUNDE_TOWNS[c.town9]}{road}",
        "parent_id": c.parent_id,
        "status": c.history[-1][1],
        "ip_address": f"10.{int(c.town9[-3:]) % 250}.{c.index // 250 % 250}.{c.index % 250 + 2}",
        "port": rng.choice((5060, 5060, 80, 8000)),
        "longitude": lon,
        "latitude": lat,
        "ptz_type": ptz,
        # The installation survey of the camera registry (一机一档), EPSG:4547: the reference that shows
        # a position placed on a web map (GCJ-02) and labelled WGS84.
        **dict(zip(("zbx", "zby"), (round(v, 2) for v in project_4547(c.lon, c.lat)) if surveyed else (None, None))),
    }


def with_surveys(rows: list[tuple[dict, Camera]]) -> Chunk:
    """The rows with zbx / zby, their camera's survey, filled in one projection for the chunk (a
    projection per row was a third of a device row's time); the rows as written."""
    projector = Projector()
    positions = [projector.defer(c.lon, c.lat) for _row, c in rows]
    projector.flush()
    for (row, _c), (easting, northing) in zip(rows, positions):
        row["zbx"], row["zby"] = round(easting, 2), round(northing, 2)
    return [row for row, _c in rows]


def _step_changes(ctx: ResourceContext, count: int) -> tuple[list[int], list[tuple[int, datetime, str, str]]]:
    """A later step: new camera indexes, and (index, ts, status, reason) status changes."""
    rng = random.Random(stable_seed(ctx.seed, "camera-step", ctx.step))
    start, end = ctx.window
    new = [STEP_CAMERA_BASE + (ctx.step % 100) * 2000 + j for j in range(ctx.step_count(count, 0.002))]
    changes = []
    for index in sorted({rng.randrange(count) for _ in range(ctx.step_count(count, 0.02))}):
        status = "ON" if rng.random() < ONLINE_SHARE else "OFF"
        changes.append(
            (
                index,
                start + (end - start) * rng.uniform(0.01, 0.99),
                status,
                "register" if status == "ON" else "keepalive_timeout",
            )
        )
    for index in new:
        changes.append((index, start + (end - start) * rng.uniform(0.01, 0.99), "ON", "register"))
    return new, sorted(changes, key=lambda change: change[1])


def devices(ctx: ResourceContext) -> Iterator[Chunk]:
    """The device catalogue (GET /api/v1/devices); later steps add cameras and change statuses."""
    count = ctx.size(SMALL_CAMERAS, FULL_CAMERAS)
    plan = camera_plan(ctx.seed, count)
    if ctx.step > 0:
        new, changes = _step_changes(ctx, count)
        ctx.expected = len(new)
        rows = [
            {**_device_row(camera(ctx.seed, index, ctx.as_of), None, ctx.random(f"device{index}")), "status": "ON"}
            for index in new
        ]
        for index, _ts, status, _reason in changes:
            if index < count:  # the sink updates the catalogue entry as written (a malformed ID included)
                c = camera(ctx.seed, index, ctx.base_as_of)
                written = malformed_id(ctx.seed, c) if plan.get(index) == "camera_id_malformed" else c.device_id
                rows.append({"_update": ("device_id", written), "status": status})
        yield rows
        return
    ctx.expected = count
    unreadable_at = ctx.random("unreadable").randrange(count)
    position = 0
    for first in range(0, count, CHUNK_ROWS):
        chunk: list[tuple[dict, Camera]] = []
        for index in range(first, min(count, first + CHUNK_ROWS)):
            c, defect = camera(ctx.seed, index, ctx.base_as_of), plan.get(index)
            row = _device_row(c, defect, ctx.random(f"device{index}"), surveyed=False)
            if defect == "camera_id_malformed":
                row["device_id"] = malformed_id(ctx.seed, c)
            rows = [row]
            if defect == "duplicate_exact":
                rows.append(dict(row))
            elif defect == "near_duplicate_fullwidth":
                rows.append({**row, "name": texts.near_duplicate(row["name"], ctx.rng)})
            if defect:
                ctx.tally.record(row, defect)
            if index == unreadable_at:
                row["device_id"] = None
                ctx.tally.record_identity(f"#{position + 1}", "unreadable_row")
            position += len(rows)
            chunk.extend((each, c) for each in rows)
        yield with_surveys(chunk)


def status_events(ctx: ResourceContext) -> Iterator[Chunk]:
    """The status event log (GET /api/v1/device-status), in time order."""
    count = ctx.size(SMALL_CAMERAS, FULL_CAMERAS)
    plan = camera_plan(ctx.seed, count)
    malformed = {
        index: malformed_id(ctx.seed, camera(ctx.seed, index, ctx.base_as_of))
        for index, defect in plan.items()
        if defect == "camera_id_malformed"
    }
    if ctx.step > 0:
        _new, changes = _step_changes(ctx, count)
        events = []
        for index, ts, status, reason in changes:
            device_id = malformed.get(index) or camera(ctx.seed, index, ctx.as_of).device_id
            events.append(
                (ts, index, {"device_id": device_id, "ts": iso_ts_seconds(ts), "status": status, "reason": reason})
            )
    else:
        events = []
        for index in range(count):
            c = camera(ctx.seed, index, ctx.base_as_of)
            for ts, status, reason in c.history:
                events.append(
                    (
                        ts,
                        index,
                        {
                            "device_id": malformed.get(index, c.device_id),
                            "ts": iso_ts_seconds(ts),
                            "status": status,
                            "reason": reason,
                        },
                    )
                )
        events.sort(key=lambda event: (event[0], event[1]))
    ctx.expected = len(events)
    yield from _event_chunks(ctx, events, malformed)


def _event_chunks(ctx: ResourceContext, events: list, malformed: dict) -> Iterator[Chunk]:
    position = ctx.previous_records
    unreadable_at = ctx.random("unreadable").randrange(len(events)) if events and ctx.step == 0 else -1
    for first in range(0, len(events), CHUNK_ROWS):
        batch = events[first : first + CHUNK_ROWS]
        plan = plan_defects(len(batch), EVENT_DEFECTS, ctx.random(f"plan{first}"))
        chunk: Chunk = []
        for offset, (_ts, index, row) in enumerate(batch):
            rows = [row, dict(row)] if plan.get(offset) == "duplicate_exact" else [row]
            if len(rows) == 2:
                ctx.tally.record(row, "duplicate_exact")
            if index in malformed:
                ctx.tally.record(row, "camera_id_malformed")
            if first + offset == unreadable_at:
                row["device_id"] = None
                ctx.tally.record_identity(f"#{position + 1}", "unreadable_row")
            position += len(rows)
            chunk.extend(rows)
        yield chunk
