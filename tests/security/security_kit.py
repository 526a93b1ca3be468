"""The small seeded hub the security tests attack: a catalogue of three departments and four resources,
and a warehouse of people and companies with valid identifiers (shared by the modules of tests/security).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb

from catalog.spec import Catalogue, Department, Item, Resource
from synthetic import codes

NOW = datetime.now(timezone.utc)


def items(*specs) -> list[Item]:
    return [
        Item(name=n, label=label, type=t, length=length, pii=pii, rules=rules or {}, key=key, nullable=not key)
        for n, label, t, length, pii, rules, key in specs
    ]


PEOPLE = items(
    ("gmsfhm", "公民身份号码", "C", 18, "id_number", {"validator": "resident_id"}, True),
    ("xm", "姓名", "C", 50, "name", None, False),
    ("xb", "性别", "C", 1, "none", {"values": ["1", "2"], "derived_from": "gmsfhm"}, False),
    ("csrq", "出生日期", "D", None, "none", {"derived_from": "gmsfhm"}, False),
    ("nl", "年龄", "I", None, "none", {"derived_from": "gmsfhm"}, False),
    ("lxdh", "联系电话", "C", 20, "phone", {"validator": "mobile"}, False),
    ("jzdz", "居住地址", "C", 200, "address", None, False),
    ("town", "所属镇街", "C", 20, "none", None, False),
)
COMPANIES = items(
    ("tyshxydm", "统一社会信用代码", "C", 18, "credit_code", {"validator": "uscc"}, True),
    ("qymc", "企业名称", "C", 200, "none", None, False),
    ("qylxdh", "企业联系电话", "C", 20, "phone", None, False),
)


def catalogue() -> Catalogue:
    departments = [
        Department(id="gaj", name="佛山市公安局顺德分局", code="11440606006424189J", division="440606"),
        Department(id="scjgj", name="佛山市顺德区市场监督管理局", code="11440606001996620F", division="440606"),
        Department(id="mzj", name="佛山市顺德区民政局", code="11440606007084598K", division="440606"),
    ]
    spec = [
        ("resident_register", "gaj", "无条件共享", PEOPLE),
        ("household_population", "gaj", "有条件共享", PEOPLE),
        ("criminal_records", "gaj", "不予共享", PEOPLE),
        ("market_entities", "scjgj", "无条件共享", COMPANIES),
    ]
    resources = [
        Resource(
            id=rid,
            code=f"10100{n}/00000{n}",
            name=rid,
            provider=owner,
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
        for n, (rid, owner, sharing, items) in enumerate(spec, 1)
    ]
    return Catalogue(departments=departments, resources=resources)


def make_people(rng: random.Random, count: int) -> list[tuple]:
    rows = []
    for n in range(count):
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(25000))
        person_id = codes.resident_id(rng.choice(("440606", "440681", "430582")), born, rng.randrange(1000))
        sex = "1" if int(person_id[16]) % 2 else "2"
        town = "勒流街道" if n < 3 else rng.choice(("大良街道", "杏坛镇"))  # 勒流: a group under k
        rows.append(
            (
                person_id,
                rng.choice("张王李陈") + "小明",
                sex,
                born,
                2026 - born.year,
                codes.mobile(rng),
                f"广东省佛山市顺德区{town}{n}号",
                town,
            )
        )
    return rows


def seed_warehouse(path: Path) -> set[str]:
    """The warehouse; returns every clear identifier in it (none may reach the attacker)."""
    rng = random.Random(15)
    people = make_people(rng, 60)
    companies = [
        (codes.uscc(rng.choice(("91", "92")), "440606", rng), f"公司{n}", codes.mobile(rng)) for n in range(20)
    ]
    connection = duckdb.connect(str(path))
    for schema in ("staging", "mart", "meta", "raw"):
        connection.execute(f"CREATE SCHEMA {schema}")
    for table in ("resident_register", "household_population", "criminal_records"):
        connection.execute(
            f"CREATE TABLE staging.{table} (gmsfhm VARCHAR, xm VARCHAR, xb VARCHAR, csrq DATE, "
            "nl BIGINT, lxdh VARCHAR, jzdz VARCHAR, town VARCHAR)"
        )
        connection.executemany(f"INSERT INTO staging.{table} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", people)
    connection.execute("CREATE TABLE staging.market_entities (tyshxydm VARCHAR, qymc VARCHAR, qylxdh VARCHAR)")
    connection.executemany("INSERT INTO staging.market_entities VALUES (?, ?, ?)", companies)
    connection.execute("CREATE TABLE staging.not_in_catalogue AS SELECT * FROM staging.resident_register")
    connection.execute("CREATE TABLE raw.resident_register AS SELECT * FROM staging.resident_register")
    connection.execute("CREATE TABLE meta.loads AS SELECT 'secret path /srv/lake' AS path")
    connection.execute(
        "CREATE VIEW mart.population_by_town_age_sex AS SELECT town AS town_name, xb AS sex, "
        "count(DISTINCT gmsfhm) AS persons FROM staging.resident_register GROUP BY ALL"
    )
    connection.execute(
        "CREATE VIEW mart.people_by_town AS SELECT town, count(*) AS n FROM staging.resident_register GROUP BY ALL"
    )
    small = connection.execute("SELECT count(*) FROM mart.population_by_town_age_sex WHERE persons < 5").fetchone()[0]
    big = connection.execute("SELECT count(*) FROM mart.population_by_town_age_sex WHERE persons >= 5").fetchone()[0]
    connection.close()
    assert big > 0 and small > 0, "the seed must give the mart groups over and under k"
    return {p[0] for p in people} | {p[5] for p in people} | {c[0] for c in companies} | {c[2] for c in companies}
