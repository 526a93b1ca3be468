"""catalog.spec: the seed models, the loader's file/line marks, and its shape errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from catalog.errors import CatalogError, SeedError
from catalog.spec import (
    Catalogue,
    Department,
    Item,
    Resource,
    field_line,
    item_line,
    load_catalogue,
    read_catalogue,
    seed_files,
)
from hub.errors import HubError

SEED = Path(__file__).parents[2] / "catalog" / "seed"

DEPARTMENTS = """\
# providers
- id: gaj
  name: 佛山市公安局顺德分局
  code: 91440300708461136T
  division: "440606"

- id: town_daliang
  name: 佛山市顺德区大良街道办事处
  code: 91440300708461136T
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
  open_type: 不开放
  release_date: 2019-06-28
  priority: 5
  related: [203002/00001]
  binding:
    kind: sql
    system: population_db
    config: {table: rk_hjrk, cursor_column: updated_at}
  items:
    - {name: gmsfhm, label: 公民身份号码, type: C, length: 18, nullable: false, key: true, pii: id_number, rules: {validator: resident_id}}
    - {name: xb, label: 性别, type: C, length: 1, rules: {values: ["1", "2"]}}
    - {name: updated_at, label: 更新时间, type: T, nullable: false}

- id: rental_housing
  code: 203002/00001
  name: 出租屋登记信息
  provider: town_daliang
  classification: 主题/社区治理/网格化管理
  abstract: 出租屋登记信息。
  format: 数据库
  domain: community_governance
  sharing_type: 无条件共享
  open_type: 不开放
  release_date: 2021-04-30
  items:
    - {name: czwbm, label: 出租屋编码, type: C, key: true, nullable: false}
