"""catalog.lint: every rule fires on a small inline catalogue, at the right file and line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from catalog.lint import RULES, Finding, format_findings, lint_catalogue

TODAY = date(2026, 11, 23)
SEED = Path(__file__).parents[2] / "catalog" / "seed"

DEPARTMENTS = """\
- id: gaj
  name: 佛山市公安局顺德分局
  code: 11440606006424189J
  division: "440606"

- id: gdj
  name: 广东电网有限责任公司佛山顺德供电局
  code: 91440300708461136T
  division: "440606"

- id: town_daliang
  name: 佛山市顺德区大良街道办事处
  code: "114406060001002047"
  division: "440606005"
"""

RESOURCES = """\
- id: household_population
  code: 101001/00001
  name: 户籍人口基本信息
  provider: gaj
  classification: 基础/人口/户籍人口
  abstract: 户籍人口的基本信息。
  format: 数据库
  domain: population
  update_cycle: 每日
  sharing_type: 有条件共享
  sharing_condition: 仅限履职使用
  sharing_method: 接口
  open_type: 不开放
  release_date: 2019-06-28
  priority: 5
  related: [206001/00001]
  binding:
    kind: sql
    system: population_db
    config: {table: rk_hjrk, cursor_column: updated_at}
  checks:
    - {rule: household_head, columns: {household: hh, relation: yhzgx}}
  items:
    - {name: gmsfhm, label: 公民身份号码, type: C, length: 18, nullable: false, key: true, pii: id_number, rules: {validator: resident_id}}
    - {name: xb, label: 性别, type: C, length: 1, rules: {values: ["1", "2"]}}
    - {name: hh, label: 户号, type: C, length: 12, rules: {regex: '^\\d{9,12}$'}}
    - {name: yhzgx, label: 与户主关系, type: C, length: 2}
    - {name: updated_at, label: 更新时间, type: T, nullable: false}

- id: electricity_readings
  code: 206001/00001
  name: 居民用电抄表数据
  provider: gdj
  classification: 主题/能源安全/电力
  abstract: 智能电表每日冻结读数。
  format: 数据库
  domain: utility
  update_cycle: 每日
  sharing_type: 无条件共享
  open_type: 不开放
  release_date: 2021-06-30
  quality_threshold: 0.97
  freshness_grace_hours: 12
  binding:
    kind: sql
    system: utility_db
    config: {table: dl_cbsj, cursor_column: updated_at}
  items:
    - {name: meter_id, label: 表计编号, type: C, length: 12, nullable: false, key: true}
    - {name: cumulative_value, label: 表计累计读数, type: N, length: 12, rules: {min: 0, max: 999999.99}}
    - {name: updated_at, label: 更新时间, type: T, nullable: false}

- id: waterlogging_levels
  code: 205001/00001
  name: 积涝水位监测数据
  provider: town_daliang
  classification: 主题/应急维稳/防汛防台
  abstract: 积水深度监测数据。
  format: 流数据
  domain: iot
  update_cycle: 实时
  sharing_type: 有条件共享
  sharing_condition: 仅限防汛使用
  open_type: 有条件开放
  release_date: 2021-05-31
  binding:
    kind: mqtt
    system: iot_broker
    config: {topic_filter: sd/+/waterlogging/+/telemetry}
  items:
    - {name: device_id, label: 设备编号, type: C, nullable: false, key: true}
    - {name: ts, label: 采集时间, type: T, nullable: false, key: true}

