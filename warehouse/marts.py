"""mart.* views: where an analyst starts. One function per mart builds its SQL from the catalogue
resources it reads; a mart whose resources are not in the catalogue, or not landed yet, is skipped
with the reason (logged, and shown by `hub warehouse refresh-marts`).

Marts read staging.* (current state per key) and aggregate, so they carry no personal data; analysts
read them without the rows of groups smaller than k (MART_GROUP_COLUMNS, warehouse.access.sandbox).
Town names come from catalog.reference (the ten towns and streets of Shunde).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from catalog import derive
from catalog.reference import SHUNDE_DISTRICT_CODE, SHUNDE_TOWNS
from hub.timezone import LOCAL_TZ_NAME
from warehouse import comments, lake, store

log = logging.getLogger(__name__)

# GB/T 4754-2017 sections (门类): the first letter of an industry code.
INDUSTRY_SECTIONS = {
    "A": "农、林、牧、渔业",
    "B": "采矿业",
    "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业",
    "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业",
    "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业",
    "J": "金融业",
    "K": "房地产业",
    "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业",
    "O": "居民服务、修理和其他服务业",
    "P": "教育",
    "Q": "卫生和社会工作",
    "R": "文化、体育和娱乐业",
    "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}
# Items that flag an IoT alert, and the SQL that says "this reading is an alert".
ALERT_ITEMS = {
    "alarm": "alarm",
    "overflow_alarm": "overflow_alarm",
    "over_limit": "over_limit",
    "alarm_level": "TRY_CAST(alarm_level AS INTEGER) > 0",
}
UTILITY_READINGS = {"electricity": "electricity_readings", "water": "water_readings", "gas": "gas_readings"}


class MartSkipped(Exception):
    """The mart cannot be built now; the message says what it waits for."""


Builder = Callable[[Mapping[str, object], set[str]], str]


def _needs(resources: Mapping[str, object], staged: set[str], ids: tuple[str, ...], columns: tuple[str, ...]) -> list:
    """The resources among `ids` that are catalogued, landed and have `columns`; skip if none."""
    usable, reasons = [], []
    for resource_id in ids:
        resource = resources.get(resource_id)
        if resource is None:
            reasons.append(f"{resource_id} is not in the catalogue")
        elif resource_id not in staged:
            reasons.append(f"{resource_id} is not landed yet (no staging.{resource_id})")
        elif missing := [c for c in columns if c not in {i.name for i in resource.items}]:
            reasons.append(f"{resource_id} lacks item(s) {', '.join(missing)}")
        else:
            usable.append(resource)
    if not usable:
        raise MartSkipped("; ".join(reasons))
    return usable


def _staging(resource) -> str:
    return derive.quoted(derive.table_names(resource).staging)


def _text(value: str) -> str:
    # View bodies cannot hold bound parameters; these literals are this module's own constants.
    return "'" + value.replace("'", "''") + "'"


def _towns_cte() -> str:
    rows = ", ".join(f"({_text(code)}, {_text(name)})" for code, name in SHUNDE_TOWNS.items())
    return f"towns(town_code, town_name) AS (VALUES {rows})"


def population_by_town_age_sex(resources, staged) -> str:
    """Residents (not deregistered) by town of residence, 10-year age band, sex and type (户籍/流动)."""
    columns = ("gmsfhm", "xb", "csrq", "hjdz_xzqh", "jzdz", "rklx")
    try:  # 常住人口 already joins both registers; the two registers are the fallback
        sources = _needs(resources, staged, ("resident_population",), columns)
    except MartSkipped as first:
        try:
            sources = _needs(resources, staged, ("household_population", "migrant_registration"), columns)
        except MartSkipped as second:
            raise MartSkipped(f"{first}; {second}") from None
    town_names = "|".join(SHUNDE_TOWNS.values())
    people = " UNION ALL ".join(
        f"SELECT {', '.join(columns)}, zxbz FROM {_staging(r)}"
        if "zxbz" in {i.name for i in r.items}
        else f"SELECT {', '.join(columns)}, NULL AS zxbz FROM {_staging(r)}"
        for r in sources
    )
    return f"""
WITH {_towns_cte()},
people AS ({people}),
placed AS (
    SELECT p.*, coalesce(
        (SELECT t.town_code FROM towns t WHERE t.town_name = regexp_extract(p.jzdz, {_text(f"({town_names})")})),
        CASE WHEN p.hjdz_xzqh LIKE {_text(SHUNDE_DISTRICT_CODE + "%")} THEN left(p.hjdz_xzqh, 9) END) AS town_code,
        date_part('year', age(current_date::TIMESTAMP, p.csrq::TIMESTAMP)) AS age
    FROM people p WHERE p.zxbz IS DISTINCT FROM '1')
