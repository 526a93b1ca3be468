"""Catalogue rules (DOMAIN.md §1) over the seed: every problem, each with its file and line.

`lint_catalogue(path)` never stops at the first problem; `format_findings` prints them as
`file:line: rule: [subject] message`, the shape editors and CI logs understand.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from catalog import shared_items
from catalog.checks import ROW_CHECK_ROLES, SEVERITIES
from catalog.coverage import grace_problem
from catalog.reference import SHUNDE_DISTRICT_CODE, SHUNDE_TOWNS, USCC_ALPHABET, uscc_check_char
from catalog.spec import (
    DOMAINS,
    ENTRY_STATUSES,
    ITEM_TYPES,
    OPEN_TYPES,
    PII_KINDS,
    SHARING_TYPES,
    THEMES,
    UPDATE_CYCLES,
    Catalogue,
    Department,
    Resource,
    field_line,
    item_line,
    read_catalogue,
)
from catalog.systems import CONNECTOR_KINDS, DOMAIN_SYSTEMS, SOURCE_SYSTEMS, SYSTEM_KINDS
from hub import clock

CLASSES = {"1": "基础", "2": "主题", "3": "部门"}
BASE_SUBJECTS = {"01": "人口", "02": "法人单位", "03": "自然资源和空间地理", "04": "社会信用", "05": "电子证照"}
THEME_SUBJECTS = {
    "01": "公共服务",
    "02": "城乡建设",
    "03": "社区治理",
    "04": "生态环保",
    "05": "应急维稳",
    "06": "能源安全",
}
FORMATS = ("数据库", "电子文件", "接口", "流数据", "图形图像")
SHARING_METHODS = ("接口", "数据库", "文件")
VALIDATORS = ("resident_id", "uscc", "mobile", "camera_id", "parcel_code", "town_code", "lon", "lat", "not_future_date")
# Validators that make an item an identifier, and the pii kind it must then carry.
IDENTIFIER_VALIDATORS = {
    "resident_id": ("id_number",),
    "mobile": ("phone",),
    "uscc": ("credit_code", "credit_code_person"),
}
GIS_CRS = (4490, 4547)
GEOMETRY_ITEMS = ("geometry", "geom_wkt")  # the names connectors/kinds/file.py fills with WKT

# Every rule name a Finding can carry (the tests prove each one fires).
RULES = (
    "yaml",
    "shape",
    "department_id",
    "department_code",
    "department_division",
    "department_unique_id",
    "department_unique_code",
    "id_format",
    "unique_id",
    "code_format",
    "unique_code",
    "classification",
    "provider",
    "format",
    "domain",
    "sharing_type",
    "open_type",
    "sharing_method",
    "status",
    "update_cycle",
    "sharing_condition",
    "legal_basis",
    "release_date",
    "priority",
    "quality_threshold",
    "freshness_grace_hours",
    "items_present",
    "item_name",
    "item_unique",
    "item_type",
    "item_length",
    "item_pii",
    "item_rules",
    "item_identifier_pii",
    "item_derived_from",
    "key_nullable",
    "key_item",
    "binding_kind",
    "binding_system",
    "binding_consistency",
    "binding_config",
    "binding_unique",
    "related",
    "check_rule",
    "check_columns",
    "shared_item",
    "authoritative_source",
)

MAX_ITEM_LENGTH = 1_000_000
# Validators whose values identify a person, and the PII kind that masks them. A credit code (uscc)
# is not here: an organisation's code is public by law; an individual's is declared credit_code_person.

CODE_RE = re.compile(r"^[1-3]\d{5}[0-9A-Z]*/\d{4,8}$")
RESOURCE_ID_RE = re.compile(r"^[a-z][a-z0-9_]{2,60}$")
DEPARTMENT_ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
ITEM_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
SQL_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

# GB 32100-2015 registration authority (1st char) + organisation type (2nd): 1 机构编制, 2 外交, 3 司法行政,
# 4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 工商, A 军队, N 农业, Y 其他.
_USCC_ORG_TYPES = (
    "11",
    "12",
    "13",
    "19",
    "21",
    "29",
    "31",
    "32",
    "33",
    "34",
    "35",
    "39",
    "41",
    "49",
    "51",
    "52",
    "53",
    "59",
    "61",
    "62",
    "69",
    "71",
    "72",
    "79",
    "81",
    "89",
    "91",
    "92",
    "93",
    "A1",
    "A9",
    "N1",
    "N2",
    "N3",
    "N9",
    "Y1",
)


@dataclass(frozen=True)
class Finding:
    """One broken rule: where it is, whom it concerns (resource code or department id), and the fix."""

    file: str
    line: int
    subject: str
    rule: str
    message: str

    @property
    def resource_code_or_department(self) -> str:
        return self.subject


def format_findings(findings: list[Finding]) -> str:
    """One `file:line: rule: [subject] message` line per finding."""
    return "\n".join(f"{f.file}:{f.line}: {f.rule}: [{f.subject}] {f.message}" for f in findings)


def lint_catalogue(path: str | Path, today: date | None = None) -> list[Finding]:
    """Every catalogue-rule violation in the seed at `path` (a seed folder or one resources file)."""
    catalogue, problems = read_catalogue(path)
    findings = [
        Finding(p.file, p.line, p.subject, "yaml" if p.subject == "yaml" else "shape", p.message) for p in problems
    ]
    findings += _lint_departments(catalogue.departments)
    findings += _lint_resources(catalogue, today or clock.local_today())
    return sorted(findings, key=lambda f: (f.file, f.line, f.rule))


# --- departments -------------------------------------------------------------------------------


def _lint_departments(departments: list[Department]) -> list[Finding]:
    findings = []
    for dept in departments:

        def add(rule: str, message: str, dept: Department = dept) -> None:
            findings.append(Finding(dept.file, dept.line, dept.id, rule, message))

        if not DEPARTMENT_ID_RE.match(dept.id):
            add("department_id", f"id {dept.id!r} must match {DEPARTMENT_ID_RE.pattern}")
        reason = _uscc_problem(dept.code)
        if reason:
            add("department_code", f"code {dept.code!r} is not a valid unified social credit code: {reason}")
        if dept.division != SHUNDE_DISTRICT_CODE and dept.division not in SHUNDE_TOWNS:
            add(
                "department_division",
                f"division {dept.division!r} must be {SHUNDE_DISTRICT_CODE} or a Shunde town code "
                f"({', '.join(SHUNDE_TOWNS)})",
            )
    findings += _duplicates(departments, lambda d: d.id, "department_unique_id", "department id")
    findings += _duplicates(departments, lambda d: d.code, "department_unique_code", "department code")
    return findings


def _uscc_problem(code: str) -> str | None:
    """Why `code` fails GB 32100-2015 (charset, length, check character), or None when valid."""
    if len(code) != 18:
        return f"it has {len(code)} characters, not 18"
    bad = sorted({c for c in code if c not in USCC_ALPHABET})
    if bad:
        return f"characters {''.join(bad)} are outside {USCC_ALPHABET}"
    if code[:2] not in _USCC_ORG_TYPES:
        return f"registration authority/type {code[:2]} is not one of {', '.join(_USCC_ORG_TYPES)}"
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]}, the digits give {expected}"
    return None


# --- resources ---------------------------------------------------------------------------------


def _lint_resources(catalogue: Catalogue, today: date) -> list[Finding]:
    providers = {d.id for d in catalogue.departments}
    codes = {r.code for r in catalogue.resources}
    findings: list[Finding] = []
    for res in catalogue.resources:
        findings += _lint_identity(res, providers)
        findings += _lint_attributes(res, today)
        findings += _lint_items(res)
        findings += _lint_binding(res)
        findings += _lint_checks(res)
        findings += [
            _at(res, "related", "related", f"related code {code!r} is not in the catalogue")
            for code in res.related
            if code not in codes or code == res.code
        ]
    findings += [
        Finding(res.file, item_line(item, field_line(res, "items")), res.code, rule, f"item {item.name!r}: {message}")
        for res, item, rule, message in shared_items.lint(catalogue.resources)
    ]
    findings += _duplicates(catalogue.resources, lambda r: r.id, "unique_id", "resource id")
    findings += _duplicates(catalogue.resources, lambda r: r.code, "unique_code", "resource code")
    findings += _duplicates(
        [r for r in catalogue.resources if r.binding], _binding_target, "binding_unique", "binding target"
    )
    return findings


def _at(res: Resource, field: str, rule: str, message: str) -> Finding:
    return Finding(res.file, field_line(res, field), res.code, rule, message)


def _lint_identity(res: Resource, providers: set[str]) -> list[Finding]:
    findings = []
    if not RESOURCE_ID_RE.match(res.id):
        findings.append(_at(res, "id", "id_format", f"id {res.id!r} must match {RESOURCE_ID_RE.pattern}"))
    if not CODE_RE.match(res.code):
        findings.append(_at(res, "code", "code_format", f"code {res.code!r} must match {CODE_RE.pattern}"))
    else:
        problem = _classification_problem(res.code, res.classification)
        if problem:
            findings.append(_at(res, "classification", "classification", problem))
    if res.provider not in providers:
        findings.append(_at(res, "provider", "provider", f"provider {res.provider!r} is not in departments.yaml"))
    return findings


def _classification_problem(code: str, classification: str) -> str | None:
    parts = classification.split("/")
    category = CLASSES[code[0]]
    if len(parts) < 2 or parts[0] != category:
        return f"classification {classification!r} must read {category}/项/目 for a code starting with {code[0]}"
    known = {"1": BASE_SUBJECTS, "2": THEME_SUBJECTS}.get(code[0], {})
    subject = known.get(code[1:3])
    if code[0] == "1" and subject is None:
        return f"base-library 项 {code[1:3]} is not one of {', '.join(BASE_SUBJECTS)}"
    if subject is not None and parts[1] != subject:
        return f"项 {code[1:3]} of code {code} is {subject}, but the classification says {parts[1]}"
    return None


def _lint_attributes(res: Resource, today: date) -> list[Finding]:
    findings = []
    checks = [
        ("format", res.format, FORMATS),
        ("domain", res.domain, DOMAINS + THEMES),
        ("sharing_type", res.sharing_type, tuple(SHARING_TYPES)),
        ("open_type", res.open_type, tuple(OPEN_TYPES)),
        ("sharing_method", res.sharing_method, SHARING_METHODS),
        ("status", res.status, ENTRY_STATUSES),
    ]
    for field, value, allowed in checks:
        if value not in allowed:
            findings.append(_at(res, field, field, f"{field} {value!r} must be one of {', '.join(allowed)}"))
    if res.update_cycle is None:
        findings.append(
            _at(
                res,
                "update_cycle",
                "update_cycle",
                f"update_cycle is missing; declare one of {', '.join(UPDATE_CYCLES)}",
            )
        )
    elif res.update_cycle not in UPDATE_CYCLES:
        findings.append(
            _at(
                res,
                "update_cycle",
                "update_cycle",
                f"update_cycle {res.update_cycle!r} must be one of {', '.join(UPDATE_CYCLES)}",
            )
        )
    condition = (res.sharing_condition or "").strip()
    if res.sharing_type == "有条件共享" and not condition:
        findings.append(
            _at(
                res,
                "sharing_type",
                "sharing_condition",
                "有条件共享 needs a sharing_condition saying who may use it and for what",
            )
        )
    if res.sharing_type == "不予共享" and not condition:
        findings.append(_at(res, "sharing_type", "legal_basis", "不予共享 needs its legal basis in sharing_condition"))
    if res.release_date > today:
        findings.append(
            _at(res, "release_date", "release_date", f"release_date {res.release_date} is after today ({today})")
        )
    if not 1 <= res.priority <= 5:
        findings.append(_at(res, "priority", "priority", f"priority {res.priority} must be 1..5"))
    # `not a <= x <= b` also catches NaN, which compares false with everything.
    if res.quality_threshold is not None and not 0 < res.quality_threshold <= 1:
        findings.append(_at(res, "quality_threshold", "quality_threshold", "quality_threshold must be in (0, 1]"))
    grace = grace_problem(res.freshness_grace_hours)  # the coverage engine's own test of a usable grace
    if grace:
        findings.append(
            _at(
                res,
                "freshness_grace_hours",
                "freshness_grace_hours",
                f"{grace}; the window is the update cycle's plus this grace",
            )
        )
    return findings


def _lint_items(res: Resource) -> list[Finding]:
    if not res.items:
        return [_at(res, "items", "items_present", "a resource needs at least one information item")]
    findings = []
    base = field_line(res, "items")
    identifiers = {
        item.name
        for item in res.items
        if item.pii in ("id_number", "phone", "credit_code", "credit_code_person")
        or item.rules.validator in IDENTIFIER_VALIDATORS
    }
    for item in res.items:

        def add(rule: str, message: str, line: int = item_line(item, base)) -> None:
            findings.append(Finding(res.file, line, res.code, rule, f"item {item.name!r}: {message}"))

        if not ITEM_NAME_RE.match(item.name):
            add("item_name", f"name must match {ITEM_NAME_RE.pattern} (pinyin initials, e.g. gmsfhm)")
        if item.type not in ITEM_TYPES:
            add("item_type", f"type {item.type!r} must be one of {', '.join(ITEM_TYPES)}")
        if item.length is not None and not 0 < item.length <= MAX_ITEM_LENGTH:
            add("item_length", f"length {item.length} must be in 1..{MAX_ITEM_LENGTH}")
        if item.pii not in PII_KINDS:
            add("item_pii", f"pii {item.pii!r} must be one of {', '.join(PII_KINDS)}")
        if item.key and item.nullable:
            add("key_nullable", "a key item must be nullable: false")
        for message in _rule_problems(item):
            add("item_rules", message)
        masked_as = IDENTIFIER_VALIDATORS.get(item.rules.validator or "")
        if masked_as and item.pii not in masked_as:
            add(
                "item_identifier_pii",
                f"validated as {item.rules.validator} but pii is {item.pii}: an ID number, mobile or credit "
                f"code is masked by its own kind; set pii: {' or '.join(masked_as)}",
            )
        if item.rules.derived_from is not None and item.rules.derived_from not in identifiers:
            add(
                "item_derived_from",
                f"derived_from {item.rules.derived_from!r} must name an item of this resource "
                f"that is an identifier (pii or validator): {', '.join(sorted(identifiers)) or 'none here'}",
            )
    names = Counter(item.name for item in res.items)
    for item in res.items:
        if names[item.name] > 1:
            findings.append(
                Finding(
                    res.file,
                    item_line(item, base),
                    res.code,
                    "item_unique",
                    f"item name {item.name!r} appears {names[item.name]} times",
                )
            )
    if res.binding is not None and not any(item.key for item in res.items):
        findings.append(_at(res, "items", "key_item", "a bound resource needs at least one key: true item"))
    return findings


def _rule_problems(item) -> list[str]:
    rules, problems = item.rules, []
    if rules.validator is not None and rules.validator not in VALIDATORS:
        problems.append(f"validator {rules.validator!r} must be one of {', '.join(VALIDATORS)}")
    if rules.regex is not None:
        try:
            re.compile(rules.regex)
        except re.error as exc:
            problems.append(f"regex {rules.regex!r} does not compile ({exc})")
    if rules.values is not None and not rules.values:
        problems.append("values is empty; list the allowed codes or drop it")
    for bound in ("min", "max"):
        value = getattr(rules, bound)
        if value is not None and not math.isfinite(value):
            problems.append(f"{bound} {value} is not a finite number")
    if rules.min is not None and rules.max is not None and rules.min > rules.max:
        problems.append(f"min {rules.min} is above max {rules.max}")
    return problems


def _lint_checks(res: Resource) -> list[Finding]:
    """Declared row-set checks (`checks:`): a registered rule, a known severity, and every role of
    the rule filled by one of the resource's items."""
    findings = []
    items = {item.name for item in res.items}
    for check in res.checks:

        def add(rule: str, message: str, check=check) -> None:
            findings.append(
                Finding(
                    res.file,
                    item_line(check, field_line(res, "checks")),
                    res.code,
                    rule,
                    f"check {check.rule!r}: {message}",
                )
            )

        roles = ROW_CHECK_ROLES.get(check.rule)
        if roles is None:
            add("check_rule", f"no such row-set check; use one of {', '.join(sorted(ROW_CHECK_ROLES))}")
            continue
        if check.severity is not None and check.severity not in SEVERITIES:
            add("check_rule", f"severity {check.severity!r} must be one of {', '.join(SEVERITIES)}")
        missing = [role for role in roles if role not in check.columns]
        if missing:
            add("check_columns", f"columns must name an item for {', '.join(missing)} (roles: {', '.join(roles)})")
        unknown = sorted(set(check.columns) - set(roles))
        if unknown:
            add("check_columns", f"{', '.join(unknown)} is not a role of this check (roles: {', '.join(roles)})")
        for role, item in check.columns.items():
            if item not in items:
                add("check_columns", f"role {role} names {item!r}, which is not one of the resource's items")
    return findings


