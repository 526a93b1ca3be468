"""GIS layers for the drop folder: land parcels (polygons, EPSG:4490 GeoJSON), buildings
(footprints standing on those parcels, EPSG:4547 GeoPackage) and standard addresses (points,
EPSG:4490 GeoJSON). Parcels are deterministic models of their index, so buildings can stand on
real parcels. Coordinate defects follow DOMAIN §5: GCJ-02 shifts on app-collected address points,
swapped axes, (0, 0), points outside Shunde; broken geometries are the unreadable rows.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from catalog.reference import SHUNDE_TOWNS
from quality.geo import wgs84_to_gcj02
from synthetic import codes, texts
from synthetic.base import CHUNK_ROWS, Chunk, Clock, ResourceContext, iso_ts_seconds, stable_seed
from synthetic.defects import plan_defects
from synthetic.generic import inject, mixed_format, roles
from synthetic.gisfiles import Projector, project_4547
from synthetic.values import gps_fix, point_near_town

M_PER_DEG_LAT = 110_574.0
LAND_USES = (
    ("0701", "国有建设用地使用权", "出让", 0.45),
    ("0702", "宅基地使用权", "集体", 0.2),
    ("0601", "国有建设用地使用权", "出让", 0.2),
    ("0501", "国有建设用地使用权", "出让", 0.1),
    ("0801", "国有建设用地使用权", "划拨", 0.05),
)
SIZES = {"land_parcels": (1000, 300_000), "buildings": (2000, 800_000), "standard_addresses": (3000, 1_500_000)}
POLYGON_DEFECTS = (
    "duplicate_exact",
    "near_duplicate_fullwidth",
    "coord_swapped",
    "coord_outside_box",
    "unreadable_row",
)
BUILDING_DEFECTS = POLYGON_DEFECTS[:-1] + ("date_future", "date_sentinel", "date_mixed_format", "unreadable_row")
POINT_DEFECTS = (
    "duplicate_exact",
    "near_duplicate_fullwidth",
    "coord_gcj02",
    "coord_swapped",
    "coord_null_island",
    "coord_outside_box",
    "unreadable_row",
)


@dataclass
class Parcel:
    index: int
    code: str
    town9: str
    lon: float
    lat: float
    side_m: float
    angle: float
    land_use: tuple


def parcel(seed: int, index: int) -> Parcel:
    """The deterministic model of parcel `index` (code, position, size, use)."""
    rng = random.Random(stable_seed(seed, "parcel", index))
    town9 = rng.choice(tuple(SHUNDE_TOWNS))
    use = rng.choices(LAND_USES, [w for *_, w in LAND_USES])[0]
    feature = "JC" if use[0] == "0702" else "GB"
    lon, lat = point_near_town(rng, town9, 0.03)
    side = math.sqrt(rng.lognormvariate(math.log(900 if use[0] == "0702" else 6000), 0.6))
    return Parcel(
        index,
        codes.parcel_code(town9, 1 + index // 100_000, feature, index % 100_000),
        town9,
        lon,
        lat,
        side,
        rng.uniform(0, math.pi / 2),
        use,
    )


def square(lon: float, lat: float, side_m: float, angle: float, stretch: float = 1.0) -> list[tuple[float, float]]:
    """A closed ring (lon, lat) of a rotated rectangle centred on the point."""
    half_x, half_y = side_m / 2 * stretch, side_m / 2 / stretch
    m_per_deg_lon = 111_320.0 * math.cos(math.radians(lat))
    ring = []
    for dx, dy in ((-half_x, -half_y), (half_x, -half_y), (half_x, half_y), (-half_x, half_y), (-half_x, -half_y)):
        x = dx * math.cos(angle) - dy * math.sin(angle)
        y = dx * math.sin(angle) + dy * math.cos(angle)
        ring.append((round(lon + x / m_per_deg_lon, 7), round(lat + y / M_PER_DEG_LAT, 7)))
    return ring


def _geometry(
    kind: str,
    ring_or_point,
    epsg: int,
    defect: str | None,
    rng: random.Random,
    projector: Projector | None = None,
    shifter: Projector | None = None,
) -> dict:
    """The geometry in the file's CRS, with a coordinate defect applied where planned. With a
    `projector` (EPSG:4547) or a `shifter` (GCJ-02), positions are filled in when it is flushed,
    before the chunk is written."""
    points = [ring_or_point] if kind == "Point" else list(ring_or_point)
    positions = None
    if defect == "coord_outside_box":
        shift = (rng.uniform(0.6, 1.0), rng.uniform(-0.4, 0.4))
        points = [(x + shift[0], y + shift[1]) for x, y in points]
    elif defect == "coord_gcj02" and shifter is not None and epsg != 4547:
        positions = [shifter.defer(x, y) for x, y in points]  # nothing else applies to these
    elif defect == "coord_gcj02":
        points = [tuple(round(v, 7) for v in wgs84_to_gcj02(x, y)) for x, y in points]
    if positions is not None:
        pass
    elif epsg == 4547 and projector is not None and defect != "coord_null_island":
        positions = [projector.defer(x, y, swapped=defect == "coord_swapped") for x, y in points]
    else:
        if epsg == 4547:
            points = [project_4547(x, y) for x, y in points]
        if defect == "coord_swapped":
            points = [(y, x) for x, y in points]
        elif defect == "coord_null_island":
            points = [(0.0, 0.0) for _ in points]
        positions = [list(p) for p in points]
    if kind == "Point":
        return {"type": "Point", "coordinates": positions[0]}
    return {"type": "Polygon", "coordinates": [positions]}


def _broken(row: dict) -> None:
    """An unreadable feature: a polygon ring of two positions, one not a number."""
    row["geometry"] = {"type": "Polygon", "coordinates": [[[113.2, "NaN"], [113.2]]]}
    row["geom_blob"] = b"GP\x00\x03broken-wkb"


def _emit(ctx: ResourceContext, rows_with_defects, text_column: str) -> Chunk:
    """Apply copy / unreadable defects and tally each planned one (others were applied already)."""
    out: Chunk = []
    for row, defect in rows_with_defects:
        if defect == "duplicate_exact":
            out += [row, dict(row)]
        elif defect == "near_duplicate_fullwidth":
            copy = dict(row)
            copy[text_column] = texts.near_duplicate(str(row[text_column]), ctx.rng)
            out += [row, copy]
        else:
            if defect == "unreadable_row":
                _broken(row)
            out.append(row)
        if defect:
            ctx.tally.record(row, defect)
    return out


def _counts(ctx: ResourceContext) -> tuple[int, int, int]:
    """(base count, first index of this step, rows this step)."""
    base = ctx.size(*SIZES[ctx.resource.id if ctx.resource.id in SIZES else "land_parcels"])
    if ctx.step == 0:
        return base, 0, base
    return base, base + ctx.step * 100_000, ctx.step_count(base)


def _clock(ctx: ResourceContext, total: int) -> Clock:
    ctx.expected = total
    return Clock(*ctx.window, total)


def parcels(ctx: ResourceContext) -> Iterator[Chunk]:
    """宗地: rotated rectangles with their code, unit number, location and rights."""
    _base, first_index, total = _counts(ctx)
    epsg, clock = int(ctx.resource.binding.config.get("crs", 4490)), _clock(ctx, total)
    for first in range(0, total, CHUNK_ROWS):
        size = min(CHUNK_ROWS, total - first)
        plan = plan_defects(
            size, POLYGON_DEFECTS, ctx.random(f"plan{first}"), minimum={"unreadable_row": 1 if first == 0 else 0}
        )
        batch = []
        for offset in range(size):
            p = parcel(ctx.seed, first_index + first + offset)
            rng = ctx.random(f"parcel{p.index}")
            defect = plan.get(offset)
            row = {
                "zddm": p.code,
                "bdcdyh": codes.real_estate_unit(p.code, 1, 1) if rng.random() < 0.9 else None,
                "zl": texts.street_address(p.town9, rng, room=False),
                "zdmj": round(p.side_m**2, 2),
                "tdyt": p.land_use[0],
                "qllx": p.land_use[1],
                "qlxz": p.land_use[2],
                "ssjz": p.town9,
                "gxsj": iso_ts_seconds(clock.next()),
                "geometry": _geometry("Polygon", square(p.lon, p.lat, p.side_m, p.angle), epsg, defect, rng),
            }
            batch.append((row, defect))
        yield _emit(ctx, batch, "zl")


def buildings(ctx: ResourceContext) -> Iterator[Chunk]:
    """房屋建筑: footprints on parcels, floors by use (village houses 3–7, towers up to 40)."""
    _base, first_index, total = _counts(ctx)
    parcel_count = ctx.size(*SIZES["land_parcels"])
    epsg, clock = int(ctx.resource.binding.config.get("crs", 4547)), _clock(ctx, total)
    role_map = roles(ctx.resource) | {"date": "jgrq"}
    projector = Projector()
    # Parcels already modelled, by index: two in three buildings stand on a parcel drawn before
    # (at full scale 0.8 M buildings on 0.3 M parcels, ~100 MB).
    standing_on: dict[int, Parcel] = {}
    for first in range(0, total, CHUNK_ROWS):
        size = min(CHUNK_ROWS, total - first)
        plan = plan_defects(
            size, BUILDING_DEFECTS, ctx.random(f"plan{first}"), minimum={"unreadable_row": 1 if first == 0 else 0}
        )
        batch = []
        for offset in range(size):
            index = first_index + first + offset
            rng = ctx.random(f"building{index}")
            drawn = rng.randrange(parcel_count)
            p = standing_on.get(drawn) or standing_on.setdefault(drawn, parcel(ctx.seed, drawn))
            use = {"0701": "住宅", "0702": "住宅", "0601": "工业", "0501": "商业", "0801": "公共服务"}[p.land_use[0]]
            floors = (
                rng.randint(3, 7)
                if p.land_use[0] == "0702"
                else rng.randint(1, 6)
                if use == "工业"
                else rng.randint(6, 40)
            )
            side = min(p.side_m * 0.6, rng.uniform(12, 45))
            lon = p.lon + rng.uniform(-0.2, 0.2) * p.side_m / 111_000
            lat = p.lat + rng.uniform(-0.2, 0.2) * p.side_m / 111_000
            built = ctx.today - timedelta(days=rng.randrange(200, 40 * 365))
            defect = plan.get(offset)
            name = f"{texts.TOWN_SHORT[p.town9]}{rng.choice(texts.COMMUNITY_WORDS)}{rng.randrange(1, 40)}栋"
            row = {
                "jzwbm": f"440606{index:014d}",
                "zddm": p.code,
                "jzwmc": name,
                "zl": texts.street_address(p.town9, rng, room=False),
                "jdmj": round(side * side * 0.8, 2),
                "jzmj": round(side * side * 0.8 * floors, 2),
                "zcs": floors,
                "dxcs": rng.choice((0, 0, 0, 1, 2)) if floors > 8 else 0,
                "jzjg": "钢筋混凝土结构"
                if floors > 7
                else rng.choice(("混合结构", "砖木结构", "钢结构", "钢筋混凝土结构")),
                "fwyt": use,
                "jgrq": built.isoformat(),
                "ssjz": p.town9,
                "gxsj": iso_ts_seconds(clock.next()),
                "geometry": _geometry(
                    "Polygon",
                    square(lon, lat, side, p.angle, 1.3),
                    epsg,
                    defect if defect and defect.startswith("coord_") else None,
                    rng,
                    projector,
                ),
            }
            if defect == "date_mixed_format":
                row["jgrq"] = mixed_format(row["jgrq"], rng)
            elif defect and defect.startswith("date_"):
                inject(row, defect, role_map, rng, ctx.today)
            batch.append((row, defect))
        projector.flush()
        yield _emit(ctx, batch, "jzwmc")


def addresses(ctx: ResourceContext) -> Iterator[Chunk]:
    """标准地址: door-plate points (collected with a phone app, hence the GCJ-02 ones)."""
    _base, first_index, total = _counts(ctx)
    epsg, clock = int(ctx.resource.binding.config.get("crs", 4490)), _clock(ctx, total)
    projector, shifter = Projector(), Projector(wgs84_to_gcj02, 7)
    for first in range(0, total, CHUNK_ROWS):
        size = min(CHUNK_ROWS, total - first)
        surveys = []
        plan = plan_defects(
            size, POINT_DEFECTS, ctx.random(f"plan{first}"), minimum={"unreadable_row": 1 if first == 0 else 0}
        )
        batch = []
        for offset in range(size):
            index = first_index + first + offset
            rng = ctx.random(f"address{index}")
            town9 = rng.choice(tuple(SHUNDE_TOWNS))
            road, number, block = rng.randrange(len(texts.ROADS)), rng.randrange(1, 400), rng.randrange(1, 30)
            lon, lat = point_near_town(rng, town9, 0.03)  # where the door plate is
            defect = plan.get(offset)
            # The point as the collector's phone placed it (GPS error), the register's survey exact.
            collected = gps_fix(ctx.random(f"address-gps{index}"), lon, lat)
            coord_defect = defect if defect and defect.startswith("coord_") else None
            geometry = _geometry("Point", collected, epsg, coord_defect, rng, shifter=shifter)
            row = {
                "dzbm": f"{town9}{road:03d}{number:04d}{block:03d}{index:08d}",
                "bzdz": f"广东省佛山市顺德区{SHUNDE_TOWNS[town9]}{texts.ROADS[road]}{number}号{block}座",
                "ssjz": town9,
                "sqjwh": f"{town9}{rng.randrange(1, 40):03d}",
                "jlx": texts.ROADS[road],
                "mph": f"{number}号",
                "lz": f"{block}座",
                "longitude": geometry["coordinates"][0],
                "latitude": geometry["coordinates"][1],
                "gxsj": iso_ts_seconds(clock.next()),
                "geometry": geometry,
            }
            # The door plate's surveyed position (CGCS2000 3° zone, EPSG:4547) the register keeps beside
            # the app-collected point: the reference that shows a point shifted to GCJ-02.
            surveys.append((row, projector.defer(lon, lat)))
            batch.append((row, defect))
        projector.flush()
        shifter.flush()
        for row, (easting, northing) in surveys:
            row["longitude"], row["latitude"] = row["geometry"]["coordinates"]  # shifted ones are known now
            row["zbx"], row["zby"] = round(easting, 2), round(northing, 2)
        yield _emit(ctx, batch, "bzdz")


def line(lon: float, lat: float, rng: random.Random, vertices: int) -> list[tuple[float, float]]:
    """A road-like polyline: a random walk of 150–400 m steps with gentle turns."""
    heading, points = rng.uniform(0, 2 * math.pi), [(lon, lat)]
    while len(points) < vertices:
        heading += rng.gauss(0, 0.35)
        step = rng.uniform(150, 400)
        next_lon = lon + step * math.cos(heading) / (111_320.0 * math.cos(math.radians(lat)))
        next_lat = lat + step * math.sin(heading) / M_PER_DEG_LAT
        if not (112.96 <= next_lon <= 113.41 and 22.64 <= next_lat <= 23.05):
            heading += math.pi  # the district boundary: turn back rather than leave Shunde
            continue
        lon, lat = next_lon, next_lat
        points.append((round(lon, 7), round(lat, 7)))
    return points


def geometry_kind(resource) -> str:
    """Point, LineString or Polygon, read from the geometry item's label (…线 / …范围 / …位置)."""
    label = next((i.label for i in resource.items if i.name in ("geometry", "geom", "geom_wkt")), "")
    if "线" in label:
        return "LineString"
    if any(word in label for word in ("范围", "轮廓", "图斑", "边界", "面")):
        return "Polygon"
    return "Point"