SELECT placed.town_code, coalesce(towns.town_name, '未知') AS town_name,
       CASE WHEN age IS NULL THEN '未知' WHEN age >= 80 THEN '80+'
            ELSE printf('%d-%d', (age // 10) * 10, (age // 10) * 10 + 9) END AS age_band,
       CASE xb WHEN '1' THEN '男' WHEN '2' THEN '女' ELSE '未知' END AS sex,
       coalesce(rklx, '未知') AS population_type,
       count(DISTINCT gmsfhm) AS persons
FROM placed LEFT JOIN towns USING (town_code)
GROUP BY ALL"""


def market_entities_by_industry_town_status(resources, staged) -> str:
    """Registered market entities by industry section/division, town, registration status and type."""
    (source,) = _needs(resources, staged, ("market_entities",), ("tyshxydm", "hydm", "ssjz", "djzt", "ztlx", "zczb"))
    sections = ", ".join(f"({_text(k)}, {_text(v)})" for k, v in INDUSTRY_SECTIONS.items())
    return f"""
WITH {_towns_cte()},
sections(industry_section, industry_section_name) AS (VALUES {sections})
SELECT left(e.hydm, 1) AS industry_section, coalesce(s.industry_section_name, '未知') AS industry_section_name,
       left(e.hydm, 3) AS industry_division, e.ssjz AS town_code, coalesce(towns.town_name, '未知') AS town_name,
       coalesce(e.djzt, '未知') AS status, coalesce(e.ztlx, '未知') AS entity_type,
       count(*) AS entities, round(sum(e.zczb), 2) AS registered_capital_wan
FROM {_staging(source)} e
LEFT JOIN sections s ON s.industry_section = left(e.hydm, 1)
LEFT JOIN towns ON towns.town_code = e.ssjz
GROUP BY ALL"""


def utility_use_by_town_and_month(resources, staged) -> str:
    """Metered use (sum of reading-to-reading increases) by utility, town and month (Shanghai time).

    A decrease (register rollover) or a reading flagged replacement/reset starts the meter afresh:
    that step is counted under excluded_steps instead of use. `complete` is false for a utility's first
    and latest month in the warehouse: readings began or are still arriving then, so fewer meters count.
    """
    columns = ("meter_id", "address_code", "reading_time", "cumulative_value", "unit", "meter_event")
    usable = {r.id for r in _needs(resources, staged, tuple(UTILITY_READINGS.values()), columns)}
    readings = " UNION ALL ".join(
        f"SELECT {_text(utility)} AS utility, {', '.join(columns)} FROM {_staging(resources[rid])}"
        for utility, rid in UTILITY_READINGS.items()
        if rid in usable
    )
    return f"""
WITH {_towns_cte()},
readings AS ({readings}),
steps AS (
    SELECT *, cumulative_value - lag(cumulative_value) OVER (
        PARTITION BY utility, meter_id ORDER BY reading_time) AS step
    FROM readings),
counted AS (
    SELECT *, step >= 0 AND coalesce(meter_event, '') NOT IN ('replacement', 'reset') AS usable FROM steps),
monthly AS (
SELECT utility, unit, left(address_code, 9) AS town_code, coalesce(towns.town_name, '未知') AS town_name,
       strftime(timezone({_text(LOCAL_TZ_NAME)}, reading_time), '%Y-%m') AS month,
       count(DISTINCT meter_id) AS meters, count(*) AS readings,
       round(sum(step) FILTER (WHERE usable), 3) AS use,
       count(*) FILTER (WHERE step IS NOT NULL AND NOT usable) AS excluded_steps
FROM counted LEFT JOIN towns ON towns.town_code = left(address_code, 9)
GROUP BY ALL)
SELECT *, month > min(month) OVER per_utility AND month < max(month) OVER per_utility AS complete
FROM monthly WINDOW per_utility AS (PARTITION BY utility)"""


def camera_online_rate_by_department_town(resources, staged) -> str:
    """Cameras by owning department and town: how many, how many ON, the online rate."""
    (source,) = _needs(resources, staged, ("camera_devices",), ("device_id", "owner", "civil_code", "status"))
    return f"""
WITH {_towns_cte()},
cameras AS (
    SELECT device_id, coalesce(owner, '未知') AS department, status,
           CASE WHEN length(civil_code) >= 9 THEN left(civil_code, 9) ELSE civil_code END AS town_code
    FROM {_staging(source)})
SELECT department, town_code,
       coalesce(towns.town_name, CASE WHEN town_code = {_text(SHUNDE_DISTRICT_CODE)} THEN '区级' ELSE '未知' END) AS town_name,
       count(*) AS cameras, count(*) FILTER (WHERE status = 'ON') AS online,
       round(count(*) FILTER (WHERE status = 'ON') / count(*), 4) AS online_rate
FROM cameras LEFT JOIN towns USING (town_code)
GROUP BY ALL"""


def iot_alerts_by_type_and_town(resources, staged) -> str:
    """IoT alerts by type (sensor type, and which alarm) and town, next to the readings they came from."""
    base = ("device_id", "town_code", "sensor_type", "ts")
    candidates = tuple(
        sorted(
            rid
            for rid, r in resources.items()
            if set(base) <= {i.name for i in r.items} and ALERT_ITEMS.keys() & {i.name for i in r.items}
        )
    )
    if not candidates:
        raise MartSkipped("no catalogue resource has device_id, town_code, sensor_type, ts and an alarm item")
    parts = []
    for resource in _needs(resources, staged, candidates, base):
        names = {i.name for i in resource.items}
        for item, condition in ALERT_ITEMS.items():
            if item in names:
                kind = "sensor_type" if item in ("alarm", "alarm_level") else f"sensor_type || '_{item}'"
                parts.append(
                    f"SELECT {kind} AS alert_type, town_code, device_id, ts, coalesce({condition}, false) "
                    f"AS alert FROM {_staging(resource)}"
                )
    return f"""
WITH {_towns_cte()},
readings AS ({" UNION ALL ".join(parts)})
SELECT alert_type, town_code, coalesce(towns.town_name, '未知') AS town_name,
       count(*) AS readings, count(*) FILTER (WHERE alert) AS alerts,
       count(DISTINCT device_id) FILTER (WHERE alert) AS alerting_devices,
       max(ts) FILTER (WHERE alert) AS last_alert_at
FROM readings LEFT JOIN towns USING (town_code)
GROUP BY ALL"""


MARTS: dict[str, Builder] = {
    "population_by_town_age_sex": population_by_town_age_sex,
    "market_entities_by_industry_town_status": market_entities_by_industry_town_status,
    "utility_use_by_town_and_month": utility_use_by_town_and_month,
    "camera_online_rate_by_department_town": camera_online_rate_by_department_town,
    "iot_alerts_by_type_and_town": iot_alerts_by_type_and_town,
}

# The count that says how many people, households or businesses stand behind a mart row. Analysts
# see only rows where it is at least k (HUB_MART_MIN_GROUP): a group of one is one person.
# None: the mart counts the departments' own devices, behind which stands no person.
MART_GROUP_COLUMNS: dict[str, str | None] = {
    "population_by_town_age_sex": "persons",
    "market_entities_by_industry_town_status": "entities",
    "utility_use_by_town_and_month": "meters",
    "camera_online_rate_by_department_town": None,
    "iot_alerts_by_type_and_town": None,
}


#: What a mart view reads that SQL cannot compute here (e.g. a union of polygons): mart name →
#: prepare(connection, resources, staged), run by `refresh_marts` before the views are created.
MART_INPUTS: dict[str, Callable] = {}


def plan_marts(catalogue=None, staged: set[str] | None = None) -> dict[str, tuple[str | None, str | None]]:
    """mart name → (SQL, None) if it can be built now, else (None, the reason)."""
    resources = {r.id: r for r in lake.catalogue_resources(catalogue)}
    if staged is None:
        connection = store.connect_reader()
        try:
            staged = _staged(connection)
        finally:
            connection.close()
    plan = {}
    for name, build in MARTS.items():
        try:
            plan[name] = (build(resources, staged), None)
        except MartSkipped as skipped:
            plan[name] = (None, str(skipped))
    return plan


def refresh_marts(catalogue=None) -> list[str]:
    """(Re)create every mart view whose resources are landed; returns the names created."""
    built = []
    with store.writer() as connection:
        staged = _staged(connection)
        resources = {r.id: r for r in lake.catalogue_resources(catalogue)}
        for prepare in MART_INPUTS.values():
            prepare(connection, resources, staged)
        for name, (sql, reason) in plan_marts(catalogue, staged).items():
            if sql is None:
                log.info("mart.%s skipped: %s", name, reason)
                connection.execute(f"DROP VIEW IF EXISTS {derive.quoted('mart.' + name)}")
                continue
            connection.execute(f"CREATE OR REPLACE VIEW {derive.quoted('mart.' + name)} AS {sql}")
            comments.comment_mart(connection, name)
            built.append(f"mart.{name}")
    return built


def _staged(connection) -> set[str]:
    rows = connection.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'"
    ).fetchall()
    return {name for (name,) in rows}


from warehouse import drone_marts  # noqa: E402,F401  (registers the drone platform's marts)
