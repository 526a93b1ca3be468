"""The marts (mart.* views in the warehouse) as catalogue entries of their own: derived resources with
a Chinese title, a description, their columns' meanings and the catalogue resources they are built
from (their lineage). The warehouse builds them (warehouse/marts.py) and writes these texts as
comments; the catalogue service shows each one on its own page (/marts/<name>).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
        "物联网传感器读数与告警按类型和镇街汇总（读取带告警项的感知资源）。",
        ("manhole_covers", "gas_leak_monitoring", "key_polluter_emissions", "smoke_alarms", "waterlogging_levels"),
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


def mart_entry(name: str, doc: MartDoc, resources: dict) -> dict:
    """A mart as the catalogue shows it: its texts, columns, and the resources it reads (id → Resource)."""
    return {
        "name": name,
        "view": f"mart.{name}",
        "title": doc.title,
        "description": doc.description,
        "columns": [{"name": column, "label": label} for column, label in doc.columns.items()],
        "reads": [
            {
                "id": rid,
                "name": resources[rid].name if rid in resources else None,
                "code": resources[rid].code if rid in resources else None,
                "in_catalogue": rid in resources,
            }
            for rid in doc.reads
        ],
    }
