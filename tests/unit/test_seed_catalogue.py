"""The seed catalogue itself: clean, big and varied enough, and true to the public references."""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from catalog.lint import format_findings, lint_catalogue
from catalog.reference import SHUNDE_DISTRICT_CODE as DISTRICT_CODE
from catalog.reference import SHUNDE_TOWNS
from catalog.spec import DOMAINS, THEMES, UPDATE_CYCLES, load_catalogue
from catalog.systems import SOURCE_SYSTEMS

SEED = Path(__file__).parents[2] / "catalog" / "seed"
DIVISIONS = Path(__file__).parents[2].parent / "shared" / "fixtures" / "divisions"
LAST_RELEASE = date(2026, 11, 23)

# DOMAIN.md §1: the providers the district catalogue is built from (a fragment of each full name).
REQUIRED_PROVIDERS = (
    "公安",
    "市场监督管理局",
    "政务服务数据管理局",
    "自然资源局",
    "住房城乡建设和水利局",
    "城市管理和综合执法局",
    "生态环境",
    "应急管理局",
    "交通运输局",
    "教育局",
    "卫生健康局",
    "民政局",
    "人力资源社会保障局",
    "农业农村局",
    "统计局",
    "供电局",
    "自来水",
    "燃气",
    "大良街道",
    "容桂街道",
    "伦教街道",
    "勒流街道",
    "陈村镇",
    "北滘镇",
    "乐从镇",
    "龙江镇",
    "杏坛镇",
    "均安镇",
)

# DOMAIN.md §4: the fields each core source carries.
CORE_FIELDS = {
    "常住人口基本信息": "gmsfhm xm xb mz csrq hh yhzgx hjdz_xzqh hjdz jzdz hyzk hklb rklx lxdh qrrq zxbz updated_at",
    "户籍人口基本信息": "gmsfhm xm xb mz csrq hh yhzgx hjdz_xzqh hjdz jzdz hyzk hklb rklx lxdh qrrq zxbz updated_at",
    "流动人口居住登记信息": "gmsfhm xm xb mz csrq hjdz_xzqh hjdz jzdz rklx lxdh updated_at",
    "市场主体登记信息": "tyshxydm qymc ztlx fddbr zczb clrq hzrq djjg djzt zs jyfw hydm ssjz updated_at",
    "个体工商户登记信息": "tyshxydm qymc ztlx fddbr zczb clrq hzrq djjg djzt zs jyfw hydm ssjz updated_at",
    "居民用电抄表数据": "meter_id account_no address_code reading_time cumulative_value unit read_type meter_event",
    "自来水用户月度用水量": "meter_id account_no address_code reading_time cumulative_value unit read_type meter_event",
    "管道燃气抄表数据": "meter_id account_no address_code reading_time cumulative_value unit read_type meter_event",
    "视频监控设备目录": "device_id name manufacturer model owner civil_code address parent_id status ip_address port "
    "longitude latitude ptz_type",
    "视频监控设备在线状态": "device_id ts status reason",
    "积涝水位监测数据": "device_id town_code sensor_type ts value unit battery",
    "河涌水位监测数据": "device_id town_code sensor_type ts value unit battery",
    "空气质量监测数据": "device_id town_code sensor_type ts value unit",
    "井盖状态监测数据": "device_id town_code sensor_type ts value unit battery",
    "烟感报警数据": "device_id town_code sensor_type ts value unit battery",
    "宗地信息": "zddm zl geometry crs",
    "房屋建筑信息": "jzwbm zcs geometry crs",
    "标准地址信息": "dzbm bzdz longitude latitude geometry crs",
}


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(SEED)


def test_the_seed_lints_clean():
    findings = lint_catalogue(SEED)
    assert findings == [], format_findings(findings)


def test_size_and_spread(catalogue):
    resources = catalogue.resources
    assert len(resources) >= 120
    assert len({r.provider for r in resources}) >= 22
    domains = {r.domain for r in resources}
    assert set(DOMAINS) <= domains
    assert len(domains & set(THEMES)) >= 5
    assert {r.code[0] for r in resources} == {"1", "2", "3"}


def test_about_two_thirds_are_bound_across_all_seven_systems(catalogue):
    bound = [r for r in catalogue.resources if r.binding]
    assert 0.6 <= len(bound) / len(catalogue.resources) <= 0.75
    assert {r.binding.system for r in bound} == set(SOURCE_SYSTEMS)
    assert any(r.binding and r.domain in THEMES for r in catalogue.resources)


def test_core_resources_are_bound_and_carry_the_domain_fields(catalogue):
    by_name = {r.name: r for r in catalogue.resources}
    for name, fields in CORE_FIELDS.items():
        resource = by_name[name]
        assert resource.binding is not None, name
        missing = set(fields.split()) - {item.name for item in resource.items}
        assert not missing, f"{name} lacks {sorted(missing)}"
    assert by_name["视频监控设备目录"].binding.config["endpoint"] == "/api/v1/devices"
    assert by_name["视频监控设备在线状态"].binding.config["endpoint"] == "/api/v1/device-status"
    assert by_name["积涝水位监测数据"].binding.config["topic_filter"] == "sd/+/waterlogging/+/telemetry"
    assert by_name["常住人口基本信息"].binding.config == {"table": "rk_czrk", "cursor_column": "updated_at"}
    assert {r.binding.config["crs"] for r in catalogue.resources if r.binding and r.binding.kind == "file"} == {
        4490,
        4547,
    }


