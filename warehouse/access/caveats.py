"""Warnings for a statement that groups, joins or counts on a masked column (CLI and workspace alike).

Masked identifiers are keyed pseudonyms (warehouse.access.masking): joins and count(DISTINCT) over
them are exact among the views one role reads, but they never match a clear number or another
department's pseudonyms, so the analyst is told. Other masks coarsen (a name's first character,
an address's town, a birth year, an age band, a hidden value): grouping, joining or counting on
them mixes many people together, and the answer is not about people any more. A join of a pseudonym
to a clear number (the role's own resource) matches nothing, and says so. The walk reads DuckDB's
parse tree (json_serialize_sql), as the statement check does, and resolves `alias.column` through
the statement's table aliases; an unqualified column counts as masked if any view read masks it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import duckdb

from warehouse.access.masking import PSEUDONYM_PREFIX
from warehouse.access.statement import _parse_connection

COUNTING = frozenset({"count", "count_star", "approx_count_distinct", "count_if", "list_distinct", "mode"})
MASK_LABELS = {
    "name": "姓名只留首字 (first character of a name)",
    "address": "地址只留前六字 (district and town of an address)",
    "birth_date": "出生日期只留年份 (birth year)",
    "age": "年龄为十岁区间 (ten-year band)",
}


def masked_use_warnings(query: str, masks: Mapping[tuple[str, str], Mapping[str, str]]) -> list[str]:
    """Warnings for the masked columns the statement groups, joins or counts on; [] when it does not.

    `masks`: (schema, view) → column → mask kind, for the views the statement reads (unmasked views
    with an empty mapping, so that `a.gmsfhm = b.gmsfhm` can tell a clear side from a pseudonym side).
    """
    if not any(masks.values()):
        return []
    try:
        tree = json.loads(_parse_connection().execute("SELECT json_serialize_sql(?)", [query]).fetchone()[0])
    except (duckdb.Error, ValueError, RecursionError):
        return []  # the statement check has already accepted it; a tree we cannot read gives no warning
    walk = _Walk({(s.lower(), n.lower()): {c.lower(): k for c, k in m.items()} for (s, n), m in masks.items()})
    walk.aliases(tree)
    walk.visit(tree)
    # A pseudonym joined to a clear number gets the warning that it never matches, not the note that
    # pseudonym joins are exact.
    mixed = {masked.rsplit(".", 1)[-1].lower() for masked, _ in walk.mixed}
    warnings = [
        _message(column, kind, sorted(walk.uses[(column, kind)]))
        for column, kind in sorted(walk.uses)
        if not (column in mixed and walk.uses[(column, kind)] == {"关联 JOIN"})
    ]
    return warnings + [_mixed_message(masked, clear) for masked, clear in sorted(walk.mixed)]


def masks_read(views: Iterable[tuple[str, str]], masks: Mapping[str, Mapping[str, str]]) -> dict:
    """(schema, view) → its masks, for the views a statement reads (`masks`: resource id → masks)."""
    return {(schema, name): dict(masks.get(name, {})) if schema == "staging" else {} for schema, name in views}


class _Walk:
    def __init__(self, masks: dict[tuple[str, str], dict[str, str]]) -> None:
        self.masks = masks
        self.alias: dict[str, tuple[str, str]] = {}
        self.uses: dict[tuple[str, str], set[str]] = {}
        self.mixed: set[tuple[str, str]] = set()

    def aliases(self, node) -> None:
        """Table alias (or bare name) → view, over the whole statement (scopes are not told apart)."""
        for ref in _nodes(node):
            if ref.get("type") == "BASE_TABLE":
                schema, name = str(ref.get("schema_name", "")).lower(), str(ref.get("table_name", "")).lower()
                view = next(((s, n) for s, n in self.masks if n == name and schema in ("", s)), None)
                if view is not None:
                    self.alias[str(ref.get("alias") or name).lower()] = view
                    self.alias.setdefault(name, view)

    def kind(self, names: list[str]) -> str | None:
        """The column's mask kind; '' when it is known to be clear; None when it cannot be told."""
        column = str(names[-1]).lower()
        if len(names) >= 2:
            view = self.alias.get(str(names[-2]).lower())
            if view is None:
                return None
            return self.masks[view].get(column, "")
        kinds = {m[column] for m in self.masks.values() if column in m}
        return next(iter(sorted(kinds)), None)

    def visit(self, node) -> None:
        for item in _nodes(node):
            if item.get("type") == "SELECT_NODE":
                self.note(item.get("group_expressions"), "分组 GROUP BY")
                if item.get("aggregate_handling") == "FORCE_AGGREGATES":  # GROUP BY ALL
                    self.note(
                        [e for e in item.get("select_list") or [] if e.get("class") == "COLUMN_REF"], "分组 GROUP BY"
                    )
                if any(m.get("type") == "DISTINCT_MODIFIER" for m in item.get("modifiers") or []):
                    self.note(item.get("select_list"), "去重 DISTINCT")
            elif item.get("type") == "JOIN":
                self.note(item.get("condition"), "关联 JOIN")
                self.compare_sides(item.get("condition"))
                for column in item.get("using_columns") or []:
                    self.note({"class": "COLUMN_REF", "column_names": [column]}, "关联 JOIN")
            elif item.get("class") in ("AGGREGATE", "FUNCTION", "WINDOW"):
                if str(item.get("function_name", "")).lower() in COUNTING or item.get("distinct"):
                    self.note([item.get("children"), item.get("arguments")], "计数 COUNT")

    def note(self, value, use: str) -> None:
        for names in _column_refs(value):
            kind = self.kind(names)
            if kind:
                self.uses.setdefault((str(names[-1]).lower(), kind), set()).add(use)

    def compare_sides(self, condition) -> None:
        """`masked = clear` in a join: the pseudonym never equals the number, so the join finds nothing."""
        for node in _nodes(condition):
            left, right = node.get("left"), node.get("right")
            if node.get("class") != "COMPARISON" or not all(
                isinstance(side, dict) and side.get("class") == "COLUMN_REF" for side in (left, right)
            ):
                continue
            sides = [(side["column_names"], self.kind(side["column_names"])) for side in (left, right)]
            for (masked, masked_kind), (clear, clear_kind) in (sides, sides[::-1]):
                if masked_kind in PSEUDONYM_PREFIX and clear_kind == "":
                    self.mixed.add((".".join(masked), ".".join(clear)))


