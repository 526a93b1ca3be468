"""The department scorecard: the figures a data bureau is held to, per 数源部门 and overall.

Part of the coverage document (key `scorecard`), computed from the same facts at the same `as_of`
and read-only like the rest of it:

- 目录完整率 (catalogue completeness): entries whose GB/T 21063.3 core metadata is complete and valid;
- 挂接率 (mounted ratio): entries with a binding whose data has landed with rows;
- 更新及时率 (update timeliness): of the mounted entries, those whose source changed within the
  cycle's window plus grace (the second clock, catalog.timeliness);
- 质量 (quality): the rows-weighted pass rate of each entry's latest quality run, the entries
  failing, and the open and overdue objections (catalog.objections);
- 共享申请 (share requests) on the department's 有条件共享 entries: received, answered on time
  (within `share_answer_workdays` working days), approved, pending past the deadline.

Every figure carries the list behind it (resource codes, objection and request ids), and each
department ends with the to-do list that would move its figures.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import objections, timeliness
from catalog.coverage import CoveragePolicy, ResourceFacts, ratio_of
from catalog.models import GrantRequest, Item, Objection, Resource
from catalog.rule_wording import rule_label
from catalog.workdays import add_workdays
from hub.settings import get_settings

ITEM_TYPES = set("CNDTLIFB")  # FoxPro letters of GB/T 21063.3 data types
CONDITIONAL = "有条件共享"
DEFINITIONS = {
    "completeness": "目录完整率：核心元数据（GB/T 21063.3）完整有效的目录数 / 目录总数",
    "mounted": "挂接率：已绑定数据源且已汇聚到数据（行数 > 0）的目录数 / 目录总数",
    "timeliness": "更新及时率：已挂接目录中，源数据在更新周期加宽限期内有更新的目录数 / 已挂接目录数",
    "quality": "质量：各目录最近一次质量检查的通过行数 / 检查行数；未办结异议与逾期异议",
    "share_requests": "共享申请：收到、按期答复（{days} 个工作日内）、同意、逾期未答复",
}


def metadata_problems(resource: Resource, items: list[Item]) -> list[str]:
    """What is missing or invalid in an entry's core metadata, in the catalogue's words."""
    problems = [
        label
        for label, value in (
            ("资源名称", resource.name),
            ("资源代码", resource.code),
            ("资源提供方", resource.provider_id),
            ("资源分类", resource.classification),
            ("资源摘要", resource.abstract),
            ("资源格式", resource.format),
            ("更新周期", resource.update_cycle),
            ("共享类型", resource.sharing_type),
            ("开放类型", resource.open_type),
            ("发布日期", resource.release_date),
        )
        if value is None or (isinstance(value, str) and not value.strip())
    ]
    if resource.sharing_type == CONDITIONAL and not (resource.sharing_condition or "").strip():
        problems.append("共享条件（有条件共享须写明）")
    if not items:
        problems.append("信息项")
    untyped = [item.name for item in items if item.type not in ITEM_TYPES]
    if untyped:
        problems.append("信息项类型：" + "、".join(untyped))
    unlabelled = [item.name for item in items if not (item.label or "").strip()]
    if unlabelled:
        problems.append("信息项名称：" + "、".join(unlabelled))
    return problems


class _Department:
    """The lists behind one department's figures, filled in one pass."""

    def __init__(self, name: str, department_id: str) -> None:
        self.name, self.id = name, department_id
        self.entries: list[str] = []
        self.incomplete: dict[str, list[str]] = {}
        self.unbound: list[str] = []
        self.not_landed: list[str] = []
        self.mounted: list[str] = []
        self.late: list[str] = []
        self.failing: dict[str, list[str]] = {}
        self.failing_labels: dict[str, list[str]] = {}  # the same rules in Chinese, for the to-do list
        self.rows_checked = 0
        self.rows_valid = 0.0
        self.objections: list[dict] = []
        self.requests: list[dict] = []