"""


def write_seed(root: Path, departments: str = DEPARTMENTS, resources: str = RESOURCES) -> Path:
    (root / "resources").mkdir(parents=True, exist_ok=True)
    (root / "departments.yaml").write_text(departments, encoding="utf-8")
    (root / "resources" / "test.yaml").write_text(resources, encoding="utf-8")
    return root


def line_of(text: str, marker: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if marker in line)


def test_loads_fields_with_their_types(tmp_path):
    catalogue = load_catalogue(write_seed(tmp_path))
    first, second = catalogue.resources
    assert [d.id for d in catalogue.departments] == ["gaj", "town_daliang"]
    assert first.release_date == date(2019, 6, 28)
    assert first.binding.config == {"table": "rk_hjrk", "cursor_column": "updated_at"}
    assert first.items[0].rules.validator == "resident_id"
    assert first.items[1].rules.values == ["1", "2"]
    assert first.related == ["203002/00001"]
    # Defaults of the format contract.
    assert second.update_cycle is None and second.binding is None
    assert second.sharing_method == "接口" and second.status == "已发布" and second.priority == 1
    assert second.items[0].pii == "none" and second.items[0].rules.regex is None


def test_records_file_and_line_of_every_entry_field_and_item(tmp_path):
    catalogue = load_catalogue(write_seed(tmp_path))
    resources_file = str(tmp_path / "resources" / "test.yaml")
    gaj, town = catalogue.departments
    assert (gaj.file, gaj.line) == (str(tmp_path / "departments.yaml"), line_of(DEPARTMENTS, "id: gaj"))
    assert town.line == line_of(DEPARTMENTS, "id: town_daliang")
    first, second = catalogue.resources
    assert (first.file, first.line) == (resources_file, 1)
    assert second.line == line_of(RESOURCES, "id: rental_housing")
    assert field_line(first, "binding") == line_of(RESOURCES, "binding:")
    assert field_line(second, "update_cycle") == second.line  # absent: the entry's own line
    assert item_line(first.items[1]) == line_of(RESOURCES, "name: xb")
    assert item_line(Item(name="x", label="x", type="C"), fallback=7) == 7


def test_round_trip_through_yaml_keeps_every_field(tmp_path):
    catalogue = load_catalogue(SEED)
    dumped = [r.model_dump(exclude={"line", "file"}, mode="json") for r in catalogue.resources]
    departments = [d.model_dump(exclude={"line", "file"}) for d in catalogue.departments]
    copy = tmp_path / "copy"
    write_seed(
        copy,
        yaml.safe_dump(departments, allow_unicode=True),
        yaml.safe_dump(dumped, allow_unicode=True, sort_keys=False),
    )
    reloaded = load_catalogue(copy)
    assert [r.model_dump(exclude={"line", "file"}, mode="json") for r in reloaded.resources] == dumped
    assert isinstance(reloaded.resources[0].release_date, date)


def test_real_seed_lines_point_at_each_entry():
    catalogue = load_catalogue(SEED)
    for resource in catalogue.resources[::10]:
        lines = Path(resource.file).read_text(encoding="utf-8").splitlines()
        assert lines[resource.line - 1] == f"- id: {resource.id}"
        assert f"name: {resource.items[0].name}," in lines[item_line(resource.items[0]) - 1]
    for department in catalogue.departments:
        lines = Path(department.file).read_text(encoding="utf-8").splitlines()
        assert lines[department.line - 1] == f"- id: {department.id}"


def test_a_single_resources_file_finds_departments_one_folder_up():
    departments_file, files = seed_files(SEED / "resources" / "gaj.yaml")
    assert departments_file == SEED / "departments.yaml" and files == [SEED / "resources" / "gaj.yaml"]
    catalogue = load_catalogue(SEED / "resources" / "gaj.yaml")
    assert {r.provider for r in catalogue.resources} == {"gaj"}
    assert len(catalogue.departments) >= 28


def test_unparsable_yaml_names_file_and_line(tmp_path):
    broken = RESOURCES.replace(
        "  open_type: 不开放\n  release_date: 2019", "  open_type: [不开放\n  release_date: 2019", 1
    )
    write_seed(tmp_path, resources=broken)
    with pytest.raises(SeedError) as raised:
        load_catalogue(tmp_path)
    assert f"{tmp_path / 'resources' / 'test.yaml'}:" in str(raised.value)
    assert "yaml" in str(raised.value)


def test_wrong_shapes_name_every_problem_with_its_line(tmp_path):
    text = RESOURCES.replace("  priority: 5", "  priority: high", 1).replace(
        "  open_type: 不开放\n  release_date: 2021-04-30",
        "  open_type: 不开放\n  release_date: 2021-04-30\n  sharing_conditon: typo",
        1,
    )
    write_seed(tmp_path, resources=text)
    with pytest.raises(SeedError) as raised:
        load_catalogue(tmp_path)
    message = str(raised.value)
    assert f"test.yaml:{line_of(text, 'priority: high')}: 101001/00001: priority" in message
    assert f"test.yaml:{line_of(text, 'sharing_conditon')}: 203002/00001: sharing_conditon" in message
    catalogue, problems = read_catalogue(tmp_path)
    assert len(problems) == 2 and catalogue.resources == []


def test_item_shape_error_points_at_the_item(tmp_path):
    text = RESOURCES.replace(
        "{name: xb, label: 性别, type: C, length: 1,", "{name: xb, label: 性别, type: C, length: one,", 1
    )
    _, problems = read_catalogue(write_seed(tmp_path, resources=text))
    assert [(p.line, p.subject) for p in problems] == [(line_of(text, "name: xb"), "101001/00001")]
    assert "items.1.length" in problems[0].message


def test_a_file_that_is_not_a_list_is_a_problem(tmp_path):
    _, problems = read_catalogue(write_seed(tmp_path, resources="id: lonely\n"))
    assert [(p.line, p.subject) for p in problems] == [(1, "file")]


def test_missing_departments_file_is_reported(tmp_path):
    write_seed(tmp_path)
    (tmp_path / "departments.yaml").unlink()
    with pytest.raises(SeedError, match="departments.yaml:1: file: cannot read it"):
        load_catalogue(tmp_path)


def test_seed_error_is_a_fatal_catalog_error():
    assert issubclass(SeedError, CatalogError) and issubclass(CatalogError, HubError)
    assert SeedError("x").kind == "fatal"


def test_models_are_the_contract_shapes():
    assert set(Resource.model_fields) >= {
        "id",
        "code",
        "name",
        "provider",
        "classification",
        "abstract",
        "format",
        "domain",
        "update_cycle",
        "sharing_type",
        "sharing_condition",
        "sharing_method",
        "open_type",
        "release_date",
        "priority",
        "status",
        "related",
        "items",
        "binding",
        "freshness_grace_hours",
        "quality_threshold",
        "line",
        "file",
    }
    assert set(Department.model_fields) == {"id", "name", "code", "division", "line", "file"}
    assert set(Catalogue.model_fields) == {"departments", "resources"}
    assert "_line" not in Item(name="x", label="x", type="C").model_dump()
