"""Honest answers under masks, and exports that hold every row: on a real warehouse, through the
sandbox's child process, as an owner (clear) and as another department (pseudonyms)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import duckdb
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from catalog.db import session_scope
from catalog.spec import Catalogue, Department, Item, Resource
from catalog.store import load_catalogue_into
from hub.settings import get_settings, reset_settings
from warehouse.access.audit import run_query
from warehouse.access.exports import export_query

NOW = datetime.now(timezone.utc)
OWNER, OTHER = "gaj", "scjgj"
PEOPLE, ALLOWANCES = 3000, 900  # allowances: 600 people, 300 of them twice
PEOPLE_ITEMS = [
    Item(name="gmsfhm", label="公民身份号码", type="C", length=18, nullable=False, key=True, pii="id_number"),
    Item(name="xm", label="姓名", type="C", length=50, pii="name"),
    Item(name="town", label="所属镇街", type="C", length=20),
]
ALLOWANCE_ITEMS = [
    Item(name="bzid", label="保障编号", type="C", length=20, nullable=False, key=True),
    Item(name="gmsfhm", label="公民身份号码", type="C", length=18, pii="id_number"),
    Item(name="bzje", label="保障金额", type="F"),
    Item(name="ffsj", label="发放时间", type="T"),
]


def _resource(rid: str, n: int, items: list[Item]) -> Resource:
    return Resource(
        id=rid,
        code=f"1010{n}/00000{n}",
        name={"people": "户籍人口", "allowances": "最低生活保障"}[rid],
        provider=OWNER,
        classification="基础/人口",
        abstract="测试",
        format="数据库",
        domain="population",
        update_cycle="每日",
        sharing_type="无条件共享",
        open_type="不开放",
        release_date=NOW.date(),
        items=items,
    )


@pytest.fixture
def hub(hub_env):
    departments = [
        Department(id=OWNER, name="佛山市公安局顺德分局", code="11440606006424189J", division="440606"),
        Department(id=OTHER, name="佛山市顺德区市场监督管理局", code="11440606001996620F", division="440606"),
    ]
    catalogue = Catalogue(
        departments=departments,
        resources=[_resource("people", 1, PEOPLE_ITEMS), _resource("allowances", 2, ALLOWANCE_ITEMS)],
    )
    with session_scope() as session:
        load_catalogue_into(session, catalogue, now=NOW)
    connection = duckdb.connect(str(get_settings().warehouse_path))
    for schema in ("staging", "mart", "meta", "raw"):
        connection.execute(f"CREATE SCHEMA {schema}")
    connection.execute(
        "CREATE TABLE staging.people AS SELECT printf('4406061990%04d%03dX', i % 10000, i % 997) AS gmsfhm, "
        "'张' || i AS xm, ['大良', '容桂', '伦教'][i % 3 + 1] AS town, now() AS _event_time FROM range(?) t(i)",
        [PEOPLE],
    )
    # 600 distinct people: the first 300 twice, the next 300 once; plus one ID nobody in people has.
    connection.execute(
        "CREATE TABLE staging.allowances AS SELECT 'B' || i AS bzid, p.gmsfhm, 100.0 + i AS bzje, "
        "TIMESTAMPTZ '2026-11-30 16:30:00+00' AS ffsj, now() AS _event_time "
        "FROM range(?) t(i) JOIN (SELECT gmsfhm, row_number() OVER (ORDER BY gmsfhm) - 1 AS n FROM staging.people) p "
        "ON p.n = CASE WHEN i < 600 THEN i % 300 ELSE i - 300 END",
        [ALLOWANCES],
    )
    connection.close()
    return hub_env


JOIN = (
    "SELECT count(*) AS pairs, count(DISTINCT a.gmsfhm) AS people FROM staging.allowances a "
    "JOIN staging.people p ON p.gmsfhm = a.gmsfhm"
)


def _one(role: str, sql: str) -> dict:
    outcome = run_query(role, sql)
    assert outcome.allowed, outcome.reason
    return outcome.table.to_pylist()[0]


def test_pseudonyms_keep_distinct_counts_and_joins_exact_and_warn(hub):
    distinct = "SELECT count(DISTINCT gmsfhm) AS n FROM staging.people"
    assert _one(OWNER, distinct) == _one(OTHER, distinct) == {"n": len(set(_ids()))}
    assert _one(OWNER, JOIN) == _one(OTHER, JOIN) == {"pairs": ALLOWANCES, "people": 600}
    masked = run_query(OTHER, JOIN)
    assert any("gmsfhm" in w and "假名" in w for w in masked.warnings), masked.warnings
    assert run_query(OWNER, JOIN).warnings == []  # the owner reads clear values: nothing to warn about
    assert run_query(OTHER, "SELECT town, count(*) FROM staging.people GROUP BY town").warnings == []
    grouped = run_query(OTHER, "SELECT xm, count(*) AS n FROM staging.people GROUP BY xm")
    assert any(w.startswith("警告：xm") for w in grouped.warnings), grouped.warnings  # names coarsened: wrong groups


def _ids() -> list[str]:
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as connection:
        return [gmsfhm for (gmsfhm,) in connection.execute("SELECT gmsfhm FROM staging.people").fetchall()]


def test_exports_hold_every_row_past_the_screen_limit(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_QUERY_ROW_LIMIT", "100")
    reset_settings()
    sql = "SELECT p.*, a.bzje, a.ffsj FROM staging.people p LEFT JOIN staging.allowances a USING (gmsfhm)"
    screen = run_query(OTHER, sql)
    assert screen.truncated and screen.rows == 100
    rows = PEOPLE + 300  # 300 people have two allowances
    for fmt in ("csv", "parquet", "xlsx", "json"):
        target = tmp_path / f"all.{fmt}"
        outcome = export_query(OTHER, sql, fmt, target)
        assert outcome.allowed and outcome.row_count == rows, (fmt, outcome.reason)
    raw = (tmp_path / "all.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    records = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(records) == rows and all(r["gmsfhm"].startswith("pid_") for r in records)
    assert {r["ffsj"] for r in records if r["ffsj"]} == {"2026-12-01 00:30:00+08:00"}  # Beijing time, offset
    assert pq.read_table(tmp_path / "all.parquet").num_rows == rows
    sheet = list(load_workbook(tmp_path / "all.xlsx", read_only=True)["结果"].iter_rows(values_only=True))
    assert len(sheet) == rows + 1 and sheet[0][-1] == "ffsj（北京时间）"
    at = sheet[0].index("ffsj（北京时间）")
    assert {row[at] for row in sheet[1:] if len(row) > at and row[at]} == {datetime(2026, 12, 1, 0, 30)}  # Excel date
    assert len(json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))) == rows


def test_an_export_over_the_limit_fails_and_writes_nothing(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_EXPORT_ROW_LIMIT", "1000")
    reset_settings()
    folder = tmp_path / "out"
    folder.mkdir()
    outcome = export_query(OTHER, "SELECT * FROM staging.people", "csv", folder / "cut.csv")
    assert not outcome.allowed and "HUB_EXPORT_ROW_LIMIT" in outcome.reason
    assert list(folder.iterdir()) == []  # neither the file nor the sandbox's scratch result


def _cli_as(monkeypatch, department: str):
    import typer

    from catalog import accounts
    from warehouse.access import cli

    with session_scope() as session:
        account = accounts.add_account(
            session, f"user.{department}", department=department, role="analyst", created_by="test"
        )
        monkeypatch.setenv("HUB_TOKEN", accounts.issue_token(session, account))
    reset_settings()
    app = typer.Typer()
    app.command("sql")(cli.sql)
    app.command("audit")(cli.audit)
    return app


def test_hub_sql_file_export_says_rows_written_and_the_screen_says_it_was_cut(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_QUERY_ROW_LIMIT", "10")
    app, runner = _cli_as(monkeypatch, OTHER), CliRunner()
    target = tmp_path / "people.csv"
    written = runner.invoke(app, ["sql", "-c", "SELECT * FROM staging.people", "-o", str(target)])
    assert written.exit_code == 0, written.output
    assert f"wrote {PEOPLE:,} rows to {target} (csv)" in written.stderr
    assert target.read_bytes().startswith(b"\xef\xbb\xbf") and len(target.read_text().splitlines()) == PEOPLE + 1
    shown = runner.invoke(app, ["sql", "-c", "SELECT gmsfhm FROM staging.people", "--format", "csv"])
    assert len(shown.stdout.splitlines()) == 11 and "cut at 10 rows" in shown.stderr
    two = runner.invoke(app, ["sql", "-c", "SELECT 1 AS a; SELECT 2 AS b;", "--format", "csv"])
    assert two.exit_code == 0 and two.stdout.splitlines() == ['"a"', "1", '"b"', "2"]
    refused = runner.invoke(app, ["sql", "-c", "SELECT 1; SELECT 2;", "-o", str(tmp_path / "x.csv")])
    assert refused.exit_code == 1 and "one file per statement" in refused.stderr
    warned = runner.invoke(app, ["sql", "-c", JOIN, "--format", "json"])
    assert warned.exit_code == 0 and "假名" in warned.stderr


def test_the_shell_knows_help_schema_mode_and_several_statements_per_line(hub, monkeypatch):
    app, runner = _cli_as(monkeypatch, OTHER), CliRunner()
    session = (
        ".help\n.schema staging.people\n.mode line\nSELECT 1 AS a; SELECT 'x' AS b;\n.mode csv\n"
        "SELECT ffsj FROM staging.allowances LIMIT 1;\n.quit\n"
    )
    ran = runner.invoke(app, ["sql"], input=session)
    assert ran.exit_code == 0, ran.output
    out = ran.stdout
    assert ".schema [VIEW]" in out and ".mode MODE" in out
    assert "staging.people  -- 户籍人口" in out and "公民身份号码" in out and "脱敏 masked: 假名" in out
    assert "a | 1" in out and "b | x" in out  # line mode, both statements of one line
    assert "2026-12-01 00:30:00+08:00" in out
    assert (get_settings().var_dir / "sql_history").exists()
