"""Analyst SQL on a real (small) warehouse, through the sandbox's child process: the rights matrix,
masking (pseudonyms, derived items), k-suppressed marts, the statement check, the audit lifecycle."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from catalog import accounts_cli
from catalog import grants as catalog_grants
from catalog.db import session_scope
from catalog.models import QueryAudit
from catalog.spec import Catalogue, Department, Item, Resource
from catalog.store import load_catalogue_into
from hub.settings import get_settings, reset_settings
from warehouse.access import audit, sandbox
from warehouse.access.audit import run_query
from warehouse.access.keys import pseudonym_key, role_key
from warehouse.access.masking import pseudonym
from warehouse.access.statement import QueryRefused, check_statement
from warehouse.marts import MART_GROUP_COLUMNS

NOW = datetime.now(timezone.utc)
ID, NAME, PHONE = "44060619900101123X", "张三丰", "13812341234"


def masked(role: str = "scjgj") -> tuple[str, str, str]:
    """What a masked view shows `role` for ID, NAME, PHONE: its keyed pseudonyms and the name's first character."""
    key = role_key(pseudonym_key(get_settings()), role)
    return pseudonym(ID, "id_number", key), "张**", pseudonym(PHONE, "phone", key)


OWNER, OTHER = "区公安分局", "区市场监督管理局"  # as `hub coverage --json` lists gaj and scjgj
SHARING = {"open_people": "无条件共享", "cond_people": "有条件共享", "secret_people": "不予共享"}


def _catalogue() -> Catalogue:
    departments = [
        Department(id="gaj", name="佛山市公安局顺德分局", code="11440606006424189J", division="440606"),
        Department(id="scjgj", name="佛山市顺德区市场监督管理局", code="11440606001996620F", division="440606"),
    ]
    items = [
        Item(name="gmsfhm", label="公民身份号码", type="C", length=18, nullable=False, key=True, pii="id_number"),
        Item(name="xm", label="姓名", type="C", length=50, pii="name"),
        Item(name="lxdh", label="联系电话", type="C", length=20, pii="phone"),
        Item(name="nl", label="年龄", type="I", rules={"derived_from": "gmsfhm"}),
        Item(name="rs", label="人数", type="I"),
    ]
    resources = [
        Resource(
            id=rid,
            code=f"1010{n}/00000{n}",
            name=rid,
            provider="gaj",
            classification="基础/人口",
            abstract="测试",
            format="数据库",
            domain="population",
            update_cycle="每日",
            sharing_type=sharing,
            open_type="不开放",
            release_date=NOW.date(),
            items=items,
        )
        for n, (rid, sharing) in enumerate(SHARING.items())
    ]
    return Catalogue(departments=departments, resources=resources)


@pytest.fixture
def hub(hub_env):
    """A catalogue (2 departments, one resource per sharing type) and a warehouse holding them."""
    with session_scope() as session:
        load_catalogue_into(session, _catalogue(), now=NOW)
    connection = duckdb.connect(str(get_settings().warehouse_path))
    for schema in ("staging", "mart", "meta", "raw"):
        connection.execute(f"CREATE SCHEMA {schema}")
    for rid in SHARING:
        connection.execute(
            f"CREATE TABLE staging.{rid} (gmsfhm VARCHAR, xm VARCHAR, lxdh VARCHAR, nl BIGINT, "
            "rs BIGINT, _event_time TIMESTAMPTZ)"
        )
        connection.execute(f"INSERT INTO staging.{rid} VALUES (?, ?, ?, 36, 1, now())", [ID, NAME, PHONE])
    # A registered mart (k applies to its `persons`) and one put there by hand (not shown to analysts).
    connection.execute(
        "CREATE VIEW mart.population_by_town_age_sex AS SELECT * FROM (VALUES ('大良街道', 7), "
        "('杏坛镇', 2)) t(town_name, persons)"
    )
    connection.execute(
        "CREATE VIEW mart.people_by_age AS SELECT nl, count(*) AS residents FROM staging.open_people GROUP BY nl"
    )
    connection.execute("CREATE TABLE staging.not_in_catalogue AS SELECT 'x' AS secret")
    connection.close()
    return hub_env


def _grant(include_pii: bool, valid_for: timedelta) -> None:
    with session_scope() as session:
        catalog_grants.add_grant(
            session,
            department="scjgj",
            resource="cond_people",
            purpose="市场主体核查",
            approved_by="公安分局 王科长",
            valid_until=NOW + valid_for,
            include_pii=include_pii,
            now=NOW - timedelta(days=30),
        )


