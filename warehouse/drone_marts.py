"""The drone platform's marts (区无人机作业与数据共享平台), registered in warehouse.marts:

- `drone_imagery_area_by_town_type`: per town and imagery type (正射 / 全景), the area gathered (the
  sum of footprint areas — the figure the district reports) beside the ground covered (the union
  of the same footprints, overlapping flights counted once), plus a district row (区级) whose union
  is taken over all towns. DuckDB has no spatial functions here (its extension would be fetched at
  run time), so the union is computed with shapely into `meta.mart_input_drone_footprints` by
  `prepare_footprint_unions`, which `refresh_marts` runs before it creates the views;
- `drone_work_orders_by_category_status_department_age`: event work orders by category, state,
  department and age (days from report to disposal, or to the mart's as-of time while open);
- `drone_repeat_flights_by_route_month`: flights over the same route, imagery type and month —
  every flight after the first is one that sharing (一飞多用) could have saved.
"""

from __future__ import annotations

import shapely

from catalog import derive
from catalog.reference import SHUNDE_DISTRICT_CODE
from hub import clock
from hub.timezone import LOCAL_TZ_NAME
from warehouse import marts as registry
from warehouse.marts import MartSkipped, _needs, _staging, _text, _towns_cte

FOOTPRINT_TABLE = "meta.mart_input_drone_footprints"
IMAGERY = ("drone_imagery",)
IMAGERY_ITEMS = ("ssjz", "yxlx", "hxbh", "mj", "geometry")
WORK_ORDER_ITEMS = ("sjlb", "zt", "zpbm", "sbsj", "czsj")
MISSION_ITEMS = ("hxbh", "ssjz", "yxlx", "fxdw", "qfsj")
AGE_BANDS = ((7, "0-7天"), (30, "8-30天"), (90, "31-90天"), (365, "91-365天"))


def footprint_unions(rows: list[dict]) -> list[dict]:
    """Per (town, type) and per type for the district: images, routes, gathered km² (sum of `mj`),
    covered km² (union of the valid footprints) and how many footprints were not valid polygons."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["ssjz"], row["yxlx"]), []).append(row)
        groups.setdefault((SHUNDE_DISTRICT_CODE, row["yxlx"]), []).append(row)
    out = []
    for (town_code, imagery_type), members in sorted(groups.items()):
        shapes = shapely.from_wkt([m["geometry"] for m in members], on_invalid="ignore")
        usable = [s for s in shapes if s is not None and shapely.is_valid(s) and not shapely.is_empty(s)]
        covered = shapely.union_all(usable).area / 1e6 if usable else 0.0
        out.append(
            {
                "town_code": town_code,
                "imagery_type": imagery_type,
                "images": len(members),
                "routes": len({m["hxbh"] for m in members}),
                "gathered_km2": round(sum(m["mj"] or 0.0 for m in members), 3),
                "covered_km2": round(covered, 3),
                "invalid_footprints": len(members) - len(usable),
            }
        )
    return out


def prepare_footprint_unions(connection, resources, staged: set[str]) -> None:
    """(Re)write the union table the imagery mart reads; nothing when the imagery is not staged."""
    try:
        (source,) = _needs(resources, staged, IMAGERY, IMAGERY_ITEMS)
    except MartSkipped:
        connection.execute(f"DROP TABLE IF EXISTS {derive.quoted(FOOTPRINT_TABLE)}")
        return
    footprints = connection.execute(f"SELECT {', '.join(IMAGERY_ITEMS)} FROM {_staging(source)}").to_arrow_table()
    unions = footprint_unions(footprints.to_pylist())
    columns = (
        "town_code VARCHAR, imagery_type VARCHAR, images BIGINT, routes BIGINT, gathered_km2 DOUBLE, "
        "covered_km2 DOUBLE, invalid_footprints BIGINT"
    )
    connection.execute(f"CREATE OR REPLACE TABLE {derive.quoted(FOOTPRINT_TABLE)} ({columns})")
    if unions:
        names = list(unions[0])
        connection.executemany(
            f"INSERT INTO {derive.quoted(FOOTPRINT_TABLE)} VALUES ({', '.join('?' * len(names))})",
            [[row[name] for name in names] for row in unions],
        )


def drone_imagery_area_by_town_type(resources, staged) -> str:
    """Imagery gathered vs ground covered per town and type (km²), and how many times over."""
    _needs(resources, staged, IMAGERY, IMAGERY_ITEMS)
    return f"""