def _lint_binding(res: Resource) -> list[Finding]:
    binding = res.binding
    if binding is None:
        return []
    findings = []
    if binding.kind not in CONNECTOR_KINDS:
        findings.append(
            _at(
                res,
                "binding.kind",
                "binding_kind",
                f"binding kind {binding.kind!r} must be one of {', '.join(CONNECTOR_KINDS)}",
            )
        )
    if binding.system not in SOURCE_SYSTEMS:
        findings.append(
            _at(
                res,
                "binding.system",
                "binding_system",
                f"binding system {binding.system!r} must be one of {', '.join(SOURCE_SYSTEMS)}",
            )
        )
        return findings
    expected_kind = SYSTEM_KINDS[binding.system]
    if binding.kind in CONNECTOR_KINDS and binding.kind != expected_kind:
        findings.append(
            _at(
                res,
                "binding.kind",
                "binding_consistency",
                f"system {binding.system} is read with kind {expected_kind}, not {binding.kind}",
            )
        )
    expected_systems = DOMAIN_SYSTEMS.get(res.domain)
    if expected_systems and binding.system not in expected_systems:
        findings.append(
            _at(
                res,
                "binding.system",
                "binding_consistency",
                f"a {res.domain} resource binds to {' or '.join(expected_systems)}, not {binding.system}",
            )
        )
    findings += [
        _at(res, "binding.config", "binding_config", message)
        for message in _config_problems(expected_kind, binding.config, {i.name for i in res.items})
    ]
    return findings


