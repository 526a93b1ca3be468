"""The seed catalogue's format: pydantic models, code tables and the loader with file/line marks.

`load_catalogue(path)` reads `departments.yaml` and `resources/*.yaml` (see catalog/seed) and
returns a `Catalogue`; it checks shape only. The catalogue rules live in `catalog.lint`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from catalog.errors import SeedError

UPDATE_CYCLES = {"每日": "01", "每周": "02", "每月": "03", "每季度": "04", "每年": "05", "半年": "06", "实时": "07"}
SHARING_TYPES = {"有条件共享": "01", "无条件共享": "02", "不予共享": "03"}
OPEN_TYPES = {"有条件开放": "01", "无条件开放": "02", "不开放": "03"}
ENTRY_STATUSES = ("待提交", "待审核", "已发布", "下线中", "已下线")
DOMAINS = ("population", "legal_entity", "utility", "gis", "video", "iot", "drone")
THEMES = (
    "public_service",
    "urban_construction",
    "community_governance",
    "ecology",
    "emergency",
    "energy",
    "credit",
    "licence",
)
# How domains and themes read for leadership (pages, the report, DAG docs).
DOMAIN_LABELS = {
    "population": "人口",
    "legal_entity": "法人",
    "utility": "水电气",
    "gis": "空间地理",
    "video": "视频",
    "iot": "物联感知",
    "drone": "无人机航拍",
    "public_service": "公共服务",
    "urban_construction": "城乡建设",
    "community_governance": "社区治理",
    "ecology": "生态环保",
    "emergency": "应急维稳",
    "energy": "能源安全",
    "credit": "社会信用",
    "licence": "电子证照",
}
ITEM_TYPES = {
    "C": "字符",
    "N": "数值",
    "D": "日期",
    "T": "日期时间",
    "L": "逻辑",
    "I": "整型",
    "F": "浮点",
    "B": "双精度",
}
# What masking applies (warehouse.access.masking): credit_code is an organisation's or individual
# business's 统一社会信用代码, pseudonymised like ID numbers and phones.
PII_KINDS = ("none", "id_number", "name", "phone", "address", "credit_code", "credit_code_person")

DEPARTMENTS_FILE = "departments.yaml"
RESOURCES_DIR = "resources"

# The C library parser is ~10x faster than the pure-Python one; both build the same nodes.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SeedModel(BaseModel):
    # A misspelt key (sharing_conditon) must fail loudly, not vanish.
    model_config = ConfigDict(extra="forbid")


class Department(_SeedModel):
    id: str
    name: str
    code: str
    division: str
    line: int = 0
    file: str = ""


class ValueRules(_SeedModel):
    regex: str | None = None
    values: list[str] | None = None
    min: float | None = None
    max: float | None = None
    validator: str | None = None
    # The item of the same resource this one can be computed from (birth date, sex, age from a
    # resident ID): masked together with it (warehouse.access.masking).
    derived_from: str | None = None


class Item(_SeedModel):
    name: str
    label: str
    type: str
    length: int | None = None
    nullable: bool = True
    key: bool = False
    pii: str = "none"
    rules: ValueRules = ValueRules()
    # 一数一源: the base item this item holds for its subject ("人口.姓名", "法人.法定代表人"; the
    # subjects are catalog.shared_items.SUBJECTS), and whether this resource is its authoritative source.
    shared: str | None = None
    authoritative: bool = False
    # Kept out of the public fields so derived schemas and fingerprints never see it.
    _line: int = PrivateAttr(default=0)


class ResourceCheck(_SeedModel):
    """A check over rows together (quality.plan.ROW_CHECKS): its rule, which items fill its roles."""

    rule: str
    columns: dict[str, str]
    severity: str | None = None
    params: dict = {}
    _line: int = PrivateAttr(default=0)


class Binding(_SeedModel):
    kind: str
    system: str
    config: dict


class Resource(_SeedModel):
    id: str
    code: str
    name: str
    provider: str
    classification: str
    abstract: str
    format: str
    domain: str
    update_cycle: str | None = None  # None is allowed to load: the linter reports it
    sharing_type: str
    sharing_condition: str | None = None
    sharing_method: str = "接口"
    open_type: str
    release_date: date
    priority: int = 1
    status: str = "已发布"
    related: list[str] = []
    items: list[Item]
    binding: Binding | None = None
    freshness_grace_hours: float | None = None
    quality_threshold: float | None = None
    checks: list[ResourceCheck] = []
    line: int = 0
    file: str = ""
    _field_lines: dict[str, int] = PrivateAttr(default_factory=dict)


class Catalogue(_SeedModel):
    departments: list[Department]
    resources: list[Resource]


@dataclass(frozen=True)
class SeedProblem:
    """One reason an entry or a file could not be read."""

    file: str
    line: int
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.subject}: {self.message}"


def field_line(resource: Resource, field: str) -> int:
    """The line of `field` ("binding.config" for a binding key) in the resource's YAML entry.

    Falls back to the parent field's line, then to the entry's own line, when the field is absent.
    """
    lines = resource._field_lines
    return lines.get(field) or lines.get(field.split(".")[0]) or resource.line


def item_line(item: Item | ResourceCheck, fallback: int = 0) -> int:
    """The line of an information item (or a declared check) in its YAML file (fallback when built in code)."""
    return item._line or fallback


def seed_files(path: str | Path) -> tuple[Path, list[Path]]:
    """The departments file and the resource files that `path` (a seed folder or one file) names."""
    path = Path(path)
    if path.is_dir():
        folder = path / RESOURCES_DIR
        resource_files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
        return path / DEPARTMENTS_FILE, resource_files
    # A single resources file: departments.yaml sits next to it or one folder up.
    for folder in (path.parent, path.parent.parent):
        if (folder / DEPARTMENTS_FILE).is_file():
            return folder / DEPARTMENTS_FILE, [path]
    return path.parent / DEPARTMENTS_FILE, [path]


def read_catalogue(path: str | Path) -> tuple[Catalogue, list[SeedProblem]]:
    """Every entry that has the right shape, plus a problem for each one that has not."""
    departments_file, resource_files = seed_files(path)
    problems: list[SeedProblem] = []
    departments = _read_entries(departments_file, Department, problems)
    resources: list[Resource] = []
    for resource_file in resource_files:
        resources.extend(_read_entries(resource_file, Resource, problems))
    return Catalogue(departments=departments, resources=resources), problems


def load_catalogue(path: str | Path) -> Catalogue:
    """The catalogue under `path`; raises SeedError naming file:line of every malformed entry."""
    catalogue, problems = read_catalogue(path)
    if problems:
        listing = "\n".join(f"  {problem}" for problem in problems)
        raise SeedError(f"the seed catalogue at {path} has {len(problems)} problem(s); fix them:\n{listing}")
    return catalogue


def _read_entries(file: Path, model: type[_SeedModel], problems: list[SeedProblem]) -> list[Any]:
    """Validate each mapping of the YAML list in `file` as `model`, noting failures in `problems`."""
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(SeedProblem(name, 1, "file", f"cannot read it ({exc.strerror or exc})"))
        return []
    try:
        root, data = _compose_and_construct(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problems.append(SeedProblem(name, line, "yaml", f"not valid YAML: {exc.problem or exc}"))
        return []
    if root is None:
        return []
    if not isinstance(root, yaml.SequenceNode):
        problems.append(SeedProblem(name, root.start_mark.line + 1, "file", "expected a YAML list of entries"))
        return []
    entries = []
    for node, raw in zip(root.value, data):
        entry = _validate_entry(name, node, raw, model, problems)
        if entry is not None:
            entries.append(entry)
    return entries


def _compose_and_construct(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line marks) and the Python data built from that same tree."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return root, data


def _validate_entry(file: str, node: yaml.Node, raw: Any, model: type[_SeedModel], problems: list[SeedProblem]) -> Any:
    line = node.start_mark.line + 1
    if not isinstance(raw, dict):
        problems.append(SeedProblem(file, line, "entry", "expected a mapping of fields"))
        return None
    subject = str(raw.get("code") or raw.get("id") or "entry") if model is Resource else str(raw.get("id") or "entry")
    try:
        entry = model.model_validate({**raw, "line": line, "file": file})
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            problems.append(SeedProblem(file, _line_at(node, error["loc"]), subject, f"{where}: {error['msg']}"))
        return None
    if isinstance(entry, Resource):
        _attach_lines(entry, node)
    return entry


def _attach_lines(resource: Resource, node: yaml.MappingNode) -> None:
    resource._field_lines = {key.value: key.start_mark.line + 1 for key, _ in node.value}
    binding_node = _child(node, "binding")
    if isinstance(binding_node, yaml.MappingNode):
        resource._field_lines.update({f"binding.{key.value}": key.start_mark.line + 1 for key, _ in binding_node.value})
    items_node = _child(node, "items")
    if isinstance(items_node, yaml.SequenceNode):
        for item, item_node in zip(resource.items, items_node.value):
            item._line = item_node.start_mark.line + 1
    checks_node = _child(node, "checks")
    if isinstance(checks_node, yaml.SequenceNode):
        for check, check_node in zip(resource.checks, checks_node.value):
            check._line = check_node.start_mark.line + 1


def _child(node: yaml.Node, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


def _line_at(node: yaml.Node, loc: tuple) -> int:
    """The line of the deepest node along a pydantic error location (a missing field: its parent)."""
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    line, node = key_node.start_mark.line + 1, value_node
                    break
            else:
                return line
        else:
            child = _child(node, part)
            if child is None:
                return line
            node, line = child, child.start_mark.line + 1
    return line
