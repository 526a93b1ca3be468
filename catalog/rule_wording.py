"""How a quality rule reads in Chinese, for the report, the pages and the scorecard's to-do list.

quality/plan.py names a check "<item>.<kind>" (kind: a check the item's catalogue entry implies, or the
domain rule it names as its validator, quality/rules.py), "key.unique", or a row-set check by its name
alone (catalog/checks.py); the landing gate adds "schema". A rule reads as the item's Chinese name and
the phrase of its kind. tests/unit/test_rule_labels.py fails when quality can emit a kind not worded here.
"""

from __future__ import annotations

from collections.abc import Mapping

CHECK_PHRASES = {
    # implied by the item's entry: nullability, length, value set, pattern, range, PII kind
    "not_null": "不能为空",
    "present": "未填写",
    "max_length": "超过规定长度",
    "in_set": "不在规定的取值范围内",
    "regex": "格式不符合规定",
    "between": "超出规定的数值范围",
    # the domain rules an item may name as its validator
    "resident_id": "校验不通过（地区码、出生日期或校验位错误）",
    "uscc": "校验位错误或含非法字符",
    "mobile": "不是有效的手机号码",
    "camera_id": "不符合视频设备国标编码规则",
    "parcel_code": "不符合宗地代码编码规则",
    "town_code": "不是顺德区的镇街或村居代码",
    "lon": "经度超出顺德区范围",
    "lat": "纬度超出顺德区范围",
    "not_future_date": "不是有效日期或晚于今天",
    "text_intact": "含乱码或源系统无法保存的字符",
    "not_sentinel_date": "是代替“未知”的占位日期（如 1900-01-01）",
}
#: Checks named without an item: over rows together, over the load, or by the landing gate.
WHOLE_CHECK_LABELS = {
    "key.unique": "主键在同一批数据中重复",
    "schema": "记录无法解析或字段类型不符（已转入死信队列）",
    "meter_rollback": "表计读数倒退",
    "meter_spike": "表计读数异常突增",
    "meter_stuck": "表计读数长期不变",
    "household_head": "户内没有户主",
    "geometry_in_box": "图形超出顺德区范围",
    "gcj02_shift": "坐标带有加密偏移，与实际位置不符",
    "geometry_valid": "图形无效（自相交或不闭合等）",
    "time_order": "后一时间早于前一时间",
    "work_order_status": "工单状态与处置环节不符",
    "work_order_dates": "工单各环节时间先后顺序错误",
}
UNKNOWN_RULE = "未登记说明的质量规则"
UNKNOWN_ITEM = "（目录中无此信息项）"


def rule_label(rule: str, item_labels: Mapping[str, str]) -> str:
    """'gmsfhm.not_null' → '公民身份号码 不能为空': the item's Chinese name (from `item_labels`, the
    resource's item name → name) and the phrase of the check kind. The code itself is for engineers:
    pages keep it beside this label, never instead of it."""
    if rule in WHOLE_CHECK_LABELS:
        return WHOLE_CHECK_LABELS[rule]
    item, _, kind = rule.partition(".")
    phrase = CHECK_PHRASES.get(kind)
    if phrase is None:
        return UNKNOWN_RULE
    return f"{item_labels.get(item, UNKNOWN_ITEM)} {phrase}"
