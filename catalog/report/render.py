"""The leadership report: HTML (charts as PNG), PDF (printed by headless Chromium) and the gap list
as XLSX, plus coverage.json — the document every figure comes from, as `hub coverage --json` prints it.

`hub report [--out DIR]` and the coverage_daily DAG call `render_report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape

from catalog.db import session_scope
from catalog.projection import MIN_PROJECTION_POINTS
from catalog.report import charts
from catalog.report.data import report_data
from catalog.report.device_charts import device_charts
from catalog.report.pdf import print_to_pdf
from catalog.report.workbook import write_workbook
from catalog.service import labels
from catalog.service.pages import local_time, pct, tone
from hub import clock
from hub.settings import get_settings

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


@dataclass
class ReportFiles:
    """Where the report's files were written."""

    folder: Path
    html: Path
    xlsx: Path
    coverage_json: Path
    pdf: Path | None = None
    charts: list[Path] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            key: (
                str(value) if isinstance(value, Path) else [str(v) for v in value] if isinstance(value, list) else value
            )
            for key, value in vars(self).items()
        }


def default_folder(as_of: datetime) -> Path:
    return get_settings().var_dir / "reports" / as_of.date().isoformat()


def render_report(
    out_dir: Path | None = None, as_of: datetime | None = None, *, url: str | None = None, pdf: bool = True
) -> ReportFiles:
    """Render the report for `as_of` (default now); reads only (coverage_daily stores the snapshot first)."""
    moment = as_of or clock.now()
    with session_scope(url) as session:
        data = report_data(session, moment)
    folder = Path(out_dir) if out_dir else default_folder(moment)
    folder.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        folder=folder, html=folder / "report.html", xlsx=folder / "gaps.xlsx", coverage_json=folder / "coverage.json"
    )
    files.coverage_json.write_bytes(orjson.dumps(data["coverage"], option=orjson.OPT_INDENT_2))
    files.charts = _charts(data, folder / "charts")
    files.html.write_text(
        render_html(data, {path.stem: f"charts/{path.name}" for path in files.charts}), encoding="utf-8"
    )
    write_workbook(data, files.xlsx)
    if pdf:
        files.pdf = print_to_pdf(files.html, folder / "report.pdf")
    return files


def _charts(data: dict, folder: Path) -> list[Path]:
    target = data["coverage"]["target"]
    return [
        charts.trend_chart(data["coverage"], folder / "trend.png"),
        charts.bar_chart(
            data["by_department"], "department", target, folder / "departments.png", title="各部门覆盖率（由低到高）"
        ),
        charts.bar_chart(data["by_domain"], "label", target, folder / "domains.png", title="各领域覆盖率"),
        *device_charts(data["devices"], folder),
    ]


def render_html(data: dict, chart_paths: dict[str, str]) -> str:
    """The report page; `chart_paths` maps trend / departments / domains to image paths."""
    environment = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html"]))
    environment.filters.update(pct=pct, local_time=local_time)
    environment.globals.update(tone=tone)
    document = data["coverage"]
    departments = data["by_department"]
    return environment.get_template("report.html").render(
        data=data,
        doc=document,
        charts=chart_paths,
        font_family=charts.CJK_FAMILY,
        ahead=[
            row for row in sorted(departments, key=lambda row: (-row["ratio"], row["department"]))[:3] if row["ratio"]
        ],
        min_history=MIN_PROJECTION_POINTS,
        reason_label=labels.reason_label,
        generated=clock.now().isoformat(),
    )