def scorecard(session: Session, facts: list[ResourceFacts], as_of: datetime, policy: CoveragePolicy) -> dict:
    """The `scorecard` part of the coverage document at `as_of` (nothing after it is counted)."""
    departments: dict[str, _Department] = {}
    by_id = {fact.resource_id: fact for fact in facts}
    resources = {row.id: row for row in session.scalars(select(Resource).where(Resource.id.in_(by_id)))}
    items: dict[str, list[Item]] = defaultdict(list)
    for item in session.scalars(select(Item).where(Item.resource_id.in_(by_id))):
        items[item.resource_id].append(item)
    for fact in facts:
        card = departments.setdefault(fact.department_id, _Department(fact.department, fact.department_id))
        _count_entry(card, fact, resources[fact.resource_id], items[fact.resource_id], as_of, policy)
    for objection in session.scalars(select(Objection).where(Objection.raised_at <= as_of)):
        fact = by_id.get(objection.resource_id)
        if fact is not None:
            departments[fact.department_id].objections.append(_objection_at(objection, as_of))
    days = get_settings().share_answer_workdays
    for request in session.scalars(select(GrantRequest).where(GrantRequest.requested_at <= as_of)):
        fact = by_id.get(request.resource_id)
        if fact is not None:
            departments[fact.department_id].requests.append(_request_at(request, as_of, days))
    cards = [_figures(card) for card in departments.values()]
    cards.sort(key=lambda card: (card["mounted"]["ratio"], card["department"]))
    return {
        "definitions": {**DEFINITIONS, "share_requests": DEFINITIONS["share_requests"].format(days=days)},
        "overall": _overall(cards),
        "by_department": cards,
        "overdue_objections": overdue_objections(session, as_of),
    }


def _count_entry(
    card: _Department, fact: ResourceFacts, resource: Resource, items: list[Item], as_of: datetime, policy
) -> None:
    card.entries.append(fact.code)
    problems = metadata_problems(resource, items)
    if problems:
        card.incomplete[fact.code] = problems
    mounted = fact.bound and fact.last_landing_at is not None and fact.landed_rows > 0
    if not fact.bound:
        card.unbound.append(fact.code)
    elif not mounted:
        card.not_landed.append(fact.code)
    else:
        card.mounted.append(fact.code)
        verdict = timeliness.judge(
            mounted=True,
            source_changed_at=fact.source_changed_at,
            window=policy.max_age_for(fact.update_cycle, fact.grace_hours),
            as_of=as_of,
        )
        if not verdict.timely:
            card.late.append(fact.code)
    if fact.quality_failed_critical:
        card.failing[fact.code] = list(fact.quality_failed_critical)
        names = {item.name: item.label for item in items}
        card.failing_labels[fact.code] = [rule_label(rule, names) for rule in fact.quality_failed_critical]
    if fact.quality_pass_rate is not None:
        # Weighted by the landed rows, so a large register counts more than a small lookup table.
        weight = max(fact.landed_rows, 1)
        card.rows_checked += weight
        card.rows_valid += fact.quality_pass_rate * weight


def _objection_at(objection: Objection, as_of: datetime) -> dict:
    """The objection as it stood at `as_of`: steps taken later are not yet taken."""
    ended = objection.ended_at is not None and objection.ended_at <= as_of
    answered = objection.accepted_at is not None and objection.accepted_at <= as_of
    return {
        "id": objection.id,
        "resource": objection.resource_id,
        "rule": objection.rule,
        "item": objection.item,
        "open": not ended,
        "overdue": (not ended and as_of > objection.resolve_due) or (not answered and as_of > objection.ack_due),
    }


def _request_at(request: GrantRequest, as_of: datetime, days: int) -> dict:
    due = add_workdays(request.requested_at, days).due
    decided = request.decided_at is not None and request.decided_at <= as_of
    return {
        "id": request.id,
        "resource": request.resource_id,
        "department": request.department_id,
        "due": due.isoformat(),
        "answered": decided,
        "on_time": decided and request.decided_at <= due,
        "approved": decided and request.status == "approved",
        "pending_overdue": not decided and as_of > due,
    }


def _ratio(part: list | dict, whole: list) -> dict:
    return {"count": len(part), "total": len(whole), "ratio": ratio_of(len(part), len(whole))}


