"""The attack corpus (tests/security/corpus/*.yaml) through the real `hub sql` path, sandbox child included.

One small seeded warehouse for the module: people with valid resident IDs and mobile numbers in a
无条件共享 register and a 有条件共享 one (the attacker, 民政局, holds a grant without PII), companies
with credit codes and phones, a 不予共享 resource, raw/meta tables and a mart with groups under k.
Every case must be refused or harmless; no output or message may hold a clear ID, phone or credit
code of the seed, nor anything ID- or mobile-shaped; every attempt leaves exactly one audit row.
"""
from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
import yaml

from catalog import grants as catalog_grants
from catalog.db import session_scope
from catalog.spec import Catalogue, Department, Item, Resource
from catalog.store import load_catalogue_into
from connectors.synthetic import codes
from hub import settings as hub_settings
from warehouse.access.audit import run_query

CORPUS = Path(__file__).parent / "corpus"
ATTACKER = "mzj"
NOW = datetime.now(timezone.utc)
ID_SHAPE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
ALIAS_SHAPE = re.compile(r"wh_[0-9a-f]{24}")
MOBILE_SHAPE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
OUTCOMES = {"refused": {"refused"}, "stopped": {"killed", "refused"}, "harmless": {"ok", "refused", "killed"}}


def load_cases() -> list[dict]:
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            cases.append({**case, "category": path.stem})
    return cases


CASES = load_cases()


def _items(*specs) -> list[Item]:
    return [Item(name=n, label=label, type=t, length=length, pii=pii, rules=rules or {}, key=key,
                 nullable=not key) for n, label, t, length, pii, rules, key in specs]


PEOPLE = _items(
    ("gmsfhm", "公民身份号码", "C", 18, "id_number", {"validator": "resident_id"}, True),
    ("xm", "姓名", "C", 50, "name", None, False),
    ("xb", "性别", "C", 1, "none", {"values": ["1", "2"], "derived_from": "gmsfhm"}, False),
    ("csrq", "出生日期", "D", None, "none", {"derived_from": "gmsfhm"}, False),
    ("nl", "年龄", "I", None, "none", {"derived_from": "gmsfhm"}, False),
    ("lxdh", "联系电话", "C", 20, "phone", {"validator": "mobile"}, False),
    ("jzdz", "居住地址", "C", 200, "address", None, False),
    ("town", "所属镇街", "C", 20, "none", None, False),
)
COMPANIES = _items(
    ("tyshxydm", "统一社会信用代码", "C", 18, "credit_code", {"validator": "uscc"}, True),
    ("qymc", "企业名称", "C", 200, "none", None, False),
    ("qylxdh", "企业联系电话", "C", 20, "phone", None, False),
)


def _catalogue() -> Catalogue:
    departments = [
        Department(id="gaj", name="佛山市公安局顺德分局", code="11440606006424189J", division="440606"),
        Department(id="scjgj", name="佛山市顺德区市场监督管理局", code="11440606001996620F", division="440606"),
        Department(id="mzj", name="佛山市顺德区民政局", code="11440606007084598K", division="440606"),
    ]
    spec = [("resident_register", "gaj", "无条件共享", PEOPLE), ("household_population", "gaj", "有条件共享", PEOPLE),
            ("criminal_records", "gaj", "不予共享", PEOPLE), ("market_entities", "scjgj", "无条件共享", COMPANIES)]
    resources = [
        Resource(id=rid, code=f"10100{n}/00000{n}", name=rid, provider=owner, classification="基础/人口",
                 abstract="测试", format="数据库", domain="population", update_cycle="每日", sharing_type=sharing,
                 open_type="不开放", release_date=NOW.date(), items=items)
        for n, (rid, owner, sharing, items) in enumerate(spec, 1)
    ]
    return Catalogue(departments=departments, resources=resources)


def _people(rng: random.Random, count: int) -> list[tuple]:
    rows = []
    for n in range(count):
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(25000))
        person_id = codes.resident_id(rng.choice(("440606", "440681", "430582")), born, rng.randrange(1000))
        sex = "1" if int(person_id[16]) % 2 else "2"
        town = "勒流街道" if n < 3 else rng.choice(("大良街道", "杏坛镇"))  # 勒流: a group under k
        rows.append((person_id, rng.choice("张王李陈") + "小明", sex, born, 2026 - born.year,
                     codes.mobile(rng), f"广东省佛山市顺德区{town}{n}号", town))
    return rows


