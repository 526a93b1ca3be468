"""`hub report`: HTML, PDF (real Chromium, CJK font) and XLSX with the same figures as `hub coverage --json`."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from datetime import datetime, timedelta

import orjson
import pytest

from hub import settings as hub_settings
from hub.timezone import LOCAL_TZ


def _cjk_font_missing() -> bool:
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{family}", "Noto Sans CJK SC"], capture_output=True, text=True
        ).stdout
    except OSError:
        return True
    return "CJK" not in found


pytestmark = [
    pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium missing: scripts/system-deps.sh browser"),
    pytest.mark.skipif(_cjk_font_missing(), reason="fonts-noto-cjk missing: scripts/system-deps.sh report"),
]


@pytest.fixture
def as_of(t0) -> str:
    return (t0 + timedelta(hours=1)).isoformat()


@pytest.fixture
def catalog_url(hub_env, monkeypatch, small_catalogue, evidence_events, t0) -> str:
    """The small catalogue, its evidence, and three earlier daily snapshots for a trend."""
    from catalog.db import session_scope
    from catalog.events import apply_events
    from catalog.snapshots import coverage_report, take_snapshot
    from catalog.store import load_catalogue_into

    monkeypatch.setenv("HUB_TARGET_DATE", "2026-12-31")
    hub_settings.reset_settings()
    url = hub_settings.get_settings().catalog_url
    with session_scope(url) as session:
        load_catalogue_into(session, small_catalogue, now=t0 - timedelta(days=60))
        apply_events(session, evidence_events)
        for days in (3, 2, 1):
            day = t0 - timedelta(days=days)
            document = coverage_report(session, day, target=0.7, target_date=hub_settings.get_settings().target_date)
            take_snapshot(session, document, day)
    return url


def _hub_report(out, *options: str):
    """`hub report …` run through the command the lead mounts."""
    import typer
    from typer.testing import CliRunner

    from catalog.service_cli import register

    app, catalog_app = typer.Typer(), typer.Typer()
    app.add_typer(catalog_app, name="catalog")
    register(app, catalog_app)
    result = CliRunner().invoke(app, ["report", "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def rendered(catalog_url, as_of, tmp_path):
    """HTML, charts, XLSX and coverage.json (the PDF, which takes a browser, has its own test)."""
    return _hub_report(tmp_path / "report", "--as-of", as_of, "--no-pdf")


def _cli_document(as_of: str) -> dict:
    import typer
    from typer.testing import CliRunner

    from catalog.cli import coverage

    cli = typer.Typer()
    cli.command()(coverage)
    result = CliRunner().invoke(cli, ["--json", "--as-of", as_of])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_the_report_has_the_same_figures_as_the_cli(rendered, as_of):
    document = _cli_document(as_of)
    assert orjson.loads((rendered / "coverage.json").read_bytes()) == document
    html = (rendered / "report.html").read_text(encoding="utf-8")
    overall, projection = document["overall"], document["projection"]
    assert f"{overall['ratio'] * 100:.1f}%" in html
    assert f"已汇聚 {overall['aggregated']} / {overall['total']} 项" in html
    assert f"距目标还差 <strong>{projection['resources_needed']}</strong> 项" in html
    assert f"{projection['projected_ratio'] * 100:.1f}%" in html
    for gap in document["gaps"]:
        assert gap["resource_code"] in html and gap["department"] in html
    timely = document["timeliness"]["overall"]
    assert f"{timely['ratio'] * 100:.1f}%</strong>（{timely['timely']}/{timely['total']} 项已挂接资源" in html
    for row in document["timeliness"]["late"]:
        assert row["resource_code"] in html.split("附录五", 1)[1]


def test_the_charts_are_real_png_images(rendered):
    html = (rendered / "report.html").read_text(encoding="utf-8")
    for name in ("trend", "departments", "domains"):
        image = rendered / "charts" / f"{name}.png"
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 5_000
        assert f'src="charts/{name}.png"' in html


def test_the_pdf_has_a_summary_page_an_appendix_and_chinese_text(catalog_url, as_of, tmp_path):
    from pypdf import PdfReader

    folder = _hub_report(tmp_path / "report", "--as-of", as_of)
    document = _cli_document(as_of)
    # NFKC: the CJK font maps some characters to their Kangxi-radical code points (⽬ for 目) on extraction.
    pages = [unicodedata.normalize("NFKC", page.extract_text()) for page in PdfReader(folder / "report.pdf").pages]
    assert len(pages) >= 2
    summary = pages[0]
    assert "顺德区数据资源汇聚覆盖率报告" in summary and "附录一" not in summary
    assert f"{document['overall']['ratio'] * 100:.1f}%" in summary
    assert "目标" in summary and "区公安分局" in summary
    appendix = "\n".join(pages[1:])
    assert "附录一" in appendix and "附录四" in appendix and "全部缺口" in appendix
    assert "更新及时率" in summary and "附录五 更新及时率" in appendix and "源数据未按周" in appendix
    assert "考核" in appendix and "逾期异议" in appendix  # 门 extracts as the radical ⻔ from the PDF
    assert "failing rule" not in summary  # reasons read in Chinese
    assert "质量规则未通过" in "\n".join(pages)


def test_the_gap_list_workbook_matches_the_document(rendered, as_of):
    from openpyxl import load_workbook

    document = _cli_document(as_of)
    book = load_workbook(rendered / "gaps.xlsx")
    assert book.sheetnames == [
        "缺口清单",
        "达标路径",
        "概况",
        "部门",
        "更新及时率",
        "源数据未及时更新",
        "未通过的质量规则",
        "部门考核",
    ]
    rows = list(book["缺口清单"].iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[2]) for row in rows] == [(gap["resource_code"], gap["department"]) for gap in document["gaps"]]
    # Times are real Excel dates in Beijing time, not UTC text.
    for row, gap in zip(rows, document["gaps"]):
        if gap["since"]:
            shown = datetime.fromisoformat(gap["since"]).astimezone(LOCAL_TZ).replace(tzinfo=None, second=0)
            assert isinstance(row[4], datetime) and row[4].replace(second=0, microsecond=0) == shown.replace(
                microsecond=0
            )
    summary = {row[0]: row[1] for row in book["概况"].iter_rows(min_row=2, values_only=True)}
    assert summary["覆盖率"] == document["overall"]["ratio"]
    assert summary["距目标还差（项）"] == document["projection"]["resources_needed"]
    assert isinstance(summary["统计时点（北京时间）"], datetime)
    path = list(book["达标路径"].iter_rows(min_row=2, values_only=True))
    assert len(path) == document["projection"]["resources_needed"]
    assert all(isinstance(row[8], datetime) and row[3] for row in path)  # a due date and an owner each
    assert summary["预测覆盖率"] == document["projection"]["projected_ratio"]
    departments = list(book["部门"].iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[3]) for row in departments] == [
        (row["department"], row["ratio"]) for row in document["by_department"]
    ]
    timeliness = document["timeliness"]
    assert summary["更新及时率"] == timeliness["overall"]["ratio"]
    assert [(row[0], row[1], row[2], row[3]) for row in book["更新及时率"].iter_rows(min_row=2, values_only=True)] == [
        (row["department"], row["timely"], row["total"], row["ratio"]) for row in timeliness["by_department"]
    ]
    late = [row[0] for row in book["源数据未及时更新"].iter_rows(min_row=2, values_only=True)]
    assert late == [row["resource_code"] for row in timeliness["late"]] and late
    shares = [row[4] for row in departments]
    assert sum(shares) == document["projection"]["resources_needed"]  # the path, split by department
    scorecard = [(row[0], row[1], row[2]) for row in book["部门考核"].iter_rows(min_row=2, values_only=True)]
    assert scorecard == [
        (card["department"], card["completeness"]["ratio"], card["mounted"]["ratio"])
        for card in document["scorecard"]["by_department"]
    ]
    _no_english_codes(book)


def _no_english_codes(book) -> None:
    """No reason code, method or event name in English in any cell a reader sees."""
    english = re.compile(r"no binding|never produced|never landed|stale|failing rule|least squares|insufficient")
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                assert not (isinstance(value, str) and english.search(value)), (sheet.title, value)