def _figures(card: _Department) -> dict:
    complete = [code for code in card.entries if code not in card.incomplete]
    timely = [code for code in card.mounted if code not in card.late]
    open_objections = [row for row in card.objections if row["open"]]
    overdue = [row for row in open_objections if row["overdue"]]
    answered = [row for row in card.requests if row["answered"]]
    on_time = [row for row in answered if row["on_time"]]
    return {
        "department": card.name,
        "department_id": card.id,
        "entries": len(card.entries),
        "completeness": {**_ratio(complete, card.entries), "incomplete": card.incomplete},
        "mounted": {**_ratio(card.mounted, card.entries), "unbound": card.unbound, "not_landed": card.not_landed},
        "timeliness": {**_ratio(timely, card.mounted), "late": card.late},
        "quality": {
            "pass_rate": card.rows_valid / card.rows_checked if card.rows_checked else None,
            "failing": card.failing,
            "open_objections": [row["id"] for row in open_objections],
            "overdue_objections": [row["id"] for row in overdue],
        },
        "share_requests": {
            "received": len(card.requests),
            "answered": len(answered),
            "answered_on_time": len(on_time),
            "on_time_ratio": ratio_of(len(on_time), len(answered)) if answered else None,
            "approved": sum(row["approved"] for row in card.requests),
            "pending": [row["id"] for row in card.requests if not row["answered"]],
            "pending_overdue": [row["id"] for row in card.requests if row["pending_overdue"]],
        },
        "todo": _todo(card, open_objections, overdue),
    }


def _todo(card: _Department, open_objections: list[dict], overdue: list[dict]) -> list[dict]:
    """What would move this department's figures, most pressing first."""
    todo = []

    def add(action: str, what: list, figure: str) -> None:
        if what:
            todo.append({"action": action, "figure": figure, "items": list(what)})

    add(f"答复 {len(overdue)} 项逾期异议", [row["id"] for row in overdue], "quality")
    pending = [row for row in card.requests if not row["answered"]]
    add(f"答复 {len(pending)} 项共享申请", [row["id"] for row in pending], "share_requests")
    add(f"为 {len(card.unbound)} 个目录绑定数据源", card.unbound, "mounted")
    add(f"完成 {len(card.not_landed)} 个已绑定目录的首次汇聚", card.not_landed, "mounted")
    for code, rules in sorted(card.failing_labels.items()):
        add(f"修复资源 {code} 未通过的质量规则：{'、'.join(rules)}", [code], "quality")
    add(f"更新 {len(card.late)} 个源数据未按周期更新的目录", card.late, "timeliness")
    others = [row["id"] for row in open_objections if row not in overdue]
    add(f"处理 {len(others)} 项未办结异议", others, "quality")
    add(f"补全 {len(card.incomplete)} 个目录的元数据", sorted(card.incomplete), "completeness")
    return todo


def _overall(cards: list[dict]) -> dict:
    def total(path: tuple[str, str]) -> int:
        return sum(card[path[0]][path[1]] for card in cards)

    entries = sum(card["entries"] for card in cards)
    complete, mounted, timely = (
        total(("completeness", "count")),
        total(("mounted", "count")),
        total(("timeliness", "count")),
    )
    answered = sum(card["share_requests"]["answered"] for card in cards)
    on_time = sum(card["share_requests"]["answered_on_time"] for card in cards)
    return {
        "entries": entries,
        "completeness": {"count": complete, "total": entries, "ratio": ratio_of(complete, entries)},
        "mounted": {"count": mounted, "total": entries, "ratio": ratio_of(mounted, entries)},
        "timeliness": {"count": timely, "total": mounted, "ratio": ratio_of(timely, mounted)},
        "open_objections": sum(len(card["quality"]["open_objections"]) for card in cards),
        "overdue_objections": sum(len(card["quality"]["overdue_objections"]) for card in cards),
        "share_requests": {
            "received": sum(card["share_requests"]["received"] for card in cards),
            "answered_on_time": on_time,
            "on_time_ratio": ratio_of(on_time, answered) if answered else None,
            "pending_overdue": sum(len(card["share_requests"]["pending_overdue"]) for card in cards),
        },
    }


def overdue_objections(session: Session, as_of: datetime) -> list[dict]:
    """Every objection overdue at `as_of`, as it stood then, for the leadership report."""
    rows = []
    for objection in session.scalars(
        select(Objection).where(Objection.raised_at <= as_of).order_by(Objection.raised_at)
    ):
        if _objection_at(objection, as_of)["overdue"]:
            rows.append(objections.row(objection, as_of))
    return rows
