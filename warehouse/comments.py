"""What each table, view and column means, written into the warehouse from the catalogue
(COMMENT ON …), so DESCRIBE's neighbours (`duckdb_columns()`, `duckdb_tables()`, `duckdb_views()`)
and any SQL client show 户籍人口 / 公民身份号码 beside `rk_czrk` / `gmsfhm`.

Staging tables and raw views take the resource's name and code and each item's label; marts take
MART_DOCS below, which also names the resources each mart reads (its lineage), for the workspace's
schema browser and the marts' pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from catalog import derive

SYSTEM_COLUMNS = {
    "_event_time": "事件时间（源系统变更时间，UTC 存储）",
    "_partition": "Kafka 分区",
    "_offset": "Kafka 偏移量",
    "_load_id": "装载批次",
    "_op": "操作（upsert/delete）",
}


@dataclass(frozen=True)
class MartDoc:
    title: str
    description: str
    reads: tuple[str, ...]  # catalogue resource ids the mart is built from
    columns: dict[str, str] = field(default_factory=dict)


_TOWN = {"town_code": "镇街代码（9 位区划）", "town_name": "镇街名称"}
MART_DOCS: dict[str, MartDoc] = {
    "population_by_town_age_sex": MartDoc(
        "各镇街人口（年龄段、性别）",
        "常住人口（或户籍与流动人口登记）按镇街、十岁年龄段、性别和人口类型汇总；少于 k 人的组不显示。",
        ("resident_population", "household_population", "migrant_registration"),
        {**_TOWN, "age_band": "年龄段（十岁）", "sex": "性别", "population_type": "人口类型", "persons": "人数"},
    ),
    "market_entities_by_industry_town_status": MartDoc(
        "各镇街市场主体（行业门类、登记状态）",
        "市场主体按国民经济行业门类、镇街和登记状态汇总；少于 k 户的组不显示。",
        ("market_entities",),
        {
            **_TOWN,
            "industry_section": "行业门类代码（GB/T 4754-2017）",
            "industry_section_name": "行业门类名称",
            "industry_division": "行业大类代码",
            "entity_type": "主体类型",
            "status": "登记状态",
            "entities": "市场主体数",
            "registered_capital_wan": "注册资本合计（万元）",
        },
    ),
    "utility_use_by_town_and_month": MartDoc(
        "各镇街水电气月用量",
        "电、水、气表读数的逐次增量按镇街和月份（北京时间）汇总；complete 为否的月份数据不全。",
        ("electricity_readings", "water_readings", "gas_readings"),
        {
            **_TOWN,
            "utility": "类别（electricity 电 / water 水 / gas 气）",
            "unit": "计量单位",
            "month": "月份（北京时间，YYYY-MM）",
            "meters": "有读数的表数",
            "readings": "读数条数",
            "use": "用量（读数增量之和）",
            "excluded_steps": "不计入的读数变化（换表、清零、回退）",
            "complete": "是否完整月份（首月与最新月为否：读数开始或仍在到达）",
        },
    ),
    "camera_online_rate_by_department_town": MartDoc(
        "各部门各镇街视频监控在线率",
        "视频监控点位按所属部门和镇街汇总：总数、在线数、在线率。",
        ("camera_devices",),
        {
            **_TOWN,
            "department": "所属部门",
            "cameras": "点位数",
            "online": "在线数",
            "online_rate": "在线率",
        },
    ),
    "iot_alerts_by_type_and_town": MartDoc(
        "各镇街物联感知告警",
        "物联网传感器读数与告警按类型和镇街汇总。",
        (),
        {
            **_TOWN,
            "alert_type": "告警类型",
            "readings": "读数条数",
            "alerts": "告警条数",
            "alerting_devices": "告警设备数",
            "last_alert_at": "最近告警时间",
        },
    ),
}


def literal(text: str) -> str:
    """A SQL string literal (COMMENT ON takes no bound parameters)."""
    return "'" + text.replace("'", "''") + "'"


def resource_title(resource) -> str:
    return f"{resource.name}（{resource.code}）"


def item_comment(item) -> str:
    return item.label


def comment_resource(connection, resource, *, raw: bool = False) -> None:
    """COMMENT ON the staging table (or raw view) of `resource` and each of its columns."""
    names = derive.table_names(resource)
    target = names.raw if raw else names.staging
    kind = "VIEW" if raw else "TABLE"
    connection.execute(f"COMMENT ON {kind} {derive.quoted(target)} IS {literal(resource_title(resource))}")
    present = _columns(connection, target)
    labels = {item.name: item_comment(item) for item in resource.items}
    for column in present:
        text = labels.get(column) or SYSTEM_COLUMNS.get(column)
        if text:
            connection.execute(f"COMMENT ON COLUMN {derive.quoted(target)}.{_q(column)} IS {literal(text)}")


def comment_mart(connection, name: str) -> None:
    doc = MART_DOCS.get(name)
    if doc is None:
        return
    target = f"mart.{name}"
    connection.execute(f"COMMENT ON VIEW {derive.quoted(target)} IS {literal(doc.title + '：' + doc.description)}")
    for column in _columns(connection, target):
        if column in doc.columns:
            connection.execute(
                f"COMMENT ON COLUMN {derive.quoted(target)}.{_q(column)} IS {literal(doc.columns[column])}"
            )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(connection, target: str) -> list[str]:
    schema, name = target.split(".", 1)
    rows = connection.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, name],
    ).fetchall()
    return [column for (column,) in rows]