def generic_geometry(resource, row: dict, rng: random.Random, town9: str, projector: Projector | None = None) -> dict:
    """A geometry for a generated row: at its lon/lat items if it has them, else near `town9`
    (EPSG:4547 positions filled in when `projector` is flushed, if one is given)."""
    epsg = int(resource.binding.config.get("crs", 4490))
    kind = geometry_kind(resource)
    lon_item = next((i.name for i in resource.items if i.rules.validator == "lon"), None)
    lat_item = next((i.name for i in resource.items if i.rules.validator == "lat"), None)
    if kind == "Point" and lon_item and lat_item and row.get(lon_item) is not None and row.get(lat_item) is not None:
        lon, lat = row[lon_item], row[lat_item]
    else:
        lon, lat = point_near_town(rng, town9, 0.03)
    if kind == "LineString":
        points = line(lon, lat, rng, rng.randrange(4, 16))
        if epsg == 4547 and projector is not None:
            return {"type": "LineString", "coordinates": [projector.defer(x, y) for x, y in points]}
        if epsg == 4547:
            points = [project_4547(x, y) for x, y in points]
        return {"type": "LineString", "coordinates": [list(p) for p in points]}
    if kind == "Polygon":
        ring = square(lon, lat, rng.uniform(60, 600), rng.uniform(0, 1.5))
        return _geometry("Polygon", ring, epsg, None, rng, projector)
    return _geometry("Point", (lon, lat), epsg, None, rng, projector)
