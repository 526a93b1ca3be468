"""The district's drone operations and data-sharing platform (区无人机作业与数据共享平台), a stand-in.

Its database holds flight missions, the imagery they produced (orthophoto blocks and panorama
discs as EPSG:4547 polygons with their area) and the event work orders found on the imagery.
Flights follow fixed routes, ROUTES_PER_TOWN per town, flown again and again by several vendors:
the sum of footprint areas is what the district reports as gathered (DOMAIN §6: ≈ 2,150 km²
orthophoto, ≈ 6,000 km² panorama, 8,995 work orders at full scale), the union of the same
footprints is the ground actually covered — the gap is what shared flights (一飞多用) save.

Missions and imagery come from one deterministic flight stream (seed, scale, step), so an image
always points at a mission of the same route, whichever resource is generated first.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from catalog.reference import SHUNDE_TOWN_CENTRES, SHUNDE_TOWNS
from synthetic import texts
from synthetic.base import Chunk, ResourceContext, iso_ts_seconds, stable_seed
from synthetic.defects import plan_defects
from synthetic.generic import unreadable
from synthetic.gisfiles import project_4547

FULL_ORTHO_KM2, FULL_PANORAMA_KM2, FULL_WORK_ORDERS = 2150.0, 6000.0, 8995
ORTHO_BLOCK_M = (1800.0, 1200.0)  # one orthophoto flight block, along × across the route
PANORAMA_RADIUS_M, PANORAMA_VERTICES = 1300.0, 24  # what one panorama shows, as a 24-gon
SIZE_JITTER = 0.1  # each side / radius varies by ±10 % from flight to flight
POSITION_JITTER_M = 150.0  # a repeat flight of a route is never exactly where the last one was
PANORAMA_SPACING_M = 1000.0  # panorama points along the route
PANORAMAS_PER_MISSION = (2, 4)
ROUTES_PER_TOWN = 8
ROUTE_SPREAD_M = 2500.0  # route centres within this of the town centre
#: Route centres keep this far (degrees) inside DOMAIN §3's box, so every footprint stays in it.
BOX_MARGIN_DEG = 0.04
BOX = (112.95 + BOX_MARGIN_DEG, 113.42 - BOX_MARGIN_DEG, 22.63 + BOX_MARGIN_DEG, 23.06 - BOX_MARGIN_DEG)
HISTORY_DAYS = 700  # flights and orders since the platform went live
VENDORS = (
    "广东省国土资源测绘院",
    "佛山市顺德区测绘有限公司",
    "广州南方测绘科技股份有限公司",
    "深圳市大疆行业应用服务有限公司",
    "佛山市禅城区航拍技术服务中心",
)
#: The eight event categories, their share of orders and the department an order is handed to.
CATEGORIES = {
    "城市两违": (0.27, "综合执法"),
    "施工违规": (0.14, "城建水利"),
    "河湖四乱": (0.12, "城建水利"),
    "市容市貌": (0.18, "综合执法"),
    "储备用地": (0.05, "国资土储"),
    "山林监测": (0.04, "自然资源"),
    "生态环境": (0.10, "生态环境"),
    "农业种养": (0.10, "农业农村"),
}
STATUSES = ("待分发", "待派遣", "已核查", "已处置")
#: Hours from one stage to the next: report → distributed, → verified, → disposed.
STAGE_HOURS = ((2, 48), (24, 240), (24, 720))
IMAGERY_DEFECTS = ("footprint_outside_district", "footprint_self_intersecting")
ORDER_DEFECTS = ("status_illegal_jump", "dispatch_before_report", "unreadable_row")
OUTSIDE_SHIFT_M = 60_000.0  # a footprint georeferenced 60 km east: in the sea off Shenzhen


def _mean_factor_squared() -> float:
    # E[(1 + U)²] for U uniform in ±SIZE_JITTER: the mean of a side product or of a radius squared.
    return 1 + SIZE_JITTER**2 / 3


def ortho_mean_km2() -> float:
    return ORTHO_BLOCK_M[0] * ORTHO_BLOCK_M[1] / 1e6


def panorama_mean_km2() -> float:
    n = PANORAMA_VERTICES
    return 0.5 * n * math.sin(2 * math.pi / n) * PANORAMA_RADIUS_M**2 * _mean_factor_squared() / 1e6


FULL_ORTHO_IMAGES = round(FULL_ORTHO_KM2 / ortho_mean_km2())
FULL_PANORAMA_IMAGES = round(FULL_PANORAMA_KM2 / panorama_mean_km2())


@dataclass(frozen=True)
class Route:
    route_id: str
    town9: str
    x: float
    y: float
    heading: float  # radians, direction of flight


@dataclass
class Flight:
    mission: dict
    images: list[dict] = field(default_factory=list)


def routes() -> list[Route]:
    """The platform's fixed routes (the same at every scale and step: repeats fall on them)."""
    rng = random.Random(stable_seed("drone", "routes"))
    found = []
    for town9 in SHUNDE_TOWNS:
        lon0, lat0 = SHUNDE_TOWN_CENTRES[town9]
        for number in range(1, ROUTES_PER_TOWN + 1):
            distance, bearing = ROUTE_SPREAD_M * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
            lon = lon0 + distance * math.sin(bearing) / (111_320.0 * math.cos(math.radians(lat0)))
            lat = lat0 + distance * math.cos(bearing) / 110_574.0
            lon, lat = min(max(lon, BOX[0]), BOX[1]), min(max(lat, BOX[2]), BOX[3])
            x, y = project_4547(lon, lat)
            found.append(Route(f"HX{town9}-{number:03d}", town9, x, y, rng.uniform(0, math.pi)))
    return found


