"""How the report words the projection's verdict, and the minimum history before any verdict on the
trend is given (the method's label is catalog.service.labels.method_label, which the pages share)."""

from __future__ import annotations

from catalog.projection import INSUFFICIENT_HISTORY, MIN_PROJECTION_POINTS, TARGET_DATE_REACHED


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
