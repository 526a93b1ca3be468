"""The statement check on DuckDB's parse tree: ordinary analyst SQL passes, and names what it reads."""

from __future__ import annotations

import pytest

from warehouse.access.statement import QueryRefused, RoleViews, check_statement

VIEWS = RoleViews(
    views={("staging", "people"), ("staging", "firms"), ("mart", "population_by_town_age_sex")},
    refused={"secret": "不予共享: only the owner department reads it"},
)

ALLOWED = {
    "plain": (
        "SELECT xm, count(*) AS n FROM staging.people GROUP BY ALL ORDER BY n DESC LIMIT 5",
        {("staging", "people")},
    ),
    "search path": ("FROM people", {("staging", "people")}),
    "join and set op": (
        "SELECT gmsfhm FROM staging.people p JOIN staging.firms f ON p.dwdm = f.tyshxydm "
        "UNION SELECT gmsfhm FROM people",
        {("staging", "people"), ("staging", "firms")},
    ),
    "window, filter, qualify": (
        "SELECT town, row_number() OVER (PARTITION BY town ORDER BY nl) AS r, "
        "count(*) FILTER (WHERE nl > 60) OVER () AS old FROM people QUALIFY r <= 3",
        {("staging", "people")},
    ),
    "cte chain": (
        "WITH a AS (SELECT * FROM people), b AS (SELECT town, count(*) AS n FROM a GROUP BY town) "
        "SELECT * FROM b WHERE n > (SELECT avg(n) FROM b)",
        {("staging", "people")},
    ),
    "recursive cte": (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT sum(n) FROM r",
        set(),
    ),
    "expressions": (
        "SELECT CASE WHEN nl BETWEEN 0 AND 17 THEN 'minor' ELSE 'adult' END, nl::VARCHAR, "
        "TRY_CAST(csrq AS DATE), xm LIKE '张%', xm IN ('a', 'b'), coalesce(xm, '?'), "
        "list_transform([1, 2], x -> x * 2), {'a': 1}.a, [1, 2][1], strftime(now(), '%Y'), "
        "regexp_extract(jzdz, '(大良|容桂)'), COLUMNS('x.*') FROM people",
        {("staging", "people")},
    ),
    "table functions": ("SELECT * FROM range(10) r(i), generate_series(1, 3) g(j), unnest([1, 2]) u(k)", set()),
    "values": ("SELECT * FROM (VALUES (1, 'a'), (2, 'b')) t(n, s)", set()),
    "describe": ("DESCRIBE staging.people", {("staging", "people")}),
    "summarize": ("SUMMARIZE SELECT nl FROM people", {("staging", "people")}),
    "mart": ("SELECT * FROM mart.population_by_town_age_sex", {("mart", "population_by_town_age_sex")}),
    "exists subquery": ("SELECT 1 WHERE EXISTS (SELECT 1 FROM firms)", {("staging", "firms")}),
}


@pytest.mark.parametrize("name", list(ALLOWED))
def test_ordinary_analyst_sql_passes_and_names_the_views_it_reads(name):
    sql, reads = ALLOWED[name]
    assert check_statement(sql, VIEWS).views == frozenset(reads)


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("WITH duckdb_databases AS (SELECT * FROM duckdb_databases) SELECT * FROM duckdb_databases", "system name"),
        ("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", "not one of your views"),  # body first
        ("SELECT pg_get_viewdef(o) FROM range(10) t(o)", "pg_get_viewdef"),
        ("SELECT current_setting('memory_limit')", "current_setting"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
        ("SELECT * FROM staging.secret", "不予共享"),
        ("SELECT hub_pseudonym('id_number', '1')", "hub_pseudonym"),
        ("SELECT main.upper('x')", "qualified"),
        ("SELECT $1", "parameter"),
        ("UPDATE EXTENSIONS", "not allowed"),
        ("SHOW TABLES", "SHOW"),
        ("SELECT 1; SELECT 2", "one statement"),
    ],
)
def test_refusals_name_what_is_not_allowed(sql, says):
    with pytest.raises(QueryRefused, match=says):
        check_statement(sql, VIEWS)
