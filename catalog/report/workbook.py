"""The gap list as an .xlsx workbook (openpyxl): the gaps, the summary figures and the departments."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from catalog.service.labels import method_label
from hub.timezone import LOCAL_TZ

HEADER_FILL = PatternFill("solid", fgColor="DDE3EA")
PERCENT = "0.0%"
DATETIME = "yyyy-mm-dd hh:mm"
DATE = "yyyy-mm-dd"
# Columns holding ISO times: written as Excel dates in Beijing time (Excel has no time zones).
TIME_KEYS = {"since", "source_changed_at"}
DATE_KEYS = {"due"}

# A failing rule reads in Chinese in 原因 / 规则; its code stays in a column of its own for the engineer who fixes it.
RULE_CODE_COLUMN = ("规则代码", "rule_code", 24)

GAP_COLUMNS = (
    ("资源代码", "resource_code", 14),
    ("资源名称", "name", 30),
    ("责任部门", "department", 22),
    ("原因", "reason_label", 22),
    ("自（北京时间）", "since", 20),
    ("下一步", "next_step", 44),
    RULE_CODE_COLUMN,
)

LATE_COLUMNS = (
    ("资源代码", "resource_code", 14),
    ("资源名称", "name", 30),
    ("责任部门", "department", 22),
    ("原因", "reason_label", 22),
    ("源数据最近更新（北京时间）", "source_changed_at", 24),
    ("自（北京时间）", "since", 20),
    ("下一步", "next_step", 44),
)

PATH_COLUMNS = (
    ("序号", "order", 6),
    ("资源代码", "resource_code", 14),
    ("资源名称", "name", 30),
    ("责任部门", "department", 22),
    ("原因", "reason_label", 22),
    ("下一步", "next_step", 40),
    ("优先级", "priority", 8),
    ("预估工作日", "effort_days", 10),
    ("完成期限", "due", 12),
    RULE_CODE_COLUMN,
)

FAILED_RULE_COLUMNS = (
    ("资源代码", "resource_code", 14),
    ("资源名称", "name", 30),
    ("责任部门", "department", 22),
    ("规则", "rule_label", 40),
    RULE_CODE_COLUMN,
    ("关键规则", "critical_label", 10),
    ("未通过行数", "failed_rows", 12),
)


def write_workbook(data: dict, path: Path) -> Path:
    """Sheets 缺口清单 (every gap, highest priority first), 达标路径, 概况 (the headline figures), 部门,
    更新及时率, 源数据未及时更新, 未通过的质量规则. Times are Excel dates in Beijing time."""
    book = Workbook()
    gaps = book.active
    gaps.title = "缺口清单"
    _columns_table(gaps, GAP_COLUMNS, data["gaps"])
    path_rows = [{**step, "order": index} for index, step in enumerate(data.get("path", []), start=1)]
    _columns_table(book.create_sheet("达标路径"), PATH_COLUMNS, path_rows)
    _summary(book.create_sheet("概况"), data)
    departments = book.create_sheet("部门")
    _table(
        departments,
        ["部门", "已汇聚", "资源数", "覆盖率", "达标路径中承担（项）", "占达标路径"],
        [
            [
                row["department"],
                row["aggregated"],
                row["total"],
                row["ratio"],
                row.get("path_items", 0),
                row.get("path_share", 0.0),
            ]
            for row in data["by_department"]
        ],
        [24, 10, 10, 10, 20, 12],
    )
    for row in departments.iter_rows(min_row=2, min_col=4, max_col=6):
        row[0].number_format = PERCENT
        row[2].number_format = PERCENT
    _timeliness(book, data["timeliness"])
    failed = [{**rule, "critical_label": "是" if rule["critical"] else "否"} for rule in data.get("failed_rules", [])]
    _columns_table(book.create_sheet("未通过的质量规则"), FAILED_RULE_COLUMNS, failed)
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
    _columns_table(book.create_sheet("源数据未及时更新"), LATE_COLUMNS, timeliness["late"])


def _summary(sheet, data: dict) -> None:
    document = data["coverage"]
    projection = document["projection"]
    rows = [
        ("统计时点（北京时间）", excel_time(document["as_of"]), DATETIME),
        ("口径版本", document["definition_version"], None),
        ("覆盖率", document["overall"]["ratio"], PERCENT),
        ("已汇聚资源", document["overall"]["aggregated"], None),
        ("目录资源总数", document["overall"]["total"], None),
        ("目标", document["target"], PERCENT),
        ("目标日期", date.fromisoformat(projection["target_date"]), DATE),
        ("距目标还差（项）", projection["resources_needed"], None),
        ("预测覆盖率", projection["projected_ratio"], PERCENT),
        ("趋势判断", data["verdict"]["text"] if "verdict" in data else "", None),
        ("预测方法", method_label(projection["method"]), None),
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
        rows,  # None where a ratio has no denominator: an empty cell
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


def _columns_table(sheet, columns: tuple, rows: list[dict]) -> None:
    """A sheet of `rows` laid out by (title, key, width) columns; time columns as Excel dates."""
    _table(
        sheet,
        [title for title, _key, _width in columns],
        [[_cell(key, row.get(key)) for _title, key, _width in columns] for row in rows],
        [width for _title, _key, width in columns],
    )
    for index, (_title, key, _width) in enumerate(columns, start=1):
        if key in TIME_KEYS or key in DATE_KEYS:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = DATETIME if key in TIME_KEYS else DATE


def excel_time(iso: str) -> datetime:
    """An ISO time as a naive Beijing-time datetime: what Excel shows as the local time."""
    return datetime.fromisoformat(iso).astimezone(LOCAL_TZ).replace(tzinfo=None)


def _cell(key: str, value):
    if value is None or value == "":
        return None
    if key in TIME_KEYS:
        return excel_time(value)
    if key in DATE_KEYS:
        return date.fromisoformat(value)
    return value