def _nodes(value) -> Iterable[dict]:
    """Every dict below `value`, depth first."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            yield current
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def _column_refs(value) -> Iterable[list[str]]:
    for node in _nodes(value):
        if node.get("class") == "COLUMN_REF" and node.get("column_names"):
            yield list(node["column_names"])


def _mixed_message(masked: str, clear: str) -> str:
    return (
        f"警告：关联条件 {masked} = {clear} 一侧是假名、一侧是明文号码，二者永远不相等，关联结果为空或偏少。"
        f"请改为两侧都用假名的表关联（同一角色读到的假名一致），或向数据提供部门申请含个人信息的授权。"
        f" / {masked} is a pseudonym and {clear} a clear number: they never match; join pseudonym to pseudonym."
    )


def _message(column: str, kind: str, uses: list[str]) -> str:
    how = "、".join(uses)
    if kind in PSEUDONYM_PREFIX:
        return (
            f"注意：{column} 已脱敏为假名（keyed pseudonym），查询对其做了{how}。同一号码在你可读的各表中假名相同，"
            f"所以关联和去重计数是准确的；但假名不能与明文号码或其他部门导出的假名匹配。"
            f" / {column} is a keyed pseudonym: joins and distinct counts are exact among your views, "
            "but it matches no clear number and no other department's pseudonyms."
        )
    label = MASK_LABELS.get(kind, "已隐藏 (hidden: always NULL)")
    return (
        f"警告：{column} 已脱敏（{label}），查询对其做了{how}，结果把不同的人混在一起，不是按人计的准确数。"
        f"需要准确结果请用假名化的证件号关联，或向数据提供部门申请含个人信息的授权。"
        f" / {column} is masked ({kind}): grouping, joining or counting on it mixes people together; "
        "join on the pseudonymised ID instead, or ask the owner for a grant with PII."
    )