def _read(role: str, resource: str):
    outcome = run_query(role, f"SELECT gmsfhm, xm, lxdh, nl FROM staging.{resource}")
    if not outcome.allowed:
        return "refused", outcome.reason
    row = outcome.table.to_pylist()[0]
    values = (row["gmsfhm"], row["xm"], row["lxdh"])
    assert values in ((ID, NAME, PHONE), masked(outcome.role)), values
    assert row["nl"] == (36 if values == (ID, NAME, PHONE) else "30-39")  # age derives from the ID: coarsened
    return ("clear" if values == (ID, NAME, PHONE) else "masked"), outcome.reason


def test_pseudonyms_differ_between_roles_so_handed_on_results_do_not_join(hub):
    seen = {
        role: run_query(role, "SELECT gmsfhm FROM staging.open_people").table.to_pylist()[0]["gmsfhm"]
        for role in (OTHER, "leadership", "admin")
    }
    assert len(set(seen.values())) == 3 and all(p.startswith("pid_") for p in seen.values())


GRANTS = {
    "none": None,
    "without_pii": (False, timedelta(days=30)),
    "with_pii": (True, timedelta(days=30)),
    "expired": (True, timedelta(days=-1)),
}
# (role, grant on cond_people for scjgj) → what each sharing type gives
MATRIX = {
    (OWNER, "none"): ("clear", "clear", "clear"),
    (OTHER, "none"): ("masked", "refused", "refused"),
    (OTHER, "without_pii"): ("masked", "masked", "refused"),
    (OTHER, "with_pii"): ("masked", "clear", "refused"),
    (OTHER, "expired"): ("masked", "refused", "refused"),
    ("leadership", "none"): ("masked", "refused", "refused"),
    ("admin", "none"): ("masked", "masked", "masked"),
}


@pytest.mark.parametrize("grant", list(GRANTS))
def test_rights_matrix_department_by_sharing_type_by_grant(hub, grant):
    if GRANTS[grant]:
        _grant(*GRANTS[grant])
    for (role, wanted_grant), expected in MATRIX.items():
        if wanted_grant != grant:
            continue
        got = tuple(_read(role, rid)[0] for rid in SHARING)
        assert got == expected, (role, grant, got)


def test_refusals_say_why_and_marts_are_open_to_every_role_without_groups_under_k(hub):
    reason = run_query(OTHER, "SELECT * FROM staging.cond_people").reason
    assert "有条件共享" in reason and "hub grant add" in reason
    assert "不予共享" in run_query(OTHER, "SELECT * FROM staging.secret_people").reason
    for role in (OWNER, OTHER, "leadership", "admin", "scjgj"):
        outcome = run_query(role, "SELECT * FROM mart.population_by_town_age_sex")
        assert outcome.allowed and outcome.table.to_pylist() == [{"town_name": "大良街道", "persons": 7}]
        assert not run_query(role, "SELECT * FROM mart.people_by_age").allowed  # no k declared: not shown
    assert not run_query("财政局", "SELECT 1").allowed


def test_revoked_grant_no_longer_opens_the_resource(hub):
    _grant(True, timedelta(days=30))
    assert _read(OTHER, "cond_people")[0] == "clear"
    with session_scope() as session:
        grant_id = catalog_grants.list_grants(session)[0].id
        catalog_grants.revoke_grant(session, grant_id)
    assert _read(OTHER, "cond_people")[0] == "refused"