- id: land_parcels
  code: 103001/00001
  name: 宗地信息
  provider: gaj
  classification: 基础/自然资源和空间地理/土地
  abstract: 宗地信息。
  format: 电子文件
  domain: gis
  update_cycle: 每月
  sharing_type: 无条件共享
  open_type: 不开放
  release_date: 2019-12-20
  binding:
    kind: file
    system: gis_drop
    config: {pattern: parcels/*.geojson, crs: 4490}
  items:
    - {name: zddm, label: 宗地代码, type: C, length: 19, nullable: false, key: true, rules: {validator: parcel_code}}
    - {name: geometry, label: 宗地范围（WKT）, type: C, nullable: false}

- id: camera_devices
  code: 205004/00001
  name: 视频监控设备目录
  provider: gaj
  classification: 主题/应急维稳/公共安全视频
  abstract: 视频监控设备目录。
  format: 接口
  domain: video
  update_cycle: 每日
  sharing_type: 无条件共享
  open_type: 不开放
  release_date: 2020-08-31
  binding:
    kind: http
    system: video_platform
    config: {endpoint: /api/v1/devices, page_size: 500}
  items:
    - {name: device_id, label: 设备编码, type: C, length: 20, nullable: false, key: true, rules: {validator: camera_id}}

- id: criminal_records
  code: 301002/00001
  name: 违法犯罪人员记录信息
  provider: gaj
  classification: 部门/公安/治安管理
  abstract: 违法犯罪人员记录。
  format: 数据库
  domain: community_governance
  update_cycle: 每日
  sharing_type: 不予共享
  sharing_condition: 依据《中华人民共和国个人信息保护法》不予共享
  open_type: 不开放
  release_date: 2022-02-14
  items:
    - {name: gmsfhm, label: 公民身份号码, type: C, length: 18, pii: id_number}
"""

DUPLICATE_DEPARTMENT = """
- id: gaj  # dup
  name: 重复
  code: 91440300708461136T  # same code
  division: "440606"
"""

DUPLICATE_RESOURCE = """
- id: household_population  # dup
  code: 101001/00001  # same code
  name: 重复条目
  provider: gaj
  classification: 基础/人口/户籍人口
  abstract: 重复。
  format: 数据库
  domain: community_governance
  update_cycle: 每日
  sharing_type: 无条件共享
  open_type: 不开放
  release_date: 2020-01-01
  binding:
    kind: sql
    system: population_db
    config: {table: rk_hjrk, cursor_column: updated_at}  # same target
  items:
    - {name: gmsfhm, label: 公民身份号码, type: C, length: 18, nullable: false, key: true}
    - {name: updated_at, label: 更新时间, type: T, nullable: false}
"""

# (rule, file, old text, new text, marker on the line the finding must name)
CASES = [
    (
        "yaml",
        "resources",
        "  open_type: 不开放\n  release_date: 2019",
        "  open_type: [不开放\n  release_date: 2019",
        None,
    ),
    ("shape", "resources", "  priority: 5", "  priority: very", "priority: very"),
    ("department_id", "departments", "- id: gdj", "- id: GDJ", "id: GDJ"),
    ("department_code", "departments", "code: 11440606006424189J", "code: 11440606006424189K", None),
    ("department_code", "departments", "code: 11440606006424189J", "code: 1144060600642418OJ", None),
    ("department_division", "departments", 'division: "440606005"', 'division: "440604010"', "id: town_daliang"),
    ("department_unique_id", "departments", None, DUPLICATE_DEPARTMENT, "# dup"),
    ("department_unique_code", "departments", None, DUPLICATE_DEPARTMENT, "# dup"),
    ("id_format", "resources", "- id: land_parcels", "- id: Land-Parcels", "id: Land-Parcels"),
    ("unique_id", "resources", None, DUPLICATE_RESOURCE, "# dup"),
    ("unique_code", "resources", None, DUPLICATE_RESOURCE, "# dup"),
    ("binding_unique", "resources", None, DUPLICATE_RESOURCE, "# dup"),
    ("code_format", "resources", "code: 103001/00001", "code: 103001-00001", "code: 103001-00001"),
    (
        "classification",
        "resources",
        "classification: 主题/能源安全/电力",
        "classification: 基础/能源安全/电力",
        "classification: 基础/能源安全/电力",
    ),
    (
        "classification",
        "resources",
        "classification: 基础/人口/户籍人口",
        "classification: 基础/法人单位/户籍人口",
        "classification: 基础/法人单位/户籍人口",
    ),
    (
        "classification",
        "resources",
        "code: 103001/00001",
        "code: 109001/00001",
        "classification: 基础/自然资源和空间地理/土地",
    ),
    ("provider", "resources", "provider: gdj", "provider: power_bureau", "provider: power_bureau"),
    (
        "items_present",
        "resources",
        "  items:\n    - {name: zddm, label: 宗地代码, type: C, length: 19, nullable: false, key: true, rules: {validator: parcel_code}}\n"
        "    - {name: geometry, label: 宗地范围（WKT）, type: C, nullable: false}",
        "  items: []",
        "items: []",
    ),
    ("item_name", "resources", "{name: xb,", "{name: XB,", "name: XB"),
    ("item_name", "resources", "{name: hh,", "{name: 1hh,", "name: 1hh"),
    ("item_unique", "resources", "{name: hh,", "{name: xb,", "label: 户号"),
    ("item_type", "resources", "label: 性别, type: C", "label: 性别, type: S", "label: 性别"),
    ("item_length", "resources", "label: 性别, type: C, length: 1", "label: 性别, type: C, length: 0", "label: 性别"),
    (
        "item_pii",
        "resources",
        "pii: id_number, rules: {validator: resident_id}",
        "pii: secret, rules: {validator: resident_id}",
        "pii: secret",
    ),
    (
        "item_identifier_pii",
        "resources",
        "pii: id_number, rules: {validator: resident_id}",
        "pii: none, rules: {validator: resident_id}",
        "pii: none, rules: {validator: resident_id}",
    ),
    (
        "item_derived_from",
        "resources",
        'rules: {values: ["1", "2"]}}',
        'rules: {values: ["1", "2"], derived_from: hh}}',
        "derived_from: hh",
    ),
    (
        "item_length",
        "resources",
        "label: 性别, type: C, length: 1",
        "label: 性别, type: C, length: 10000000",
        "label: 性别",
    ),
    (
        "freshness_grace_hours",
        "resources",
        "freshness_grace_hours: 12",
        "freshness_grace_hours: 1e300",
        "freshness_grace_hours: 1e300",
    ),
    (
        "freshness_grace_hours",
        "resources",
        "freshness_grace_hours: 12",
        "freshness_grace_hours: .nan",
        "freshness_grace_hours: .nan",
    ),
    (
        "key_nullable",
        "resources",
        "{name: meter_id, label: 表计编号, type: C, length: 12, nullable: false, key: true}",
        "{name: meter_id, label: 表计编号, type: C, length: 12, key: true}",
        "name: meter_id",
    ),
    ("item_rules", "resources", "{validator: resident_id}", "{validator: id_card}", "validator: id_card"),
    ("item_rules", "resources", "{regex: '^\\d{9,12}$'}", "{regex: '^(\\d{9,12}$'}", "name: hh"),
    ("item_rules", "resources", 'values: ["1", "2"]', "values: []", "values: []"),
    ("item_rules", "resources", "{min: 0, max: 999999.99}", "{min: 10, max: 1}", "min: 10"),
    (
        "key_item",
        "resources",
        "  items:\n    - {name: zddm, label: 宗地代码, type: C, length: 19, nullable: false, key: true,",
        "  items:  # no key\n    - {name: zddm, label: 宗地代码, type: C, length: 19, nullable: false,",
        "# no key",
    ),
    (
        "sharing_condition",
        "resources",
        "  sharing_type: 有条件共享\n  sharing_condition: 仅限防汛使用\n",
        "  sharing_type: 有条件共享  # no condition\n",
        "# no condition",
    ),
    (
        "legal_basis",
        "resources",
        "  sharing_condition: 依据《中华人民共和国个人信息保护法》不予共享\n",
        "",
        "sharing_type: 不予共享",
    ),
    ("release_date", "resources", "release_date: 2022-02-14", "release_date: 2026-11-24", "release_date: 2026-11-24"),
    ("update_cycle", "resources", "  update_cycle: 每月\n", "", "- id: land_parcels"),
    ("update_cycle", "resources", "update_cycle: 实时", "update_cycle: 每分钟", "update_cycle: 每分钟"),
    ("update_cycle", "resources", "update_cycle: 实时", "update_cycle: null", "update_cycle: null"),
    (
        "sharing_type",
        "resources",
        "sharing_type: 无条件共享\n  open_type: 不开放\n  release_date: 2021",
        "sharing_type: 部分共享\n  open_type: 不开放\n  release_date: 2021",
        "sharing_type: 部分共享",
    ),
    ("open_type", "resources", "open_type: 有条件开放", "open_type: 公开", "open_type: 公开"),
    ("sharing_method", "resources", "sharing_method: 接口", "sharing_method: 光盘", "sharing_method: 光盘"),
    ("format", "resources", "format: 流数据", "format: 视频", "format: 视频"),
    ("domain", "resources", "domain: community_governance", "domain: police", "domain: police"),
    ("priority", "resources", "priority: 5", "priority: 9", "priority: 9"),
    ("status", "resources", "  priority: 5\n", "  priority: 5\n  status: 已删除\n", "status: 已删除"),
    ("quality_threshold", "resources", "quality_threshold: 0.97", "quality_threshold: 97", "quality_threshold: 97"),
    (
        "freshness_grace_hours",
        "resources",
        "freshness_grace_hours: 12",
        "freshness_grace_hours: -1",
        "freshness_grace_hours: -1",
    ),
    (
        "freshness_grace_hours",
        "resources",
        "freshness_grace_hours: 12",
        "freshness_grace_hours: 8785",
        "freshness_grace_hours: 8785",
    ),
    (
        "freshness_grace_hours",
        "resources",
        "freshness_grace_hours: 12",
        "freshness_grace_hours: 1.0e+300",
        "freshness_grace_hours: 1.0e+300",
    ),
    (
        "freshness_grace_hours",
        "resources",
        "freshness_grace_hours: 12",
        "freshness_grace_hours: .inf",
        "freshness_grace_hours: .inf",
    ),
    (
        "freshness_grace_hours",
        "resources",
        "freshness_grace_hours: 12",
        "freshness_grace_hours: .nan",
        "freshness_grace_hours: .nan",
    ),
    ("related", "resources", "related: [206001/00001]", "related: [206001/00099]", "related: [206001/00099]"),
    ("binding_kind", "resources", "kind: mqtt", "kind: amqp", "kind: amqp"),
    ("binding_system", "resources", "system: iot_broker", "system: iot_hub", "system: iot_hub"),
    ("binding_consistency", "resources", "kind: http", "kind: sql  # was http", "# was http"),
    (
        "binding_consistency",
        "resources",
        "domain: video\n  update_cycle: 每日\n  sharing_type: 无条件共享\n  open_type: 不开放\n  release_date: 2020-08-31\n  binding:\n    kind: http\n    system: video_platform",
        "domain: gis\n  update_cycle: 每日\n  sharing_type: 无条件共享\n  open_type: 不开放\n  release_date: 2020-08-31\n  binding:\n    kind: http\n    system: video_platform  # domain gis",
        "# domain gis",
    ),
    (
        "binding_config",
        "resources",
        "{table: dl_cbsj, cursor_column: updated_at}",
        "{cursor_column: updated_at}  # edited",
        "# edited",
    ),
    (
        "binding_config",
        "resources",
        "{table: dl_cbsj, cursor_column: updated_at}",
        "{table: dl_cbsj, cursor_column: gxsj}",
        "cursor_column: gxsj",
    ),
    (
        "binding_config",
        "resources",
        "{table: dl_cbsj, cursor_column: updated_at}",
        "{table: dl_cbsj}",
        "{table: dl_cbsj}",
    ),
    ("binding_config", "resources", "crs: 4490", "crs: 3857", "crs: 3857"),
    ("binding_config", "resources", "pattern: parcels/*.geojson", "pattern: /data/parcels/*.geojson", "pattern: /data"),
    (
        "binding_config",
        "resources",
        "{name: geometry, label: 宗地范围（WKT）",
        "{name: geom, label: 宗地范围（WKT）",
        "config: {pattern: parcels",
    ),
    ("binding_config", "resources", "endpoint: /api/v1/devices", "endpoint: api/v1/devices", "endpoint: api/v1"),
    ("binding_config", "resources", "page_size: 500", "page_size: -5", "page_size: -5"),
    (
        "binding_config",
        "resources",
        "topic_filter: sd/+/waterlogging/+/telemetry",
        "topic_filter: sd/#/waterlogging",
        "topic_filter: sd/#/waterlogging",
    ),
    (
        "binding_config",
        "resources",
        "topic_filter: sd/+/waterlogging/+/telemetry",
        "topic_filter: sd/a+/waterlogging",
        "topic_filter: sd/a+/waterlogging",
    ),
    ("check_rule", "resources", "{rule: household_head,", "{rule: household_heads,", "rule: household_heads"),
    ("check_rule", "resources", "relation: yhzgx}}", "relation: yhzgx}, severity: fatal}", "severity: fatal"),
    ("check_columns", "resources", "relation: yhzgx}}", "relation: yhgx}}", "relation: yhgx"),
    ("check_columns", "resources", "{household: hh, relation: yhzgx}", "{household: hh}", "{household: hh}"),
    (
        "check_columns",
        "resources",
        "{household: hh, relation: yhzgx}",
        "{household: hh, relation: yhzgx, head: yhzgx}",
        "head: yhzgx",
    ),
    (
        "shared_item",
        "resources",
        '{name: xb, label: 性别, type: C, length: 1, rules: {values: ["1", "2"]}}',
        "{name: xb, label: 性别, type: C, length: 1, shared: 户口.性别, authoritative: true}",
        "shared: 户口.性别",
    ),
    ("shared_item", "resources", "max: 999999.99}}", "max: 999999.99}, authoritative: true}", "authoritative: true"),
    (
        "shared_item",
        "resources",
        "{name: device_id, label: 设备编码,",
        "{name: device_id, shared: 人口.姓名, label: 设备编码,",
        "shared: 人口.姓名",
    ),
    (
        "authoritative_source",
        "resources",
        '{name: xb, label: 性别, type: C, length: 1, rules: {values: ["1", "2"]}}',
        "{name: xb, label: 性别, type: C, length: 1, shared: 人口.性别}",
        "shared: 人口.性别",
    ),
]


def write_seed(root: Path, departments: str = DEPARTMENTS, resources: str = RESOURCES) -> Path:
    (root / "resources").mkdir(parents=True, exist_ok=True)
    (root / "departments.yaml").write_text(departments, encoding="utf-8")
    (root / "resources" / "test.yaml").write_text(resources, encoding="utf-8")
    return root


def edit(text: str, old: str | None, new: str) -> str:
    if old is None:
        return text + new
    assert old in text, old
    return text.replace(old, new, 1)


def line_of(text: str, marker: str) -> int:
    lines = [number for number, line in enumerate(text.splitlines(), 1) if marker in line]
    assert len(lines) == 1, f"marker {marker!r} must name exactly one line, found {lines}"
    return lines[0]


def test_every_rule_has_a_case():
    assert {case[0] for case in CASES} == set(RULES)


def test_the_inline_catalogue_is_clean(tmp_path):
    assert lint_catalogue(write_seed(tmp_path), today=TODAY) == []


@pytest.mark.parametrize(
    ("rule", "target", "old", "new", "marker"), CASES, ids=[f"{case[0]}-{index}" for index, case in enumerate(CASES)]
)
def test_rule_fires_at_the_right_line(tmp_path, rule, target, old, new, marker):
    departments = edit(DEPARTMENTS, old, new) if target == "departments" else DEPARTMENTS
    resources = edit(RESOURCES, old, new) if target == "resources" else RESOURCES
    findings = lint_catalogue(write_seed(tmp_path, departments, resources), today=TODAY)
    fired = [f for f in findings if f.rule == rule]
    assert fired, f"expected {rule}, got:\n{format_findings(findings)}"
    changed = departments if target == "departments" else resources
    expected_file = tmp_path / ("departments.yaml" if target == "departments" else "resources/test.yaml")
    assert all(f.file == str(expected_file) for f in fired)
    if marker is not None:
        assert line_of(changed, marker) in {f.line for f in fired}, format_findings(fired)
    assert all(f.line >= 1 and f.message for f in findings)


def test_a_base_item_has_one_authoritative_source(tmp_path):
    two = edit(RESOURCES, "{name: hh, label: 户号,", "{name: hh, shared: 人口.户号, authoritative: true, label: 户号,")
    two = edit(
        two,
        "{name: gmsfhm, label: 公民身份号码, type: C, length: 18, pii: id_number}",
        "{name: gmsfhm, label: 公民身份号码, type: C, length: 18, pii: id_number, rules: {validator: resident_id}}\n"
        "    - {name: hh, label: 户号, type: C, shared: 人口.户号, authoritative: true}",
    )
    findings = [f for f in lint_catalogue(write_seed(tmp_path, resources=two), today=TODAY) if f.rule != "key_item"]
    assert [(f.rule, f.subject) for f in findings] == [
        ("authoritative_source", "101001/00001"),
        ("authoritative_source", "301002/00001"),
    ]
    one = two.replace(
        "{name: hh, label: 户号, type: C, shared: 人口.户号, authoritative: true}",
        "{name: hh, label: 户号, type: C, shared: 人口.户号}",
    )
    assert lint_catalogue(write_seed(tmp_path, resources=one), today=TODAY) == []


def test_every_problem_is_reported_not_just_the_first(tmp_path):
    resources = (
        RESOURCES.replace("  sharing_condition: 仅限防汛使用\n", "", 1)
        .replace("  update_cycle: 每月\n", "", 1)
        .replace("provider: gdj", "provider: nobody", 1)
    )
    rules = {f.rule for f in lint_catalogue(write_seed(tmp_path, resources=resources), today=TODAY)}
    assert {"sharing_condition", "update_cycle", "provider"} <= rules


def test_shape_errors_do_not_hide_the_other_entries_findings(tmp_path):
    resources = RESOURCES.replace("  priority: 5", "  priority: very", 1).replace(
        "provider: gdj", "provider: nobody", 1
    )
    rules = {f.rule for f in lint_catalogue(write_seed(tmp_path, resources=resources), today=TODAY)}
    assert {"shape", "provider"} <= rules


def test_release_date_is_judged_against_today(tmp_path):
    resources = RESOURCES.replace("release_date: 2022-02-14", "release_date: 2026-11-23", 1)
    assert lint_catalogue(write_seed(tmp_path, resources=resources), today=TODAY) == []
    assert [f.rule for f in lint_catalogue(tmp_path, today=date(2026, 11, 22))] == ["release_date"]


def test_defective_examples_miss_cycle_or_condition(tmp_path):
    findings = lint_catalogue(SEED / "examples" / "defective.yaml", today=TODAY)
    assert sorted(f.rule for f in findings) == [
        "legal_basis",
        "sharing_condition",
        "sharing_condition",
        "update_cycle",
        "update_cycle",
    ]
    assert len({f.subject for f in findings}) == 5


def test_format_findings_reads_file_line_rule_message():
    finding = Finding("catalog/seed/resources/gaj.yaml", 12, "101001/00001", "update_cycle", "update_cycle is missing")
    assert format_findings([finding]) == (
        "catalog/seed/resources/gaj.yaml:12: update_cycle: [101001/00001] update_cycle is missing"
    )
    assert finding.resource_code_or_department == "101001/00001"
    assert format_findings([]) == ""


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("91440300708461136T", True),  # DOMAIN.md §2 test vector
        ("91440300708461136A", False),  # wrong check character
        ("91440300708461136", False),  # 17 characters
        ("9144030070846113IT", False),  # I is not in the GB 32100 alphabet
        ("994403007084611362", False),  # right check character, but 99 is no registration type
        ("814406060001002040", True),  # 81 基层工会 is a registration type too
    ],
)
def test_department_code_follows_gb_32100(tmp_path, code, valid):
    departments = DEPARTMENTS.replace("code: 91440300708461136T", f'code: "{code}"', 1)
    findings = lint_catalogue(write_seed(tmp_path, departments=departments), today=TODAY)
    assert ([f.subject for f in findings if f.rule == "department_code"] == []) == valid


@pytest.mark.parametrize("grace", ["0", "0.5", "72", "8784"])
def test_a_grace_from_zero_to_a_year_is_accepted(tmp_path, grace):
    resources = edit(RESOURCES, "freshness_grace_hours: 12", f"freshness_grace_hours: {grace}")
    findings = lint_catalogue(write_seed(tmp_path, DEPARTMENTS, resources), today=TODAY)
    assert not [f for f in findings if f.rule == "freshness_grace_hours"], format_findings(findings)
