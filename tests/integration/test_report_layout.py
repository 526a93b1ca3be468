"""The printed report as leadership reads it: pages rendered to PNG (kept in var/test-artifacts/report-pages/),
no nearly empty page, no heading left as the last line of a page, every lagging department listed,
a path to the target with owners and due dates, no trend verdict without enough history, all in Chinese."""

from __future__ import annotations

import importlib.util
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pdf_pages import MIN_INKED_SHARE, pages_of
from test_report import _cjk_font_missing

from hub import settings as hub_settings

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "var" / "test-artifacts" / "report-pages"
NOW = datetime(2026, 12, 6, 1, 0, tzinfo=timezone.utc)
ENGLISH = re.compile(r"no binding|never produced|never landed|stale|failing rule|least squares|insufficient|UTC")

pytestmark = [
    pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium missing: scripts/system-deps.sh browser"),
    pytest.mark.skipif(_cjk_font_missing(), reason="fonts-noto-cjk missing: scripts/system-deps.sh report"),
    pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils missing: scripts/system-deps.sh report"),
]


def _browser_kit():
    # The seed catalogue with ten days of varied evidence: the browser tests' scenario, loaded from its file.
    spec = importlib.util.spec_from_file_location("browser_scenario", REPO / "tests" / "browser" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _headings(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>|\s+", "", heading) for heading in re.findall(r"<h[123][^>]*>(.*?)</h[123]>", html, re.S)]


@pytest.fixture(scope="module", params=["ten-days", "first-day"])
def report(request, tmp_path_factory):
    """The seed catalogue's report with ten days of snapshots, or on its first day (one point, no trend);
    rendered once per scenario (printing takes Chromium a while) in a home of its own."""
    from catalog.db import session_scope
    from catalog.events import apply_events
    from catalog.report.render import render_report
    from catalog.spec import load_catalogue
    from catalog.store import load_catalogue_into

    home = tmp_path_factory.mktemp(f"report-{request.param}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUB_VAR_DIR", str(home / "var"))
        patch.delenv("HUB_CATALOG_URL", raising=False)
        patch.setenv("HUB_TARGET_DATE", "2026-12-31")
        hub_settings.reset_settings()
        url = hub_settings.get_settings().catalog_url
        kit = _browser_kit()
        if request.param == "ten-days":
            kit.seed_service_db(url, NOW)
        else:
            catalogue = load_catalogue(REPO / "catalog" / "seed")
            with session_scope(url) as session:
                load_catalogue_into(session, catalogue, now=NOW - timedelta(days=2))
                apply_events(session, kit.demo_events(catalogue, NOW)[:40])
        files = render_report(home / "report", NOW)
    hub_settings.reset_settings()
    return request.param, files


def test_no_page_is_nearly_empty_and_no_heading_ends_a_page(report):
    scenario, files = report
    pages = pages_of(files.pdf, ARTIFACTS / scenario)
    headings = set(_headings(files.html.read_text(encoding="utf-8")))
    assert len(pages) >= 3
    for page in pages:
        assert page.inked_share >= MIN_INKED_SHARE, f"page {page.number} is nearly empty: {page.png}"
        assert page.lines or page.inked_share > 0.5, f"page {page.number} has neither text nor a chart: {page.png}"
        last = page.last_line
        if last is not None:
            assert last.text not in headings, f"page {page.number} ends with the heading {last.text!r}: {page.png}"
    assert len(pages[-1].lines) >= 5, f"the last page holds {len(pages[-1].lines)} lines: {pages[-1].png}"


def test_every_lagging_department_and_the_path_to_target(report):
    import orjson

    _scenario, files = report
    document = orjson.loads(files.coverage_json.read_bytes())
    pages = pages_of(files.pdf, files.folder / "pages")
    text = "\n".join(line.text for page in pages for line in page.lines)
    summary = "".join(line.text for line in pages[0].lines)
    lagging = [row for row in document["by_department"] if row["ratio"] < document["target"]]
    assert lagging
    html = files.html.read_text(encoding="utf-8")
    first_page = html.split('id="path"', 1)[0]
    for row in lagging:  # every department behind, none dropped, on the summary page
        assert f"<tr><td>{row['department']}</td>" in first_page, row["department"]
    assert f"未达目标的部门({len(lagging)}个" in summary  # NFKC: full-width brackets read as ASCII
    needed = document["projection"]["resources_needed"]
    path = html.split('id="path"', 1)[1].split('id="appendix"', 1)[0]
    assert path.count('<td class="num">') >= needed and f"还差 <strong>{needed}</strong> 项" in path
    assert re.findall(r"\d{4}-\d{2}-\d{2}", path)  # due dates
    assert "达标路径中承担" in text and "<th>距目标还差</th>" not in html
    assert not ENGLISH.search(text), ENGLISH.search(text)


def test_no_trend_verdict_before_the_minimum_history(report):
    import orjson

    scenario, files = report
    document = orjson.loads(files.coverage_json.read_bytes())
    html = files.html.read_text(encoding="utf-8")
    if scenario == "first-day":
        assert document["projection"]["method"] == "insufficient history"
        assert "按当前趋势" not in html and "暂不判断趋势：判断至少需要 3 天的每日快照，现有 1 天" in html
    else:
        assert "按当前趋势" in html and "最小二乘直线外推" in html
