"""The three video clouds of the district's public video surveillance cloud (公安网视频云平台,
城市视频专网视频云平台, 政务视频网视频云平台; catalog/systems.py declares them): per cloud a GB/T 28181
device catalogue (一机一档, channels owned by 21 departments), a status event log and the AI alert
events of 21 algorithm types. At full scale the three hold 60,600 channels.

The channel model is the video platform's (synthetic/video.py) with three things added that device-
level coverage needs: the owner is a department of catalog/seed/departments.yaml, each department
has its own online share (some fall below the 90 % target), and most channels send a keepalive
within the last day while some fell silent days ago (registered, not reporting). A few channels
report without being in the catalogue (removed from 一机一档 but still sending): valid records the
coverage counts as unregistered, not defects.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from catalog.reference import SHUNDE_TOWNS
from synthetic import codes, texts
from synthetic.base import CHUNK_ROWS, Chunk, ResourceContext, iso_ts_seconds, stable_seed
from synthetic.defects import plan_defects
from synthetic.values import point_near_town
from synthetic.video import Camera, _device_row, _event_chunks, camera_plan, malformed_id, with_surveys

REPORTING_SHARE = 0.96  # channels with a keepalive in the last day; the rest fell silent 26 h – 6 d ago
UNREGISTERED_SHARE = 0.005  # channels that report but are not in the catalogue
#: The towns' own departments (catalog/seed/departments.yaml) and their division codes.
TOWN_DEPARTMENTS = {
    "town_lunjiao": "440606003", "town_leliu": "440606004", "town_daliang": "440606005",
    "town_ronggui": "440606006", "town_chencun": "440606101", "town_beijiao": "440606102",
    "town_lecong": "440606103", "town_longjiang": "440606104", "town_xingtan": "440606105",
    "town_junan": "440606106",
}  # fmt: skip
#: The 21 algorithm scenarios of the cloud's AI analysis (what an alert's `alg_type` may be).
ALGORITHMS = (
    "人员聚集", "区域入侵", "烟火识别", "占道经营", "车辆违停", "人员倒地", "打架斗殴", "翻越围栏",
    "垃圾暴露", "渣土车未密闭", "河道漂浮物", "违规游泳", "人员徘徊", "非机动车乱停", "沿街晾晒",
    "店外经营", "道路积水", "井盖缺失", "未戴安全帽", "消防通道占用", "电动车进电梯",
)  # fmt: skip
ALERT_DEFECTS = ("confidence_out_of_range", "alert_type_unknown", "duplicate_exact", "camera_id_malformed")
ALERTS_PER_CHANNEL = 0.5  # alerts a day per channel, over the seed's day of history


@dataclass(frozen=True)
class Cloud:
    network: str  # GB/T 28181 network digit of its IDs (2 监控报警专网, 5 公安信息网, 6 政务网)
    small: int
    full: int
    serial_base: int
    owners: tuple[tuple[str, str, float], ...]  # department id, industry code (quality.rules accepts), weight


CLOUDS = {
    "video_cloud_police": Cloud("5", 500, 36_000, 0, (("gaj", "00", 0.92), ("sfj", "01", 0.08))),
    "video_cloud_city": Cloud(
        "2",
        300,
        15_000,
        100_000,
        (
            ("cgj", "08", 0.3),
            ("jtysj", "04", 0.2),
            ("zjslj", "08", 0.12),
            ("sthjj", "09", 0.08),
            ("jyj", "11", 0.1),
            ("wsjkj", "09", 0.06),
            ("nyncj", "09", 0.05),
            ("zrzyj", "08", 0.04),
            ("yjglj", "00", 0.05),
        ),
    ),
    "video_cloud_gov": Cloud("6", 200, 9_600, 200_000, tuple((town, "01", 0.1) for town in TOWN_DEPARTMENTS)),
}


def cloud_of(ctx: ResourceContext) -> tuple[str, Cloud]:
    system = ctx.resource.binding.system
    return system, CLOUDS[system]


def channel_count(ctx: ResourceContext) -> int:
    cloud = cloud_of(ctx)[1]
    return ctx.size(cloud.small, cloud.full)


def online_share(seed: int, department: str) -> float:
    """The department's own share of channels online (its maintenance, not chance, sets it)."""
    return random.Random(stable_seed(seed, "online-share", department)).uniform(0.84, 0.97)