ATTACKS = {
    "read_csv": "SELECT * FROM read_csv('/etc/passwd')",
    "read_csv_auto": "SELECT * FROM read_csv_auto('/etc/passwd')",
    "read_text": "SELECT * FROM read_text('/etc/passwd')",
    "read_blob": "SELECT * FROM read_blob('/etc/passwd')",
    "read_json": "SELECT * FROM read_json_auto('/etc/passwd')",
    "read_parquet": "SELECT * FROM read_parquet('/etc/passwd')",
    "replacement scan": "SELECT * FROM '/etc/passwd'",
    "glob": "SELECT * FROM glob('/etc/*')",
    "file in a subquery": "SELECT (SELECT count(*) FROM read_text('/etc/passwd')) AS n",
    "file in a CTE": "WITH f AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM f",
    "copy to": "COPY (SELECT * FROM staging.open_people) TO '/tmp/leak.csv'",
    "attach": "ATTACH '/tmp/other.duckdb' AS other",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "set external access": "SET enable_external_access = true",
    "reset lock": "RESET lock_configuration",
    "pragma": "PRAGMA enable_profiling",
    "create table": "CREATE TABLE stolen AS SELECT * FROM staging.open_people",
    "create macro": "CREATE MACRO m() AS 1",
    "insert": "INSERT INTO staging.open_people VALUES ('x', 'y', 'z', 1, now())",
    "export": "EXPORT DATABASE '/tmp/exp'",
    "detach": "DETACH memory",
    "checkpoint": "CHECKPOINT",
    "stacked statements": "SELECT 1; SELECT * FROM read_text('/etc/passwd')",
    "stacked after comment": "SELECT 1 /* ; */; DROP VIEW staging.open_people",
    "comment hiding a statement": "SELECT 1 --\n; ATTACH '/tmp/x.db' AS x",
    "quoted identifier trick": 'SELECT * FROM "staging"."cond_people"',
    "case trick": "SELECT * FROM STAGING.Secret_People",
    "another role's view": "SELECT * FROM staging.secret_people",
    "table not in the catalogue": "SELECT * FROM staging.not_in_catalogue",
    "query() table function": "SELECT * FROM query('SELECT * FROM staging.secret_people')",
    "query_table()": "SELECT * FROM query_table('staging.secret_people')",
    "database listing": "SELECT * FROM duckdb_databases()",
    "information_schema": "SELECT * FROM information_schema.tables",
    "system catalog": "SELECT * FROM system.main.duckdb_tables",
    "show all tables": "SHOW ALL TABLES",
    "explain": "EXPLAIN SELECT 1",
    "call": "CALL pragma_version()",
    "use": "USE memory",
    "not sql": "SELEC 1",
    "CTE name shadowing a system view": "SELECT * FROM (WITH duckdb_tables AS (SELECT 1) SELECT 1), duckdb_tables",
    "CTE named like a view, read qualified": "WITH secret_people AS (SELECT 1) SELECT * FROM staging.secret_people",
}


def test_attack_corpus_is_refused_clearly_leaks_nothing_and_is_audited(hub):
    for name, sql in ATTACKS.items():
        outcome = run_query(OTHER, sql)
        assert not outcome.allowed, name
        assert outcome.table is None and outcome.reason, name
        assert "wh_" not in outcome.reason and "root:" not in outcome.reason, (name, outcome.reason)
    with session_scope() as session:
        entries = catalog_grants.list_audit(session, limit=1000)
    assert len(entries) == len(ATTACKS)
    assert {e.sql_text for e in entries} == set(ATTACKS.values())
    assert all(not e.allowed and e.reason and e.role == "scjgj" and e.rows is None for e in entries)
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as warehouse:
        assert warehouse.execute("SELECT count(*) FROM staging.open_people").fetchone()[0] == 1
        tables = warehouse.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'stolen'").fetchone()[0]
        assert tables == 0


def _role_database(role: str, tmp_path):
    """The role database as the worker builds it, opened here to test DuckDB's own line of defence."""
    _role, decisions = audit.role_decisions(role)
    access = {rid: sandbox.Access(d.readable, dict(d.masked), d.reason) for rid, d in decisions.items()}
    limits = sandbox.Limits(memory_limit_mb=256, threads=1, temp_dir=str(tmp_path), max_temp_mb=64)
    return sandbox.open_role_database(
        get_settings().warehouse_path, access, marts=MART_GROUP_COLUMNS, min_group=5, key=b"k" * 32, limits=limits
    )


def test_the_alias_is_refused_even_when_guessed(hub, tmp_path):
    connection, role_views, alias = _role_database(OTHER, tmp_path)
    try:
        with pytest.raises(QueryRefused, match="only your role's views"):
            check_statement(f"SELECT * FROM {alias}.staging.secret_people", role_views)
        with pytest.raises(QueryRefused, match="query"):
            check_statement(f"SELECT * FROM query('FROM {alias}.staging.secret_people')", role_views)
    finally:
        connection.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_text('/etc/passwd')",
        "COPY (SELECT 1) TO '/tmp/leak.csv'",
        "ATTACH '/tmp/x.db' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "CREATE TABLE staging.x AS SELECT 1",
        "SELECT * FROM staging.secret_people",
    ],
)
def test_duckdb_itself_refuses_without_the_fallback_check(hub, tmp_path, sql):
    """Defence in depth: run straight in the role database, skipping check_statement."""
    connection, _views, alias = _role_database(OTHER, tmp_path)
    try:
        with pytest.raises(duckdb.Error):
            connection.execute(sql)
            if sql.startswith("CREATE TABLE staging"):  # the in-memory catalogue takes it; the warehouse must not
                connection.execute(f"CREATE TABLE {alias}.staging.x AS SELECT 1")
    finally:
        connection.close()


