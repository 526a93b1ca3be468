"""The gap list as an .xlsx workbook (openpyxl): the gaps, the summary figures and the departments."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

HEADER_FILL = PatternFill("solid", fgColor="DDE3EA")
PERCENT = "0.0%"

GAP_COLUMNS = (
    ("资源代码", "resource_code", 14),
    ("资源名称", "name", 30),
    ("责任部门", "department", 22),
    ("原因", "reason_label", 22),
    ("原因代码", "reason", 26),
    ("自（UTC）", "since", 20),
    ("下一步", "next_step", 44),
)

LATE_COLUMNS = (
    ("资源代码", "resource_code", 14),
    ("资源名称", "name", 30),
    ("责任部门", "department", 22),
    ("原因", "reason_label", 22),
    ("原因代码", "reason", 20),
    ("源数据最近更新（UTC）", "source_changed_at", 24),
    ("自（UTC）", "since", 20),
    ("下一步", "next_step", 44),
)


def write_workbook(data: dict, path: Path) -> Path:
    """Sheets 缺口清单 (every gap, highest priority first), 概况 (the headline figures), 部门, 更新及时率,
    源数据未及时更新."""
    book = Workbook()
    gaps = book.active
    gaps.title = "缺口清单"
    _table(
        gaps,
        [title for title, _key, _width in GAP_COLUMNS],
        [[_cell(gap.get(key)) for _title, key, _width in GAP_COLUMNS] for gap in data["gaps"]],
        [width for _title, _key, width in GAP_COLUMNS],
    )
    _summary(book.create_sheet("概况"), data)
    departments = book.create_sheet("部门")
    _table(
        departments,
        ["部门", "已汇聚", "资源数", "覆盖率", "距目标还差"],
        [
            [row["department"], row["aggregated"], row["total"], row["ratio"], row["to_target"]]
            for row in data["by_department"]
        ],
        [24, 10, 10, 10, 12],
    )
    for row in departments.iter_rows(min_row=2, min_col=4, max_col=4):
        row[0].number_format = PERCENT
    _timeliness(book, data["timeliness"])
    if "scorecard" in data["coverage"]:
        _scorecard(book, data["coverage"]["scorecard"])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _timeliness(book, timeliness: dict) -> None:
    """Sheets 更新及时率 (per department) and 源数据未及时更新 (every mounted resource whose source is behind)."""
    sheet = book.create_sheet("更新及时率")
    _table(
        sheet,
        ["部门", "更新及时", "已挂接", "更新及时率"],
        [[row["department"], row["timely"], row["total"], row["ratio"]] for row in timeliness["by_department"]],
        [24, 10, 10, 12],
    )
    for row in sheet.iter_rows(min_row=2, min_col=4, max_col=4):
        row[0].number_format = PERCENT
    _table(
        book.create_sheet("源数据未及时更新"),
        [title for title, _key, _width in LATE_COLUMNS],
        [[_cell(row.get(key)) for _title, key, _width in LATE_COLUMNS] for row in timeliness["late"]],
        [width for _title, _key, width in LATE_COLUMNS],
    )


def _summary(sheet, data: dict) -> None:
    document = data["coverage"]
    projection = document["projection"]
    rows = [
        ("统计时点（UTC）", document["as_of"], None),
        ("口径版本", document["definition_version"], None),
        ("覆盖率", document["overall"]["ratio"], PERCENT),
        ("已汇聚资源", document["overall"]["aggregated"], None),
        ("目录资源总数", document["overall"]["total"], None),
        ("目标", document["target"], PERCENT),
        ("目标日期", projection["target_date"], None),
        ("距目标还差（项）", projection["resources_needed"], None),
        ("预测覆盖率", projection["projected_ratio"], PERCENT),
        ("按当前趋势可达成", "是" if projection["on_track"] else "否", None),
        ("预测方法", projection["method"], None),
        ("按优先级加权覆盖率", document["weighted"]["ratio"], PERCENT),
        ("更新及时率", document["timeliness"]["overall"]["ratio"], PERCENT),
        (
            "更新及时 / 已挂接（项）",
            f"{document['timeliness']['overall']['timely']} / {document['timeliness']['overall']['total']}",
            None,
        ),
    ]
    _table(sheet, ["指标", "数值"], [[label, value] for label, value, _format in rows], [24, 44])
    for index, (_label, _value, number_format) in enumerate(rows, start=2):
        if number_format:
            sheet.cell(row=index, column=2).number_format = number_format


def _scorecard(book, scorecard: dict) -> None:
    """Sheet 部门考核: the scorecard's figures per department (catalog.scorecard), ratios as percentages."""
    rows = []
    for card in scorecard["by_department"]:
        requests = card["share_requests"]
        rows.append(
            [
                card["department"],
                card["completeness"]["ratio"],
                card["mounted"]["ratio"],
                card["timeliness"]["ratio"] if card["timeliness"]["total"] else None,
                card["quality"]["pass_rate"],
                len(card["quality"]["open_objections"]),
                len(card["quality"]["overdue_objections"]),
                requests["received"],
                requests["answered_on_time"],
                len(requests["pending_overdue"]),
                "；".join(task["action"] for task in card["todo"]),
            ]
        )
    sheet = book.create_sheet("部门考核")
    header = ["部门", "目录完整率", "挂接率", "更新及时率", "质量通过率", "未办结异议", "逾期异议", "共享申请"]
    _table(
        sheet,
        header + ["按期答复", "逾期未答复", "待办事项"],
        [[_cell(v) for v in row] for row in rows],
        [24, 11, 10, 11, 11, 10, 10, 10, 10, 11, 60],
    )
    for row in sheet.iter_rows(min_row=2, min_col=2, max_col=5):
        for cell in row:
            cell.number_format = PERCENT


def _table(sheet, header: list[str], rows: list[list], widths: list[int]) -> None:
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
    for row in rows:
        sheet.append(row)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    if rows:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(rows) + 1}"


def _cell(value):
    return "" if value is None else value