def channel(seed: int, system: str, index: int, as_of: datetime) -> Camera:
    """Channel `index` of cloud `system` and its status history up to `as_of` (oldest first)."""
    cloud = CLOUDS[system]
    rng = random.Random(stable_seed(seed, system, "channel", index))
    owner, industry, _w = rng.choices(cloud.owners, [w for *_, w in cloud.owners])[0]
    town9 = TOWN_DEPARTMENTS.get(owner) or rng.choice(tuple(SHUNDE_TOWNS))
    lon, lat = point_near_town(rng, town9, 0.03)
    reporting = rng.random() < REPORTING_SHARE
    end = as_of - timedelta(hours=rng.uniform(0.05, 20) if reporting else rng.uniform(26, 144))
    moment = end - timedelta(days=rng.uniform(1, 5))
    history = [(moment, "ON", "register")]
    for _ in range(rng.randrange(0, 4)):
        moment += timedelta(hours=rng.uniform(0.5, 20))
        if moment >= end:
            break
        online = history[-1][1] == "ON"
        history.append((moment, "OFF", "keepalive_timeout") if online else (moment, "ON", "register"))
    if rng.random() < online_share(seed, owner):  # the last word: a keepalive, or a re-register after a timeout
        history.append((end, "ON", "keepalive" if history[-1][1] == "ON" else "register"))
    else:
        history.append((end, "OFF", "keepalive_timeout"))
    device_type = rng.choice(("131", "132", "132"))
    serial = cloud.serial_base + index
    return Camera(
        index,
        codes.camera_id(industry, device_type, cloud.network, serial),
        codes.camera_id(industry, "118", cloud.network, 900_000 + serial // 32),
        town9,
        owner,
        lon,
        lat,
        history,
    )


def _plan(ctx: ResourceContext, count: int) -> dict[int, str]:
    return camera_plan(stable_seed(ctx.seed, cloud_of(ctx)[0]), count)


def devices(ctx: ResourceContext) -> Iterator[Chunk]:
    """A cloud's device catalogue (GET /api/v1/devices): one row per registered channel (一机一档)."""
    system, _cloud = cloud_of(ctx)
    if ctx.step > 0:
        return  # the registry changes by survey, not by the hour
    count = channel_count(ctx)
    plan = _plan(ctx, count)
    ctx.expected = count
    unreadable_at = ctx.random("unreadable").randrange(count)
    position = 0
    for first in range(0, count, CHUNK_ROWS):
        chunk: list[tuple[dict, Camera]] = []
        for index in range(first, min(count, first + CHUNK_ROWS)):
            c, defect = channel(ctx.seed, system, index, ctx.base_as_of), plan.get(index)
            row = _device_row(c, defect, ctx.random(f"device{index}"), surveyed=False)
            if defect == "camera_id_malformed":
                row["device_id"] = malformed_id(ctx.seed, c)
            rows = [row, dict(row)] if defect == "duplicate_exact" else [row]
            if defect == "near_duplicate_fullwidth":
                rows.append({**row, "name": texts.near_duplicate(row["name"], ctx.rng)})
            if defect:
                ctx.tally.record(row, defect)
            elif index >= unreadable_at >= 0:  # the first clean row from there: one cause per record
                unreadable_at = -1
                row["device_id"] = None
                ctx.tally.record_identity(f"#{position + 1}", "unreadable_row")
            position += len(rows)
            chunk.extend((each, c) for each in rows)
        yield with_surveys(chunk)


def _unregistered(ctx: ResourceContext, count: int) -> list[Camera]:
    """Channels that report but are not in the catalogue: indexes past its end."""
    system, _cloud = cloud_of(ctx)
    extra = max(1, round(count * UNREGISTERED_SHARE))
    return [channel(ctx.seed, system, count + j, ctx.base_as_of) for j in range(extra)]


def status_events(ctx: ResourceContext) -> Iterator[Chunk]:
    """A cloud's status event log (GET /api/v1/device-status), in time order; a later step brings
    the daily keepalive of the channels whose turn it is (one in 24 per hour)."""
    system, _cloud = cloud_of(ctx)
    count = channel_count(ctx)
    plan = _plan(ctx, count)
    malformed = {
        index: malformed_id(ctx.seed, channel(ctx.seed, system, index, ctx.base_as_of))
        for index, defect in plan.items()
        if defect == "camera_id_malformed"
    }
    events = []
    if ctx.step > 0:
        start, end = ctx.window
        rng = ctx.random("keepalive")
        for index in range(ctx.step % 24, count, 24):
            c = channel(ctx.seed, system, index, ctx.base_as_of)
            status = c.history[-1][1]
            ts = start + (end - start) * rng.uniform(0.01, 0.99)
            reason = "keepalive" if status == "ON" else "keepalive_timeout"
            row = {"device_id": malformed.get(index, c.device_id), "ts": iso_ts_seconds(ts), "status": status}
            events.append((ts, index, {**row, "reason": reason}))
    else:
        cameras = [channel(ctx.seed, system, index, ctx.base_as_of) for index in range(count)]
        for c in [*cameras, *_unregistered(ctx, count)]:
            for ts, status, reason in c.history:
                device_id = malformed.get(c.index, c.device_id)
                events.append((ts, c.index, {"device_id": device_id, "ts": iso_ts_seconds(ts), "status": status,
                                             "reason": reason}))  # fmt: skip
    events.sort(key=lambda event: (event[0], event[1]))
    ctx.expected = len(events)
    yield from _event_chunks(ctx, events, malformed)


def alerts(ctx: ResourceContext) -> Iterator[Chunk]:
    """A cloud's AI alert events (GET /api/v1/ai-alarms): camera, time, algorithm, confidence, snapshot."""
    system, _cloud = cloud_of(ctx)
    count = channel_count(ctx)
    plan = _plan(ctx, count)
    start, end = ctx.window
    rng = ctx.random("alerts")
    total = max(1, round(count * ALERTS_PER_CHANNEL * (1 if ctx.step == 0 else 1 / 24)))
    ctx.expected = total
    moments = sorted(start + (end - start) * rng.random() for _ in range(total))
    defects = plan_defects(total, ALERT_DEFECTS, ctx.random("alert-plan"), minimum=_ALERT_MINIMUM)
    unreadable_at = ctx.random("unreadable").randrange(total) if ctx.step == 0 else -1
    position = ctx.previous_records
    chunk: Chunk = []
    for n, moment in enumerate(moments):
        index = rng.randrange(count)
        c, defect = channel(ctx.seed, system, index, ctx.base_as_of), defects.get(n)
        camera_malformed = plan.get(index) == "camera_id_malformed" or defect == "camera_id_malformed"
        row = {
            "alert_id": f"AI{c.device_id[-7:]}{ctx.step:03d}{n:07d}",
            "device_id": malformed_id(ctx.seed, c) if camera_malformed else c.device_id,
            "ts": iso_ts_seconds(moment),
            "alg_type": rng.choice(ALGORITHMS),
            "confidence": round(rng.uniform(0.55, 0.99), 3),
            "civil_code": c.town9,
            "snapshot_ref": f"snap/{system}/{moment:%Y%m%d}/{c.device_id}_{n:07d}.jpg",
        }
        if defect == "confidence_out_of_range":
            row["confidence"] = rng.choice((round(rng.uniform(1.01, 99.0), 2), -round(rng.uniform(0.01, 1), 2)))
        elif defect == "alert_type_unknown":
            row["alg_type"] = rng.choice(("ALG_07", "未定义", "smoke"))
        rows = [row, dict(row)] if defect == "duplicate_exact" else [row]
        for flaw in {defect, "camera_id_malformed" if camera_malformed else None} - {None}:
            ctx.tally.record(row, flaw)
        if n >= unreadable_at >= 0 and not (defect or camera_malformed):  # one cause per record
            unreadable_at = -1
            row["alert_id"] = None
            ctx.tally.record_identity(f"#{position + 1}", "unreadable_row")
        position += len(rows)
        chunk.extend(rows)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_ALERT_MINIMUM = {"confidence_out_of_range": 1, "alert_type_unknown": 1}
#: The generator of each cloud resource, by the part of its id after `<cloud>_cloud_`.
GENERATORS_BY_PART = {"devices": devices, "status": status_events, "ai_alerts": alerts}
#: Catalogue resource id → generator, for synthetic.generate.
GENERATORS = {
    f"{cloud.removeprefix('video_cloud_')}_cloud_{part}": generator
    for cloud in CLOUDS
    for part, generator in GENERATORS_BY_PART.items()
}