def _ring(points: list[tuple[float, float]]) -> str:
    closed = [*points, points[0]]
    return "POLYGON ((" + ", ".join(f"{x:.2f} {y:.2f}" for x, y in closed) + "))"


def ortho_block(cx: float, cy: float, heading: float, along: float, across: float) -> list[tuple[float, float]]:
    """The four corners of a flight block centred on (cx, cy), its long side along `heading`."""
    ux, uy, vx, vy = math.cos(heading), math.sin(heading), -math.sin(heading), math.cos(heading)
    corners = ((-1, -1), (1, -1), (1, 1), (-1, 1))
    return [
        (cx + a * along / 2 * ux + b * across / 2 * vx, cy + a * along / 2 * uy + b * across / 2 * vy)
        for a, b in corners
    ]


def panorama_disc(cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    step = 2 * math.pi / PANORAMA_VERTICES
    return [(cx + radius * math.cos(i * step), cy + radius * math.sin(i * step)) for i in range(PANORAMA_VERTICES)]


def ring_area_m2(points: list[tuple[float, float]]) -> float:
    """Shoelace area of a simple ring (what the platform stores beside the footprint)."""
    pairs = zip(points, [*points[1:], points[0]])
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in pairs)) / 2


def _counts(ctx: ResourceContext) -> tuple[int, int]:
    """Orthophoto and panorama images this step: the full figures, 1/20 of them at small."""
    ortho = ctx.size(round(FULL_ORTHO_IMAGES / 20), FULL_ORTHO_IMAGES)
    panorama = ctx.size(round(FULL_PANORAMA_IMAGES / 20), FULL_PANORAMA_IMAGES)
    if ctx.step == 0:
        return ortho, panorama
    return ctx.step_count(ortho), ctx.step_count(panorama)


def _span(ctx: ResourceContext) -> tuple[datetime, datetime]:
    """When this step's flights and reports happen: the platform's history at step 0, else the step."""
    if ctx.step == 0:
        return ctx.base_as_of - timedelta(days=HISTORY_DAYS), ctx.base_as_of - timedelta(hours=1)
    return ctx.window


def _sequence(step: int, index: int, base: int) -> int:
    # Step 0 numbers from 0; later steps from `base` up, 100 per step: unique across steps.
    return index if step == 0 else base + step * 100 + index


