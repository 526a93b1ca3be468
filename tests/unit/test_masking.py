"""PII masks: the SQL masks (run in DuckDB) and their Python twins agree, and keep the stated shape."""
from __future__ import annotations

import duckdb
import pytest

from warehouse.access.masking import mask_expression, mask_value

CASES = [
    ("id_number", "44060619900101123X", "440606********123X"),
    ("id_number", "440606900101123", "440606*****1123"),  # 15-digit old-style ID
    ("name", "张三", "张*"),
    ("name", "张三丰", "张**"),
    ("name", "张", "张*"),
    ("phone", "13812341234", "138****1234"),
    ("phone", "1234", "****"),  # too short to keep anything
    ("address", "广东省佛山市顺德区大良街道", "广东省佛山市****"),
    ("credit_code_person", "92440606MA4X1234AB", "92440606******34AB"),
]


@pytest.mark.parametrize(("kind", "value", "expected"), CASES)
def test_sql_and_python_masks_agree(kind, value, expected):
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t (v VARCHAR)")
    connection.execute("INSERT INTO t VALUES (?)", [value])
    assert connection.execute(f"SELECT {mask_expression('v', kind)} FROM t").fetchone()[0] == expected
    assert mask_value(value, kind) == expected


def test_null_stays_null_and_unknown_kinds_hide_the_value():
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t (v VARCHAR, n BIGINT)")
    connection.execute("INSERT INTO t VALUES (NULL, 13812341234)")
    assert connection.execute(f"SELECT {mask_expression('v', 'phone')} FROM t").fetchone()[0] is None
    assert connection.execute(f"SELECT {mask_expression('n', 'phone')} FROM t").fetchone()[0] == "138****1234"
    assert connection.execute(f"SELECT {mask_expression('v', 'biometric')} FROM t").fetchone()[0] is None
    assert mask_value("x", "biometric") is None


def test_mask_keeps_the_column_name_even_when_it_needs_quoting():
    connection = duckdb.connect()
    connection.execute('CREATE TABLE t ("手机 号" VARCHAR)')
    connection.execute("INSERT INTO t VALUES ('13812341234')")
    row = connection.execute(f"SELECT {mask_expression('手机 号', 'phone')} FROM t").fetchdf()
    assert list(row.columns) == ["手机 号"]
