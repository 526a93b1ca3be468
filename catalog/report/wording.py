"""How the report words what the coverage document states in codes: the projection's method and
verdict, and the minimum history before any verdict on the trend is given."""

from __future__ import annotations

import re

from catalog.projection import INSUFFICIENT_HISTORY, MIN_PROJECTION_POINTS, TARGET_DATE_REACHED

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
    return method


def history_days(document: dict) -> int:
    """Days of history the projection can use: the trend's points (today's last) of the current definition."""
    version = document["definition_version"]
    return max(1, sum(1 for point in document.get("trend", []) if point["definition_version"] == version))


def verdict(document: dict) -> dict:
    """{tone, text}: on track / not on track, or no verdict yet and how many more days are needed."""
    projection = document["projection"]
    if projection["method"] == INSUFFICIENT_HISTORY:
        have = history_days(document)
        return {
            "tone": "muted",
            "text": f"暂不判断趋势：判断至少需要 {MIN_PROJECTION_POINTS} 天的每日快照，现有 {have} 天，"
            f"还需 {max(1, MIN_PROJECTION_POINTS - have)} 天",
        }
    reached = "已达成目标" if projection["on_track"] else "未达成目标"
    if projection["method"] == TARGET_DATE_REACHED:
        return {"tone": "good" if projection["on_track"] else "bad", "text": f"目标日期已到，{reached}"}
    text = "按当前趋势可以达成目标" if projection["on_track"] else "按当前趋势无法达成目标"
    return {
        "tone": "good" if projection["on_track"] else "bad",
        "text": f"{text}：预计到 {projection['target_date']} 达到 {projection['projected_ratio']:.1%}",
    }
