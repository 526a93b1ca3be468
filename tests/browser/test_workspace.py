"""The analyst workspace in real Chromium: sign in, browse the schema, autocomplete, run a query, see
the masked-join warning, export 50,000 rows to CSV in the background and open the file.

民政局 (mzj) reads its own 低保对象信息 in clear and 户籍人口基本信息 (gaj's) through a grant without
PII: masked, identifiers as pseudonyms. The sandbox, masking and audit are the real ones.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from catalog import accounts
from catalog import grants as catalog_grants
from catalog.db import session_scope
from catalog.models import QueryAudit
from hub.settings import get_settings

PEOPLE = 50_000
ALLOWANCES = 2_000  # the first 2,000 people receive an allowance


@pytest.fixture(scope="module")
def analyst_token(service_url) -> str:
    """A warehouse with the two resources, the grant, the workspace wired, and mzj's analyst's token."""
    from pipeline import workspace

    workspace.wire()
    path = get_settings().warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as connection:
        for schema in ("staging", "mart", "meta", "raw"):
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        connection.execute(
            "CREATE TABLE staging.household_population AS SELECT "
            "printf('44060619%02d%02d%02d%03dX', 50 + i % 50, 1 + i % 12, 1 + i % 28, i % 1000) AS gmsfhm, "
            "'陈' || i AS xm, CAST(1 + i % 2 AS VARCHAR) AS xb, '01' AS mz, "
            "make_date(1950 + i % 50, 1 + i % 12, 1 + i % 28) AS csrq, printf('%012d', i // 3) AS hh, '01' AS yhzgx, "
            "'440606101000' AS hjdz_xzqh, '顺德区大良街道金榜路' || i || '号' AS hjdz, NULL AS jzdz, '10' AS hyzk, "
            "'1' AS hklb, '户籍' AS rklx, printf('138%08d', i) AS lxdh, NULL::DATE AS qrrq, '0' AS zxbz, "
            "TIMESTAMPTZ '2026-11-30 16:30:00+00' AS updated_at, now() AS _event_time FROM range(?) t(i)",
            [PEOPLE],
        )
        connection.execute(
            "CREATE TABLE staging.subsistence_allowance AS SELECT gmsfhm, xm, '440606101' AS ssjz, "
            "NULL AS sqjwh, '城市低保' AS bzlx, 2 AS jtrs, 1200.0 AS bzje, NULL::DATE AS ksrq, '在保' AS zt, "
            "updated_at, _event_time FROM staging.household_population LIMIT ?",
            [ALLOWANCES],
        )
    now = datetime.now(timezone.utc)
    with session_scope() as session:
        catalog_grants.add_grant(
            session,
            department="mzj",
            resource="household_population",
            purpose="低保对象户籍核验",
            approved_by="公安分局 王科长",
            valid_until=now + timedelta(days=30),
            include_pii=False,
            now=now - timedelta(days=1),
        )
        account = accounts.add_account(session, "li.analyst", department="mzj", role="analyst", created_by="test")
        return accounts.issue_token(session, account)


def _sign_in(page, service_url: str, token: str) -> None:
    page.goto(service_url + "/workspace")
    assert "/login?next=" in page.url  # the workspace needs an account
    page.fill("input[name=token]", token)
    with page.expect_navigation():
        page.click("[data-testid=login] button[type=submit]")
    assert page.url.endswith("/workspace")
    page.wait_for_selector("#schema-tree details")
    page.wait_for_selector(".cm-editor")  # CodeMirror, from the locally built bundle


def _type_sql(page, sql: str) -> None:
    page.click(".cm-content")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(sql)


def _run(page, sql: str) -> None:
    _type_sql(page, sql)
    runs = int(page.get_attribute("#workspace", "data-runs") or 0)
    page.click("[data-testid=run]")
    page.wait_for_selector(f"#workspace[data-runs='{runs + 1}']")  # no wait_for_function: the CSP forbids eval


def test_sign_in_browse_the_schema_and_autocomplete(page, service_url, analyst_token):
    _sign_in(page, service_url, analyst_token)
    views = page.eval_on_selector_all("#schema-tree details", "nodes => nodes.map(n => n.dataset.view)")
    assert "staging.household_population" in views and "staging.subsistence_allowance" in views
    assert "staging.migrant_registration" not in views  # not granted: not shown
    people = page.locator("details[data-view='staging.household_population']")
    assert "户籍人口基本信息" in people.inner_text()
    people.locator("summary").click()
    id_column = people.locator("li[data-column=gmsfhm]")
    assert "公民身份号码" in id_column.inner_text() and "脱敏" in id_column.inner_text()
    own = page.locator("details[data-view='staging.subsistence_allowance']")
    own.locator("summary").click()
    assert "脱敏" not in own.locator("li[data-column=gmsfhm]").inner_text()  # its own resource: clear
    page.fill("#schema-filter", "保障金额")
    assert page.eval_on_selector_all("#schema-tree details", "n => n.length") == 1
    _type_sql(page, "SELECT * FROM staging.househ")
    page.keyboard.press("Control+Space")
    page.wait_for_selector(".cm-tooltip-autocomplete")
    assert "household_population" in page.inner_text(".cm-tooltip-autocomplete")
    assert page.console_errors == []


def test_run_a_query_page_through_it_and_chart_it(page, service_url, analyst_token):
    _sign_in(page, service_url, analyst_token)
    _run(page, "SELECT xb, count(*) AS people FROM staging.subsistence_allowance d GROUP BY xb ORDER BY xb")
    assert "xb" in page.inner_text("[data-testid=error]")  # 低保 has no 性别 item: DuckDB's message, shown
    _run(page, "SELECT gmsfhm, bzje FROM staging.subsistence_allowance ORDER BY gmsfhm")
    assert page.inner_text("#result-summary").startswith(f"{ALLOWANCES} 行")
    assert page.locator("#result tbody tr").count() == 100  # paged
    page.click("#next")
    assert "第 2 / 20 页" in page.inner_text("#page-info")
    _run(page, "SELECT ssjz, count(*) AS n, sum(bzje) AS total FROM staging.subsistence_allowance GROUP BY ssjz")
    page.select_option("#chart-y", "total")
    page.click("#draw")
    assert page.locator("[data-testid=chart] svg rect").count() == 1
    assert page.console_errors == []


def test_a_join_on_a_masked_identifier_warns(page, service_url, analyst_token):
    _sign_in(page, service_url, analyst_token)
    _run(
        page,
        "SELECT count(*) AS matched FROM staging.subsistence_allowance d "
        "JOIN staging.household_population h ON d.gmsfhm = h.gmsfhm",
    )
    warnings = page.inner_text("[data-testid=warnings]")
    assert "假名" in warnings and "d.gmsfhm" in warnings and "永远不相等" in warnings and "注意" not in warnings
    assert page.inner_text("#result tbody td") == "0"  # the honest answer, with the reason beside it
    with session_scope() as session:
        last = session.query(QueryAudit).order_by(QueryAudit.id.desc()).first()
        assert (last.channel, last.user_name, last.role, last.status) == ("web", "li.analyst", "mzj", "ok")


def test_export_fifty_thousand_rows_to_csv_and_open_it(page, service_url, analyst_token, tmp_path):
    _sign_in(page, service_url, analyst_token)
    _type_sql(page, "SELECT gmsfhm, xm, csrq, hjdz, updated_at FROM staging.household_population")
    page.select_option("#export-format", "csv")
    page.click("[data-testid=export]")
    done = page.wait_for_selector("#exports tr[data-status=done]", timeout=120_000)
    assert done.query_selector("[data-rows]").get_attribute("data-rows") == str(PEOPLE)
    with page.expect_download() as download:
        done.query_selector("a").click()
    saved = tmp_path / "export.csv"
    download.value.save_as(saved)
    raw = saved.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 with a BOM
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == PEOPLE
    first = rows[0]
    assert first["gmsfhm"].startswith("pid_") and first["xm"].endswith("*") and len(first["csrq"]) == 4
    assert first["updated_at"] == "2026-12-01 00:30:00+08:00"  # Beijing time with the offset
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as connection:
        (clear_ids,) = connection.execute("SELECT count(DISTINCT gmsfhm) FROM staging.household_population").fetchone()
    assert len({row["gmsfhm"] for row in rows}) == clear_ids  # one pseudonym per number: counts stay right
    assert page.console_errors == []