WITH {_towns_cte()}
SELECT u.town_code,
       coalesce(towns.town_name, CASE WHEN u.town_code = {_text(SHUNDE_DISTRICT_CODE)} THEN '区级' ELSE '未知' END)
           AS town_name,
       u.imagery_type, u.images, u.routes, u.gathered_km2, u.covered_km2,
       CASE WHEN u.covered_km2 > 0 THEN round(u.gathered_km2 / u.covered_km2, 2) END AS times_covered,
       u.invalid_footprints
FROM {derive.quoted(FOOTPRINT_TABLE)} u LEFT JOIN towns USING (town_code)"""


def drone_work_orders_by_category_status_department_age(resources, staged) -> str:
    """Work orders by category, state, department and age band, with the mean age in days."""
    (source,) = _needs(resources, staged, ("drone_work_orders",), WORK_ORDER_ITEMS)
    as_of = clock.now().isoformat()
    bands = " ".join(f"WHEN age_days <= {days} THEN {_text(label)}" for days, label in AGE_BANDS)
    return f"""
WITH orders AS (
    SELECT sjlb, zt, zpbm,
           date_diff('day', sbsj, coalesce(czsj, {_text(as_of)}::TIMESTAMPTZ)) AS age_days
    FROM {_staging(source)})
SELECT sjlb AS category, zt AS status, coalesce(zpbm, '未指派') AS department,
       CASE WHEN age_days IS NULL THEN '未知' {bands} ELSE '365天以上' END AS age_band,
       count(*) AS orders, count(*) FILTER (WHERE zt <> '已处置') AS open_orders,
       round(avg(age_days), 1) AS mean_age_days, {_text(as_of)}::TIMESTAMPTZ AS as_of
FROM orders
GROUP BY ALL"""


def drone_repeat_flights_by_route_month(resources, staged) -> str:
    """Flights per route, imagery type and month (Beijing time): vendors, and repeats beyond the first."""
    (source,) = _needs(resources, staged, ("drone_flight_missions",), MISSION_ITEMS)
    return f"""
WITH {_towns_cte()}
SELECT m.hxbh AS route_id, m.ssjz AS town_code, coalesce(towns.town_name, '未知') AS town_name,
       m.yxlx AS imagery_type, strftime(timezone({_text(LOCAL_TZ_NAME)}, m.qfsj), '%Y-%m') AS month,
       count(*) AS flights, count(DISTINCT m.fxdw) AS vendors, count(*) - 1 AS repeat_flights
FROM {_staging(source)} m LEFT JOIN towns ON towns.town_code = m.ssjz
GROUP BY ALL"""


MARTS = {
    "drone_imagery_area_by_town_type": drone_imagery_area_by_town_type,
    "drone_work_orders_by_category_status_department_age": drone_work_orders_by_category_status_department_age,
    "drone_repeat_flights_by_route_month": drone_repeat_flights_by_route_month,
}
# Aggregates of the departments' own flights and orders: no person stands behind a row.
GROUP_COLUMNS: dict[str, str | None] = dict.fromkeys(MARTS)
INPUTS = {"drone_imagery_area_by_town_type": prepare_footprint_unions}

registry.MARTS.update(MARTS)
registry.MART_GROUP_COLUMNS.update(GROUP_COLUMNS)
registry.MART_INPUTS.update(INPUTS)