def flights(ctx: ResourceContext) -> list[Flight]:
    """Every flight of this step with its images, in take-off order (shared by missions and imagery)."""
    rng = random.Random(stable_seed(ctx.seed, "drone_flights", ctx.scale, ctx.step))
    ortho, panorama = _counts(ctx)
    panoramas = [0] * ortho  # per mission: 0 flies one orthophoto block, n > 0 takes n panoramas
    while panorama > 0:
        count = min(panorama, rng.randint(*PANORAMAS_PER_MISSION))
        panoramas.append(count)
        panorama -= count
    rng.shuffle(panoramas)
    start, end = _span(ctx)
    landings = sorted(start + (end - start) * rng.random() for _ in panoramas)
    all_routes = routes()
    out = []
    for index, (count, landing) in enumerate(zip(panoramas, landings)):
        route = rng.choice(all_routes)
        takeoff = landing - timedelta(minutes=rng.randint(20, 55))
        mission_id = f"RW{takeoff:%Y%m%d}{_sequence(ctx.step, index, 20_000):06d}"
        mission = {
            "rwbh": mission_id,
            "hxbh": route.route_id,
            "ssjz": route.town9,
            "fxdw": rng.choice(VENDORS),
            "yxlx": "全景" if count else "正射",
            "qfsj": iso_ts_seconds(takeoff),
            "jlsj": iso_ts_seconds(landing),
        }
        flight = Flight(mission)
        rings = _footprints(route, count, rng)
        for number, ring in enumerate(rings, start=1):
            flight.images.append(
                {
                    "yxbh": f"YX{mission_id[2:]}-{number:02d}",
                    "rwbh": mission_id,
                    "hxbh": route.route_id,
                    "yxlx": mission["yxlx"],
                    "ssjz": route.town9,
                    "pssj": iso_ts_seconds(takeoff + (landing - takeoff) * number / (len(rings) + 1)),
                    "dmfbl": round(rng.uniform(5, 20), 1) if count else round(rng.uniform(1.5, 5.0), 1),
                    "_ring": ring,
                }
            )
        out.append(flight)
    return out


def _footprints(route: Route, panoramas: int, rng: random.Random) -> list[list[tuple[float, float]]]:
    """One orthophoto block over the route (panoramas = 0), or that many panorama discs along it."""

    def jitter() -> tuple[float, float]:
        return route.x + rng.uniform(-1, 1) * POSITION_JITTER_M, route.y + rng.uniform(-1, 1) * POSITION_JITTER_M

    def size(value: float) -> float:
        return value * (1 + rng.uniform(-SIZE_JITTER, SIZE_JITTER))

    if not panoramas:
        cx, cy = jitter()
        return [ortho_block(cx, cy, route.heading, size(ORTHO_BLOCK_M[0]), size(ORTHO_BLOCK_M[1]))]
    discs = []
    for point in range(panoramas):
        offset = (point - (panoramas - 1) / 2) * PANORAMA_SPACING_M
        cx, cy = jitter()
        discs.append(
            panorama_disc(
                cx + offset * math.cos(route.heading), cy + offset * math.sin(route.heading), size(PANORAMA_RADIUS_M)
            )
        )
    return discs


# --- the platform's three tables ------------------------------------------------------------------


def missions(ctx: ResourceContext) -> Iterator[Chunk]:
    """无人机飞行任务: one row per flight."""
    rows = [flight.mission for flight in flights(ctx)]
    ctx.expected = len(rows)
    yield rows


def imagery(ctx: ResourceContext) -> Iterator[Chunk]:
    """无人机影像成果目录: footprints in EPSG:4547 with their area; a few footprints damaged."""
    rows = [image for flight in flights(ctx) for image in flight.images]
    ctx.expected = len(rows)
    plan = plan_defects(len(rows), IMAGERY_DEFECTS, ctx.random("defects"), rates=DRONE_RATES, minimum=_MINIMUM)
    for index, row in enumerate(rows):
        ring = row.pop("_ring")
        row["mj"] = round(ring_area_m2(ring) / 1e6, 6)
        defect = plan.get(index)
        if defect == "footprint_outside_district":
            ring = [(x + OUTSIDE_SHIFT_M, y) for x, y in ring]
        elif defect == "footprint_self_intersecting":
            ring = [ring[0], ring[2], ring[1], *ring[3:]]  # two corners swapped: a bow tie
        row["geometry"], row["crs"] = _ring(ring), "EPSG:4547"
        if defect:
            ctx.tally.record(row, defect)
    yield rows


def _order_stages(reported: datetime, now: datetime, rng: random.Random) -> list[datetime]:
    """The stage times an order has reached by `now`: distributed, verified, disposed (each optional)."""
    times, moment = [], reported
    for low, high in STAGE_HOURS:
        moment = moment + timedelta(hours=rng.uniform(low, high))
        if moment > now:
            break
        times.append(moment)
    return times