def test_allowed_queries_are_audited_with_rows_and_row_limit_cuts(hub, monkeypatch):
    monkeypatch.setenv("HUB_QUERY_ROW_LIMIT", "5")
    reset_settings()
    outcome = run_query(OTHER, "SELECT * FROM range(100) r")
    assert outcome.allowed and outcome.rows == 5 and outcome.truncated
    assert run_query(OTHER, "WITH x AS (SELECT * FROM staging.open_people) SELECT count(*) AS n FROM x").allowed
    assert run_query(OTHER, "DESCRIBE staging.open_people").allowed
    with session_scope() as session:
        first, *_ = session.query(QueryAudit).order_by(QueryAudit.id).all()
    assert (first.role, first.allowed, first.rows, first.truncated) == ("scjgj", True, 5, True)
    assert first.duration_ms is not None and first.asked_at.tzinfo is not None


def test_a_query_over_the_timeout_is_killed_and_audited(hub, monkeypatch):
    monkeypatch.setenv("HUB_QUERY_TIMEOUT_S", "3")
    reset_settings()
    outcome = run_query(OTHER, "SELECT count(*) FROM range(100000000) a, range(100000000) b")
    assert not outcome.allowed and outcome.status == "killed"
    assert outcome.reason.startswith("killed: wall time 3 s")
    with session_scope() as session:
        entry = catalog_grants.list_audit(session)[0]
        assert (entry.status, entry.reason) == ("killed", outcome.reason)


def test_identifiers_are_case_insensitive_for_readable_views(hub):
    assert run_query(OTHER, 'SELECT count(*) AS n FROM STAGING."Open_People"').allowed
    assert run_query(OTHER, "SELECT count(*) AS n FROM open_people").allowed  # search path: staging, mart


def _cli():
    import typer

    from warehouse.access import cli

    app = typer.Typer()
    app.command("sql")(cli.sql)
    app.command("audit")(cli.audit)
    accounts_cli.register(app)  # `hub grant` is catalog.accounts_cli's
    return app


def _signed_in(monkeypatch, user: str, department: str, role: str) -> None:
    """The CLI runs as a new account of `department` (HUB_TOKEN)."""
    from catalog import accounts

    with session_scope() as session:
        account = accounts.add_account(session, user, department=department, role=role, created_by="test")
        monkeypatch.setenv("HUB_TOKEN", accounts.issue_token(session, account))
    reset_settings()


def test_cli_grant_sql_formats_and_audit(hub, tmp_path, monkeypatch):
    import json

    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    runner, app = CliRunner(), _cli()
    _signed_in(monkeypatch, "wang", "gaj", "steward")  # the owner's steward grants
    added = runner.invoke(
        app,
        [
            "grant",
            "add",
            "--department",
            OTHER,
            "--resource",
            "cond_people",
            "--purpose",
            "核查",
            "--valid-until",
            "2099-12-31",
            "--no-pii",
        ],
    )
    assert added.exit_code == 0, added.output
    _signed_in(monkeypatch, "li", "scjgj", "analyst")  # and scjgj's analyst queries
    listed = json.loads(runner.invoke(app, ["grant", "list", "--json"]).output)
    assert [(g["department"], g["resource"], g["pii"], g["state"]) for g in listed] == [
        ("scjgj", "cond_people", False, "active")
    ]
    shown = runner.invoke(
        app, ["sql", "--as", OTHER, "-c", "SELECT gmsfhm, xm FROM staging.cond_people", "--format", "json"]
    )
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == [{"gmsfhm": masked()[0], "xm": masked()[1]}]
    assert runner.invoke(
        app, ["sql", "--as", OTHER, "-c", "SELECT rs FROM staging.open_people", "--format", "csv"]
    ).stdout.splitlines() == ['"rs"', "1"]
    target = tmp_path / "out.parquet"
    assert (
        runner.invoke(
            app,
            [
                "sql",
                "--as",
                OTHER,
                "-c",
                "SELECT * FROM mart.population_by_town_age_sex",
                "--format",
                "parquet",
                "-o",
                str(target),
            ],
        ).exit_code
        == 0
    )
    assert pq.read_table(target).to_pylist() == [{"town_name": "大良街道", "persons": 7}]
    script = tmp_path / "q.sql"
    script.write_text("SELECT 1 AS a;\nSELECT * FROM read_text('/etc/passwd');\n")
    ran = runner.invoke(app, ["sql", "--as", OTHER, "-f", str(script)])
    assert ran.exit_code == 1 and isinstance(ran.exception, (SystemExit, type(None))), ran.exception
    refused = runner.invoke(app, ["sql", "--as", OTHER, "-c", "INSTALL httpfs"])
    assert refused.exit_code == 1 and "refused" in refused.stderr
    trail = json.loads(runner.invoke(app, ["audit", "--json", "--role", "scjgj"]).output)
    assert len(trail) == 6 and [e["allowed"] for e in trail] == [False, False, True, True, True, True]
    assert trail[0]["sql"] == "INSTALL httpfs" and trail[0]["reason"]


