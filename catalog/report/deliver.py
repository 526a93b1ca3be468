"""The report by mail: the headline figures in the body, the PDF and the gap workbook attached.

`hub report send` and coverage_daily's report step (when HUB_REPORT_TO is set) call `send_report`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson

from catalog.report.errors import ReportError
from catalog.report.wording import verdict
from hub import mail
from hub.settings import Settings, get_settings
from hub.timezone import LOCAL_TZ

ATTACHED = ("report.pdf", "gaps.xlsx")


def report_mail_body(document: dict) -> str:
    """Five lines a reader can act on without opening the attachment."""
    overall, projection = document["overall"], document["projection"]
    as_of = datetime.fromisoformat(document["as_of"]).astimezone(LOCAL_TZ)
    return "\n".join(
        [
            f"顺德区数据资源汇聚覆盖率报告（统计时点 {as_of:%Y-%m-%d %H:%M} 北京时间）",
            f"覆盖率 {overall['ratio']:.1%}：已汇聚 {overall['aggregated']} / {overall['total']} 项，"
            f"目标 {document['target']:.0%}（截止 {projection['target_date']}），"
            f"距目标还差 {projection['resources_needed']} 项。",
            verdict(document)["text"] + "。",
            f"缺口共 {len(document['gaps'])} 项；达标路径、各部门分工与期限见附件 report.pdf，全部缺口见 gaps.xlsx。",
        ]
    )


def send_report(folder: Path, recipients: list[str] | None = None, settings: Settings | None = None) -> list[str]:
    """Mail the report in `folder` (as `hub report` wrote it) to `recipients` (default HUB_REPORT_TO)."""
    settings = settings or get_settings()
    recipients = recipients or settings.report_to
    figures = folder / "coverage.json"
    if not figures.is_file():
        raise ReportError(f"no report in {folder} (coverage.json missing): render it first with `hub report --out`")
    document = orjson.loads(figures.read_bytes())
    attachments = [folder / name for name in ATTACHED if (folder / name).is_file()]
    if not any(path.name == "report.pdf" for path in attachments):
        raise ReportError(f"{folder} has no report.pdf to send: render it with the PDF (not --no-pdf)")
    as_of = datetime.fromisoformat(document["as_of"]).astimezone(LOCAL_TZ)
    subject = f"顺德区数据资源汇聚覆盖率报告 {as_of:%Y-%m-%d}（覆盖率 {document['overall']['ratio']:.1%}）"
    mail.send(recipients, subject, report_mail_body(document), attachments, settings=settings)
    return recipients
