"""How the catalogue's codes read for leadership and department staff (Chinese), and what to do next.

The coverage engine speaks in stable English reason codes (the JSON keeps them); pages and the
report show these labels. One table per kind of code, nothing computed here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from catalog import coverage, timeliness
from catalog.projection import INSUFFICIENT_HISTORY, MIN_PROJECTION_POINTS, TARGET_DATE_REACHED
from catalog.rule_wording import rule_label
from catalog.spec import DOMAIN_LABELS  # noqa: F401  (re-exported for pages and the report)

REASON_LABELS = {
    coverage.AGGREGATED: "已汇聚",
    coverage.NO_BINDING: "未接入数据源",
    coverage.NEVER_PRODUCED: "连接器未产出",
    coverage.NEVER_LANDED: "未落地入仓",
    coverage.NO_UPDATE_CYCLE: "缺少更新周期",
    coverage.STALE: "数据过期",
    coverage.FAILING_RULE: "质量规则未通过",
    coverage.BELOW_THRESHOLD: "质量低于阈值",
    coverage.NO_QUALITY_RUN: "未做质量检查",
    "retired": "已下线（不计入）",
}

# What unblocks each gap, and who usually has to act: the department page and the report say it.
NEXT_STEPS = {
    coverage.NO_BINDING: "提供方登记数据源（连接器绑定）并开放接入",
    coverage.NEVER_PRODUCED: "检查连接器配置与源系统连通，运行一次采集",
    coverage.NEVER_LANDED: "检查数据落地任务（采集调度）与死信队列",
    coverage.NO_UPDATE_CYCLE: "在目录条目中补充更新周期",
    coverage.STALE: "恢复按更新周期的采集与落地",
    coverage.FAILING_RULE: "修复源数据中未通过的关键质量规则",
    coverage.BELOW_THRESHOLD: "提高数据质量至阈值以上（见隔离区记录）",
    coverage.NO_QUALITY_RUN: "对最新落地数据运行质量检查",
}

# The second clock: does the source keep its data up to date (更新及时)?
TIMELINESS_LABELS = {
    timeliness.TIMELY: "更新及时",
    timeliness.SOURCE_NOT_UPDATED: "源数据未按周期更新",
    timeliness.NO_SOURCE_TIME: "缺少源数据更新时间",
    timeliness.NO_UPDATE_CYCLE: "缺少更新周期",
}
TIMELINESS_NEXT_STEPS = {
    timeliness.SOURCE_NOT_UPDATED: "提供方按更新周期更新源数据（数据已挂接，但源系统中的记录没有新的变更）",
    timeliness.NO_SOURCE_TIME: "在源数据中提供记录更新时间（或在绑定中指定 event_time_item）",
    timeliness.NO_UPDATE_CYCLE: "在目录条目中补充更新周期",
}

LIFECYCLE_LABELS = {
    "unbound": "未绑定",
    "bound": "已绑定",
    "producing": "采集中",
    "landing_failed": "落地失败",
    "landed": "已落地",
    "quality_failed": "质量未通过",
    "passing": "质量通过",
}

# Coverage status filter values: the reason codes, with every "failing rule <name>" as one.
STATUS_FILTERS = (coverage.AGGREGATED, *coverage.REASONS)


def reason_code(status: str) -> str:
    """'failing rule gmsfhm_valid' → 'failing rule'; any other status is its own code."""
    return coverage.FAILING_RULE if status.startswith(coverage.FAILING_RULE) else status


def failing_rule(status: str) -> str | None:
    """'failing rule gmsfhm.resident_id' → 'gmsfhm.resident_id' (the rule's code); None for any other status."""
    if reason_code(status) != coverage.FAILING_RULE:
        return None
    return status[len(coverage.FAILING_RULE) :].strip() or None


def reason_label(status: str, item_labels: Mapping[str, str] | None = None) -> str:
    """The Chinese label of a coverage status; a failing rule reads by its Chinese label (`rule_label`),
    for which `item_labels` (the resource's item name → Chinese name) gives the item's name."""
    code = reason_code(status)
    label = REASON_LABELS.get(code, status)
    rule = failing_rule(status)
    return f"{label}：{rule_label(rule, item_labels or {})}" if rule else label


def next_step(status: str) -> str:
    return NEXT_STEPS.get(reason_code(status), "")


_LEAST_SQUARES = re.compile(r"least squares over the last (\d+) daily snapshots")


def method_label(method: str) -> str:
    """The projection method in Chinese (the JSON keeps the English code)."""
    if method == INSUFFICIENT_HISTORY:
        return f"历史不足（少于 {MIN_PROJECTION_POINTS} 天的每日快照），暂不预测"
    if method == TARGET_DATE_REACHED:
        return "已到目标日期，取实际覆盖率"
    found = _LEAST_SQUARES.fullmatch(method)
    if found:
        return f"最近 {found.group(1)} 个同口径每日快照的最小二乘直线外推"
    return "未说明的预测方法"


def timeliness_label(status: str) -> str:
    return TIMELINESS_LABELS.get(status, status)


def domain_label(domain: str) -> str:
    return DOMAIN_LABELS.get(domain, domain)