def _config_problems(kind: str, config: dict, item_names: set[str]) -> list[str]:
    problems = []
    if kind == "sql":
        if not SQL_NAME_RE.match(str(config.get("table", ""))):
            problems.append("sql binding needs config.table, a lower-case table name")
        cursor = config.get("cursor_column")
        if not cursor:
            problems.append("sql binding needs config.cursor_column (e.g. updated_at)")
        elif cursor not in item_names:
            problems.append(f"cursor_column {cursor!r} is not one of the resource's items")
    elif kind == "file":
        pattern = str(config.get("pattern", ""))
        if not pattern or pattern.startswith("/") or ".." in pattern:
            problems.append("file binding needs config.pattern relative to the drop folder, e.g. parcels/*.geojson")
        if config.get("crs") not in GIS_CRS:
            problems.append(f"file binding needs config.crs, one of {', '.join(map(str, GIS_CRS))}")
        if not item_names & set(GEOMETRY_ITEMS):
            problems.append("file binding needs an item named geometry (WKT) to carry each feature's shape")
    elif kind == "http":
        if not str(config.get("endpoint", "")).startswith("/"):
            problems.append("http binding needs config.endpoint, a path such as /api/v1/devices")
        size = config.get("page_size")
        if size is not None and (not isinstance(size, int) or size <= 0):
            problems.append(f"page_size {size!r} must be a positive integer")
    elif kind == "mqtt":
        problem = _topic_filter_problem(str(config.get("topic_filter", "")))
        if problem:
            problems.append(problem)
    return problems


def _topic_filter_problem(topic_filter: str) -> str | None:
    if not topic_filter:
        return "mqtt binding needs config.topic_filter, e.g. sd/+/waterlevel/+/telemetry"
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if ("+" in level and level != "+") or ("#" in level and (level != "#" or index != len(levels) - 1)):
            return f"topic_filter {topic_filter!r}: + and # must fill a whole level, # only the last"
    return None


def _binding_target(res: Resource) -> str:
    config = res.binding.config
    target = config.get("table") or config.get("pattern") or config.get("endpoint") or config.get("topic_filter")
    return f"{res.binding.system}:{target}"


def _duplicates(entries: list, key, rule: str, what: str) -> list[Finding]:
    """A finding on every repeat after the first occurrence of the same key."""
    first: dict[str, object] = {}
    findings = []
    for entry in entries:
        value = key(entry)
        if value in first:
            seen = first[value]
            subject = entry.code if isinstance(entry, Resource) else entry.id
            findings.append(
                Finding(
                    entry.file,
                    entry.line,
                    subject,
                    rule,
                    f"{what} {value!r} is already used at {seen.file}:{seen.line}",
                )
            )
        else:
            first[value] = entry
    return findings