def test_a_deeply_nested_statement_is_refused_not_crashed(hub):
    deep = "SELECT " + "(" * 3000 + "1" + ")" * 3000
    outcome = run_query(OTHER, deep)
    assert not outcome.allowed and outcome.reason
    with session_scope() as session:
        assert len(catalog_grants.list_audit(session)) == 1


def test_markup_in_sql_and_values_shows_as_typed_in_table_output_and_audit(hub, monkeypatch):
    from typer.testing import CliRunner

    _signed_in(monkeypatch, "markup-admin", OTHER, "admin")
    runner, app = CliRunner(), _cli()
    markup = "SELECT '[/bold]' AS x, '[conceal]hidden[/conceal]' AS \"[red]y\", '[link=http://e.vil]z[/link]' AS z"
    shown = runner.invoke(app, ["sql", "--as", OTHER, "-c", markup])
    assert shown.exit_code == 0, shown.output
    assert "[/bold]" in shown.stdout and "[conceal]hidden[/conceal]" in shown.stdout and "[red]y" in shown.stdout
    assert "[link=http://e.vil]z[/link]" in shown.stdout
    trail = runner.invoke(app, ["audit", "--limit", "100"], env={"COLUMNS": "1000"})
    assert trail.exit_code == 0, trail.output
    assert "'[/bold]'" in trail.stdout and "[link=http://e.vil]" in trail.stdout


def test_a_script_that_does_not_parse_is_refused_whole_and_audited(hub, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    _signed_in(monkeypatch, "script-analyst", OTHER, "analyst")
    script = tmp_path / "bad.sql"
    script.write_text("SELECT 1;\nSELEC oops;\n", encoding="utf-8")
    ran = CliRunner().invoke(_cli(), ["sql", "-f", str(script)])
    assert ran.exit_code == 1 and "refused" in ran.stderr
    with session_scope() as session:
        (entry,) = catalog_grants.list_audit(session)
    assert (entry.status, entry.role, entry.sql_text) == ("refused", "scjgj", script.read_text(encoding="utf-8"))
    assert "bad.sql" in entry.reason


def test_grant_add_refuses_an_end_date_in_the_past(hub, monkeypatch):
    from typer.testing import CliRunner

    _signed_in(monkeypatch, "owner-steward", OWNER, "steward")
    added = CliRunner().invoke(
        _cli(),
        [
            "grant",
            "add",
            "--department",
            OTHER,
            "--resource",
            "cond_people",
            "--purpose",
            "核查",
            "--valid-until",
            "2020-01-01",
        ],
    )
    assert added.exit_code == 1 and "2020-01-01" in added.output
    with session_scope() as session:
        assert catalog_grants.list_grants(session) == []


def test_a_row_left_started_reads_as_interrupted_after_the_wall_time(hub):
    with session_scope() as session:
        entry = catalog_grants.start_query(
            session,
            role="scjgj",
            sql_text="SELECT 1",
            user_name="u",
            user_role="analyst",
            asked_at=NOW - timedelta(hours=1),
        )
        assert catalog_grants.shown_status(entry, NOW, 90) == "interrupted"
        assert catalog_grants.shown_status(entry, NOW - timedelta(hours=1), 90) == "started"


def test_the_audit_names_the_grant_that_opened_the_resource(hub):
    _grant(False, timedelta(days=30))
    outcome = run_query(OTHER, "SELECT count(*) AS n FROM staging.cond_people JOIN staging.open_people USING (gmsfhm)")
    assert outcome.allowed and outcome.table.to_pylist() == [{"n": 1}]  # pseudonyms join across resources
    with session_scope() as session:
        (entry,) = catalog_grants.list_audit(session)
        grant_id = catalog_grants.list_grants(session)[0].id
    assert (entry.status, entry.grant_ids, entry.user_role) == ("ok", [grant_id], "analyst")
    assert entry.user_name and entry.finished_at is not None