def _seed_warehouse(path: Path) -> set[str]:
    """The warehouse; returns every clear identifier in it (none may reach the attacker)."""
    rng = random.Random(15)
    people = _people(rng, 60)
    companies = [(codes.uscc(rng.choice(("91", "92")), "440606", rng), f"公司{n}", codes.mobile(rng)) for n in range(20)]
    connection = duckdb.connect(str(path))
    for schema in ("staging", "mart", "meta", "raw"):
        connection.execute(f"CREATE SCHEMA {schema}")
    for table in ("resident_register", "household_population", "criminal_records"):
        connection.execute(f"CREATE TABLE staging.{table} (gmsfhm VARCHAR, xm VARCHAR, xb VARCHAR, csrq DATE, "
                           "nl BIGINT, lxdh VARCHAR, jzdz VARCHAR, town VARCHAR)")
        connection.executemany(f"INSERT INTO staging.{table} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", people)
    connection.execute("CREATE TABLE staging.market_entities (tyshxydm VARCHAR, qymc VARCHAR, qylxdh VARCHAR)")
    connection.executemany("INSERT INTO staging.market_entities VALUES (?, ?, ?)", companies)
    connection.execute("CREATE TABLE staging.not_in_catalogue AS SELECT * FROM staging.resident_register")
    connection.execute("CREATE TABLE raw.resident_register AS SELECT * FROM staging.resident_register")
    connection.execute("CREATE TABLE meta.loads AS SELECT 'secret path /srv/lake' AS path")
    connection.execute("CREATE VIEW mart.population_by_town_age_sex AS SELECT town AS town_name, xb AS sex, "
                       "count(DISTINCT gmsfhm) AS persons FROM staging.resident_register GROUP BY ALL")
    connection.execute("CREATE VIEW mart.people_by_town AS SELECT town, count(*) AS n FROM staging.resident_register "
                       "GROUP BY ALL")
    small = connection.execute("SELECT count(*) FROM mart.population_by_town_age_sex WHERE persons < 5").fetchone()[0]
    big = connection.execute("SELECT count(*) FROM mart.population_by_town_age_sex WHERE persons >= 5").fetchone()[0]
    connection.close()
    assert big > 0 and small > 0, "the seed must give the mart groups over and under k"
    return {p[0] for p in people} | {p[5] for p in people} | {c[0] for c in companies} | {c[2] for c in companies}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    var = tmp_path_factory.mktemp("security") / "var"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUB_VAR_DIR", str(var))
        patch.delenv("HUB_CATALOG_URL", raising=False)
        patch.setenv("HUB_QUERY_TIMEOUT_S", "10")
        patch.setenv("HUB_QUERY_CPU_S", "4")
        hub_settings.reset_settings()
        with session_scope() as session:
            load_catalogue_into(session, _catalogue(), now=NOW)
            catalog_grants.add_grant(session, department="mzj", resource="household_population", purpose="低保核查",
                                     approved_by="公安分局 王科长", valid_until=NOW + timedelta(days=30))
        var.mkdir(parents=True, exist_ok=True)
        clear = _seed_warehouse(hub_settings.get_settings().warehouse_path)
        yield {"var": var, "clear": clear, "outcomes": {}}
        hub_settings.reset_settings()


def _texts(outcome) -> list[str]:
    texts = [outcome.reason or ""]
    if outcome.table is not None:
        texts += [str(name) for name in outcome.table.column_names]
        texts += [str(value) for column in outcome.table.columns for value in column.to_pylist()]
    return texts


@pytest.mark.parametrize("case", CASES, ids=[f"{c['category']}:{c['id']}" for c in CASES])
def test_attack_is_refused_or_harmless_and_leaks_nothing(seeded, case):
    outcome = run_query(case.get("role", ATTACKER), case["sql"])
    seeded["outcomes"][case["id"]] = outcome
    assert outcome.status in OUTCOMES[case["expect"]], (outcome.status, outcome.reason)
    assert outcome.status != "crashed" and (outcome.allowed or outcome.reason)
    for text in _texts(outcome):
        assert not ID_SHAPE.search(text) and not MOBILE_SHAPE.search(text), text[:200]
        assert not any(value in text for value in seeded["clear"]), text[:200]
        typed_aliases = set(ALIAS_SHAPE.findall(case["sql"]))  # the analyst's own guess may be echoed back
        assert set(ALIAS_SHAPE.findall(text)) <= typed_aliases, text[:200]
        assert str(seeded["var"]) not in text and "root:" not in text, text[:200]
    if outcome.status == "ok" and "value" in case:
        assert outcome.table.num_rows and outcome.table.columns[0][0].as_py() == case["value"]
    if outcome.status == "ok" and "rows" in case:
        assert outcome.table.num_rows == case["rows"]
    if case["category"] == "exhaustion" and outcome.status == "killed":
        assert outcome.reason.startswith("killed: "), outcome.reason


def test_every_attempt_left_exactly_one_finished_audit_row(seeded):
    if len(seeded["outcomes"]) != len(CASES):
        pytest.skip("runs after the whole corpus (run the module, not a single case)")
    with session_scope() as session:
        entries = catalog_grants.list_audit(session, limit=10_000)
    assert len(entries) == len(CASES)
    assert sorted(e.sql_text for e in entries) == sorted(c["sql"].replace("\x00", "\\x00") for c in CASES)
    assert all(e.role == ATTACKER and e.status != "started" and e.finished_at is not None for e in entries)
    by_status = {status: sum(e.status == status for e in entries) for status in ("ok", "refused", "killed")}
    assert by_status["refused"] >= 140 and by_status["killed"] >= 5, by_status


def test_the_corpus_is_large_and_covers_every_category():
    categories = {c["category"] for c in CASES}
    assert len(CASES) >= 120 and categories == {"file_access", "metadata", "rights", "masking", "exhaustion", "audit"}
    assert len({c["id"] for c in CASES}) == len(CASES)