def test_every_core_domain_resource_of_a_bound_system_is_keyed(catalogue):
    for resource in catalogue.resources:
        if resource.binding:
            assert any(item.key and not item.nullable for item in resource.items), resource.name


def test_catalogue_attributes_are_varied_and_plausible(catalogue):
    resources = catalogue.resources
    sharing = Counter(r.sharing_type for r in resources)
    assert sharing["有条件共享"] > len(resources) / 2
    assert sharing["无条件共享"] >= 10 and 2 <= sharing["不予共享"] <= 8
    assert all(r.sharing_condition for r in resources if r.sharing_type != "无条件共享")
    assert set(Counter(r.open_type for r in resources)) == {"有条件开放", "无条件开放", "不开放"}
    assert len({r.update_cycle for r in resources}) >= 6 and all(r.update_cycle in UPDATE_CYCLES for r in resources)
    assert {r.release_date.year for r in resources} == set(range(2019, 2027))
    assert all(date(2019, 1, 1) <= r.release_date <= LAST_RELEASE for r in resources)
    assert {r.priority for r in resources} == {1, 2, 3, 4, 5}
    # Base libraries (人口, 法人, 自然资源和空间地理) weigh most in weighted coverage.
    base = [r.priority for r in resources if r.code.startswith(("101", "102", "103"))]
    other = [r.priority for r in resources if r.code[0] != "1"]
    assert min(base) >= 3 and sum(base) / len(base) > sum(other) / len(other) + 1
    assert all(r.abstract.endswith("。") and re.search(r"[\u4e00-\u9fff]", r.name) for r in resources)


def test_providers_include_every_district_body_and_town(catalogue):
    names = [d.name for d in catalogue.departments]
    assert len(names) >= 28
    for fragment in REQUIRED_PROVIDERS:
        assert any(fragment in name for name in names), fragment
    towns = {d.division for d in catalogue.departments if d.division != DISTRICT_CODE}
    assert towns == set(SHUNDE_TOWNS)


def test_defective_examples_are_three_to_five_percent(catalogue):
    defective = load_catalogue(SEED / "examples" / "defective.yaml").resources
    share = len(defective) / (len(defective) + len(catalogue.resources))
    assert 0.03 <= share <= 0.05
    seed_codes = {r.code for r in catalogue.resources}
    assert not seed_codes & {r.code for r in defective}


# --- checks against the national division codes in ../shared ------------------------------------


def _read_reference(name: str) -> list[dict]:
    path = DIVISIONS / name
    if not path.is_file():
        pytest.skip(f"public reference {path} is absent (CI puts ../shared beside the clone)")
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def counties() -> dict[str, str]:
    return {row["code"]: row["name"] for row in _read_reference("areas.csv")}


@pytest.fixture(scope="module")
def shunde_streets() -> dict[str, str]:
    return {row["code"]: row["name"] for row in _read_reference("streets-foshan.csv") if row["areaCode"] == "440606"}


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _uscc_check_char(code17: str) -> str:
    # Written out here again (not imported) so the test does not trust the code it checks.
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(code17, weights))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def test_department_codes_are_valid_and_registered_in_shunde(catalogue, counties):
    assert counties[DISTRICT_CODE] == "顺德区"
    for dept in catalogue.departments:
        code = dept.code
        assert len(code) == 18 and set(code) <= set(_USCC_ALPHABET), dept.id
        assert code[17] == _uscc_check_char(code[:17]), dept.id
        assert code[2:8] in counties and code[2:8] == DISTRICT_CODE, dept.id
        assert code[:2] == ("91" if any(w in dept.name for w in ("公司", "供电局")) else code[:2])
        assert code[:2] in {"11", "12", "91"}, dept.id
    assert len({d.code for d in catalogue.departments}) == len(catalogue.departments)


def test_department_divisions_are_real_shunde_codes(catalogue, counties, shunde_streets):
    assert SHUNDE_TOWNS == shunde_streets
    for dept in catalogue.departments:
        if dept.division == DISTRICT_CODE:
            assert dept.division in counties
        else:
            town = shunde_streets[dept.division]
            assert town in dept.name, f"{dept.id}: {dept.division} is {town}, not {dept.name}"


def test_town_resources_name_their_own_town(catalogue, shunde_streets):
    divisions = {d.id: d.division for d in catalogue.departments}
    for resource in catalogue.resources:
        named = [code for code, town in shunde_streets.items() if resource.name.startswith(town)]
        if named:
            assert named == [divisions[resource.provider]], resource.name


def test_codes_inside_value_rules_are_real(catalogue, counties, shunde_streets):
    for resource in catalogue.resources:
        for item in resource.items:
            for value in item.rules.values or []:
                if re.fullmatch(r"4406\d{5}", value):
                    assert value in shunde_streets, (resource.name, item.name, value)
            regex = item.rules.regex or ""
            for county in re.findall(r"\^(\d{6})", regex):
                assert county in counties, (resource.name, item.name, regex)
            for town in re.findall(r"\^(4406\d{5})", regex):
                assert town in shunde_streets, (resource.name, item.name, regex)
