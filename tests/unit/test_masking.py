"""Masks: SQL and Python twins agree; pseudonyms are keyed, stable and join; derived items follow the ID."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb
import pytest

from catalog.spec import Item as SeedItem
from warehouse.access.masking import (
    PSEUDONYM_FUNCTION,
    mask_expression,
    mask_value,
    masked_columns,
    pseudonym,
    pseudonym_udf,
)

KEY = b"a-test-key-of-thirty-two-chars!!"
CASES = [
    ("name", "张三", "张*"),
    ("name", "张三丰", "张**"),
    ("name", "张", "张*"),
    ("address", "广东省佛山市顺德区大良街道", "广东省佛山市****"),
    ("birth_date", "1990-01-01", "1990"),
    ("age", "36", "30-39"),
    ("age", "80", "80-89"),
]
IDENTIFIERS = [
    ("id_number", "44060619900101123X"),
    ("phone", "13812341234"),
    ("credit_code", "91440606MA4X1234AB"),
    ("credit_code_person", "92440606MA4X1234AB"),
]


def _connection() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.create_function(PSEUDONYM_FUNCTION, pseudonym_udf(KEY), ["VARCHAR", "VARCHAR"], "VARCHAR", type="arrow")
    connection.execute("CREATE TABLE t (v VARCHAR)")
    return connection


@pytest.mark.parametrize(("kind", "value", "expected"), CASES)
def test_sql_and_python_masks_agree(kind, value, expected):
    connection = _connection()
    connection.execute("INSERT INTO t VALUES (?)", [value])
    assert connection.execute(f"SELECT {mask_expression('v', kind)} FROM t").fetchone()[0] == expected
    assert mask_value(value, kind) == expected


@pytest.mark.parametrize(("kind", "value"), IDENTIFIERS)
def test_identifiers_become_keyed_pseudonyms_in_sql_and_python_alike(kind, value):
    connection = _connection()
    connection.execute("INSERT INTO t VALUES (?)", [value])
    shown = connection.execute(f"SELECT {mask_expression('v', kind)} FROM t").fetchone()[0]
    assert shown == pseudonym(value, kind, KEY) == mask_value(value, kind, KEY)
    assert re.fullmatch(r"(pid|tel|org)_[0-9a-f]{20}", shown)
    assert not any(part in shown for part in (value[:6], value[-4:]))  # nothing of the number is kept
    assert pseudonym(value, kind, b"another-key-of-thirty-two-chars!") != shown  # without the key, no lookup
    assert mask_value(value, kind) == "*" * len(value)  # no key, no pseudonym: all hidden


def test_pseudonyms_are_stable_across_spellings_and_distinct_between_numbers():
    assert pseudonym("44060619900101123x", "id_number", KEY) == pseudonym(" 44060619900101123X", "id_number", KEY)
    assert pseudonym("+86 138-1234-1234", "phone", KEY) == pseudonym("13812341234", "phone", KEY)
    assert pseudonym("44060619900101123X", "id_number", KEY) != pseudonym("44060619900101124X", "id_number", KEY)
    # The namespace is in the hash: a phone and an ID with the same digits do not meet.
    assert pseudonym("13812341234", "phone", KEY)[4:] != pseudonym("13812341234", "id_number", KEY)[4:]


def test_pseudonyms_join_and_count_distinct_like_the_clear_values():
    connection = _connection()
    connection.execute("CREATE TABLE a (v VARCHAR); CREATE TABLE b (v VARCHAR)")
    connection.execute("INSERT INTO a VALUES ('44060619900101123X'), ('44060619900101123X'), ('440606199002021234')")
    connection.execute("INSERT INTO b VALUES ('44060619900101123X'), ('110101199003074512')")
    masked = mask_expression("v", "id_number")
    joined = connection.execute(
        f"SELECT count(*) FROM (SELECT {masked} FROM a) JOIN (SELECT {masked} FROM b) USING (v)"
    ).fetchone()[0]
    distinct = connection.execute(f"SELECT count(DISTINCT v) FROM (SELECT {masked} FROM a)").fetchone()[0]
    assert (joined, distinct) == (2, 2)


def test_null_stays_null_and_unknown_kinds_hide_the_value():
    connection = _connection()
    connection.execute("CREATE TABLE n (v VARCHAR, m BIGINT)")
    connection.execute("INSERT INTO n VALUES (NULL, 13812341234)")
    assert connection.execute(f"SELECT {mask_expression('v', 'phone')} FROM n").fetchone()[0] is None
    assert connection.execute(f"SELECT {mask_expression('m', 'phone')} FROM n").fetchone()[0] == pseudonym(
        "13812341234", "phone", KEY
    )
    assert connection.execute(f"SELECT {mask_expression('v', 'biometric')} FROM n").fetchone()[0] is None
    assert connection.execute(f"SELECT {mask_expression('m', 'hidden')} FROM n").fetchone()[0] is None
    assert mask_value("x", "biometric") is None


def test_mask_keeps_the_column_name_even_when_it_needs_quoting():
    connection = _connection()
    connection.execute('CREATE TABLE q ("手机 号" VARCHAR)')
    connection.execute("INSERT INTO q VALUES ('13812341234')")
    row = connection.execute(f"SELECT {mask_expression('手机 号', 'phone')} FROM q").fetchdf()
    assert list(row.columns) == ["手机 号"]


@dataclass
class Resource:
    items: list = field(default_factory=list)


def test_masked_columns_follow_the_catalogue_pii_validators_and_derivations():
    items = [
        SeedItem(name="gmsfhm", label="公民身份号码", type="C", pii="id_number", rules={"validator": "resident_id"}),
        SeedItem(name="csrq", label="出生日期", type="D", rules={"derived_from": "gmsfhm"}),
        SeedItem(name="xb", label="性别", type="C", rules={"values": ["1", "2"], "derived_from": "gmsfhm"}),
        SeedItem(name="nl", label="年龄", type="I", rules={"derived_from": "gmsfhm"}),
        SeedItem(name="sjhm", label="手机号码", type="C", rules={"validator": "mobile"}),  # pii forgotten
        SeedItem(name="dwdm", label="单位代码", type="C", rules={"validator": "uscc"}),
        SeedItem(name="mqxm", label="母亲姓名", type="C", pii="name"),
        SeedItem(name="cstz", label="出生体重", type="I"),
    ]
    assert masked_columns(Resource(items)) == {
        "gmsfhm": "id_number",
        "csrq": "birth_date",
        "xb": "hidden",
        "nl": "age",
        "sjhm": "phone",
        "dwdm": "credit_code",
        "mqxm": "name",
    }
    # An item derived from something that is not masked stays as it is.
    plain = [
        SeedItem(name="bh", label="编号", type="C"),
        SeedItem(name="rq", label="日期", type="D", rules={"derived_from": "bh"}),
    ]
    assert masked_columns(Resource(plain)) == {}
