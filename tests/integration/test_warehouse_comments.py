"""The warehouse explains itself: staging tables and marts carry the catalogue's names as comments
(what duckdb_columns() and duckdb_views() show), and utility months that are not whole say so."""

from __future__ import annotations

from pathlib import Path

import duckdb

from catalog.spec import load_catalogue
from hub.settings import get_settings
from warehouse import marts, store

SEED = Path(__file__).resolve().parents[2] / "catalog" / "seed"
UTILITIES = ("electricity_readings", "water_readings", "gas_readings")


def test_staging_columns_and_marts_carry_catalogue_comments_and_partial_months_are_marked(hub_env):
    catalogue = load_catalogue(SEED)
    resources = {r.id: r for r in catalogue.resources}
    with store.writer() as connection:
        store.ensure_schemas(connection)
        for rid in UTILITIES:
            store.ensure_staging_table(connection, resources[rid])
        # Ten meters read on the 1st and 15th of Sep-Nov 2026, then once more on 1 Dec: Sep (first) and
        # Dec (latest) are partial months, Oct and Nov whole.
        connection.execute(
            "INSERT INTO staging.electricity_readings (meter_id, address_code, reading_time, cumulative_value, unit) "
            "SELECT printf('%012d', m), '440606101001', d, 100 * m + epoch(d) / 86400, 'kWh' "
            "FROM range(10) a(m), (SELECT unnest([TIMESTAMPTZ '2026-09-01 02:00:00+00', '2026-09-15 02:00:00+00', "
            "'2026-10-01 02:00:00+00', '2026-10-15 02:00:00+00', '2026-11-01 02:00:00+00', "
            "'2026-11-15 02:00:00+00', '2026-12-01 02:00:00+00']) AS d)"
        )
    assert "mart.utility_use_by_town_and_month" in marts.refresh_marts(catalogue)
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as connection:
        comments = dict(
            connection.execute(
                "SELECT column_name, comment FROM duckdb_columns() "
                "WHERE schema_name = 'staging' AND table_name = 'electricity_readings'"
            ).fetchall()
        )
        assert comments["meter_id"] == "表计编号" and comments["_event_time"].startswith("事件时间")
        (table_comment,) = connection.execute(
            "SELECT comment FROM duckdb_tables() WHERE schema_name = 'staging' AND table_name = 'electricity_readings'"
        ).fetchone()
        assert table_comment.startswith(resources["electricity_readings"].name)
        (view_comment,) = connection.execute(
            "SELECT comment FROM duckdb_views() WHERE schema_name = 'mart' AND view_name = 'utility_use_by_town_and_month'"
        ).fetchone()
        assert view_comment.startswith("各镇街水电气月用量")
        months = connection.execute(
            "SELECT month, complete FROM mart.utility_use_by_town_and_month WHERE utility = 'electricity' ORDER BY month"
        ).fetchall()
    assert months == [("2026-09", False), ("2026-10", True), ("2026-11", True), ("2026-12", False)]