def work_orders(ctx: ResourceContext) -> Iterator[Chunk]:
    """无人机巡查事件工单: eight categories, each stage time set as far as the order has come."""
    rng = random.Random(stable_seed(ctx.seed, "drone_orders", ctx.scale, ctx.step))
    base = ctx.size(round(FULL_WORK_ORDERS / 20), FULL_WORK_ORDERS)
    total = base if ctx.step == 0 else ctx.step_count(base)
    ctx.expected = total
    start, end = _span(ctx)
    reports = sorted(start + (end - start) * rng.random() for _ in range(total))
    names, weights = list(CATEGORIES), [share for share, _ in CATEGORIES.values()]
    all_routes, flown = routes(), {flight.mission["hxbh"]: flight.mission["rwbh"] for flight in flights(ctx)}
    rows = []
    for index, reported in enumerate(reports):
        category = rng.choices(names, weights)[0]
        route = rng.choice(all_routes)
        stages = _order_stages(reported, ctx.as_of, rng)
        x = route.x + rng.uniform(-1, 1) * ORTHO_BLOCK_M[0] / 2
        y = route.y + rng.uniform(-1, 1) * ORTHO_BLOCK_M[1] / 2
        rows.append(
            {
                "gdbh": f"GD{reported:%Y%m%d}{_sequence(ctx.step, index, 200_000):06d}",
                "sjlb": category,
                "zt": STATUSES[len(stages)],
                "zpbm": CATEGORIES[category][1],
                "ssjz": route.town9,
                "rwbh": flown.get(route.route_id),
                "sjdd": texts.street_address(route.town9, rng, room=False),
                "geometry": f"POINT ({x:.2f} {y:.2f})",
                "crs": "EPSG:4547",
                "sbsj": iso_ts_seconds(reported),
                **{
                    name: iso_ts_seconds(t) if t else None for name, t in zip(("ffsj", "hcsj", "czsj"), _padded(stages))
                },
            }
        )
    plan = plan_defects(len(rows), ORDER_DEFECTS, ctx.random("defects"), rates=DRONE_RATES, minimum=_MINIMUM)
    for index, defect in plan.items():
        if defect == "unreadable_row":  # the location typed in GBK: the connector dead-letters the row
            if unreadable(rows[index], ctx, {"text": "sjdd"}):
                ctx.tally.record(rows[index], defect)
            continue
        _damage_order(rows[index], defect, rng)
        ctx.tally.record(rows[index], defect)
    yield rows


def _padded(stages: list[datetime]) -> list[datetime | None]:
    return [*stages, *([None] * (3 - len(stages)))]


def _damage_order(row: dict, defect: str, rng: random.Random) -> None:
    reported = datetime.fromisoformat(row["sbsj"])
    if defect == "status_illegal_jump":
        # 待派遣 → 已处置 without 已核查: disposed, never verified.
        distributed = datetime.fromisoformat(row["ffsj"]) if row["ffsj"] else reported + timedelta(minutes=30)
        disposed = datetime.fromisoformat(row["czsj"]) if row["czsj"] else distributed + timedelta(minutes=30)
        row.update(zt="已处置", ffsj=iso_ts_seconds(distributed), hcsj=None, czsj=iso_ts_seconds(disposed))
    elif defect == "dispatch_before_report":
        # Distributed hours before it was reported: a clock or data-entry error on the platform.
        row["ffsj"] = iso_ts_seconds(reported - timedelta(hours=rng.uniform(1, 72)))
        if row["zt"] == "待分发":
            row["zt"] = "待派遣"


#: Injected rates (no DOMAIN §5 figure for these; half a percent, at least one of each per load).
DRONE_RATES = {defect: 0.005 for defect in (*IMAGERY_DEFECTS, *ORDER_DEFECTS)} | {"unreadable_row": 0.001}
_MINIMUM = {defect: 1 for defect in DRONE_RATES}


# --- later steps ----------------------------------------------------------------------------------


def missions_mutator(ctx: ResourceContext):
    """A later step re-exports a mission (its record is touched, nothing in it changes)."""
    return lambda rng: {}


def imagery_mutator(ctx: ResourceContext):
    """A later step re-processes an image: its stated ground resolution is measured again."""
    return lambda rng: {"dmfbl": round(rng.uniform(1.5, 5.0), 1)}


def work_orders_mutator(ctx: ResourceContext):
    """A later step closes an order: distributed, verified and disposed at this step's time (never
    before its report, which is at or before this step's time)."""
    moment = iso_ts_seconds(ctx.as_of)
    return lambda rng: {"zt": "已处置", "ffsj": moment, "hcsj": moment, "czsj": moment}
