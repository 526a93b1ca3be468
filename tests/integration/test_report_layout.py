"""The printed report as leadership reads it: pages rendered to PNG (kept in var/test-artifacts/report-pages/),
no nearly empty page, no heading left as the last line of a page, every lagging department listed,
a path to the target with owners and due dates, no trend verdict without enough history, all in Chinese."""

from __future__ import annotations

import importlib.util
import re
import shutil
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pdf_pages import MIN_INKED_SHARE, pages_of
from test_report import _cjk_font_missing

from hub import settings as hub_settings
from hub.timezone import LOCAL_TZ

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


# --- Everything in Chinese, every time in Beijing time ------------------------------------------------------

# A word: a run of letters, digits and underscores (so `resident_population` is one) with 3+ letters and no
# digit — a token with digits is an id or a code (q-7e16…, 101001/00001), not a word a reader would read.
TOKEN = re.compile(r"[A-Za-z0-9_]+")
# The only Latin words a leadership reader may meet in report.pdf and gaps.xlsx, and why each is there.
ALLOWED_LATIN = {
    "PDF": "a file format, named as such",
    "XLSX": "a file format, named as such",
    "json": "coverage.json: the file the report names as the source of every figure",
    "coverage": "coverage.json and the command `hub coverage --json` the report names for checking its figures",
    "hub": "the command `hub coverage --json` the report names for checking its figures",
    "NTU": "a unit (turbidity) inside a catalogue item's Chinese name",
    "CFU": "a unit (colony-forming units) inside a catalogue item's Chinese name",
    "WKT": "a geometry format standard inside a catalogue item's Chinese name",
    "EPSG": "a coordinate-system register inside a catalogue item's Chinese name",
}
# Columns for engineers, beside the Chinese label: their cells are codes, not words to read.
CODE_COLUMNS = {"规则代码"}
CLOCK_TIME = re.compile(r"\d{4}-\d{2}-\d{2} ?\d{2}:\d{2}")


def _latin_words(text: str) -> set[str]:
    return {
        token
        for token in TOKEN.findall(text)
        if sum(ch.isascii() and ch.isalpha() for ch in token) >= 3 and not any(ch.isdigit() for ch in token)
    }


def _pdf_pages(pdf: Path) -> list[str]:
    from pypdf import PdfReader

    # NFKC: the CJK font maps some characters to Kangxi radicals on extraction (⽬ for 目).
    return [unicodedata.normalize("NFKC", page.extract_text()) for page in PdfReader(pdf).pages]


def _xlsx_cells(xlsx: Path):
    """(sheet, what labels the cell: its column header and its row's first cell, cell) of every cell."""
    from openpyxl import load_workbook

    for sheet in load_workbook(xlsx).worksheets:
        rows = sheet.iter_rows()
        header = [cell.value for cell in next(rows, ())]
        for cell in sheet[1]:
            yield sheet.title, "", cell
        for row in rows:
            for title, cell in zip(header, row):
                yield sheet.title, f"{title} / {row[0].value}", cell


def test_no_english_word_in_the_pdf_or_the_workbook(report):
    _scenario, files = report
    found: dict[str, str] = {}
    for number, text in enumerate(_pdf_pages(files.pdf), start=1):
        for word in _latin_words(text) - ALLOWED_LATIN.keys():
            found.setdefault(word, f"report.pdf page {number}")
    for sheet, column, cell in _xlsx_cells(files.xlsx):
        value = cell.value
        if isinstance(value, str) and column.split(" / ")[0] not in CODE_COLUMNS:
            for word in _latin_words(value) - ALLOWED_LATIN.keys():
                found.setdefault(word, f"gaps.xlsx {sheet}/{column}: {value}")
    assert not found, "English left in the report:\n" + "\n".join(f"{w!r} in {where}" for w, where in found.items())


def test_every_time_shown_is_beijing_time(report):
    _scenario, files = report
    pages = _pdf_pages(files.pdf)
    assert f"{NOW.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}（北京时间）" in pages[0].replace("(", "（").replace(")", "）")
    for number, text in enumerate(pages, start=1):
        assert not re.search(r"\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]00:?00)\b|\dT\d{2}:", text), f"UTC on page {number}"
        flat = re.sub(r"\s+", "", text)  # a line may break inside 北京时间
        if CLOCK_TIME.search(text):  # a page showing a clock time says which clock (table headers repeat per page)
            assert "北京时间" in flat or "+08:00" in flat, f"page {number} shows times without 北京时间"
    times = 0
    for sheet, column, cell in _xlsx_cells(files.xlsx):
        if isinstance(cell.value, str):
            assert not CLOCK_TIME.search(cell.value.replace("T", " ")), (
                f"a time as text in {sheet}/{column}: {cell.value}"
            )
        elif isinstance(cell.value, datetime) and "h" in cell.number_format:  # a real Excel date with a clock time
            assert "北京时间" in column, f"{sheet}: {column} holds times without saying 北京时间"
            times += 1
    assert times, "the workbook holds no time at all"
