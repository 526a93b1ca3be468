"""The attack corpus (tests/security/corpus/*.yaml) through the real `hub sql` path, sandbox child included.

One small seeded warehouse for the module: people with valid resident IDs and mobile numbers in a
无条件共享 register and a 有条件共享 one (the attacker, 民政局, holds a grant without PII), companies
with credit codes and phones, a 不予共享 resource, raw/meta tables and a mart with groups under k.
Every case must be refused or harmless; no output or message may hold a clear ID, phone or credit
code of the seed, nor anything ID- or mobile-shaped; every attempt leaves exactly one audit row.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from security_kit import NOW, catalogue, seed_warehouse  # tests/security is on sys.path under pytest

from catalog import grants as catalog_grants
from catalog.db import session_scope
from catalog.store import load_catalogue_into
from hub import settings as hub_settings
from warehouse.access.audit import run_query

CORPUS = Path(__file__).parent / "corpus"
ATTACKER = "mzj"
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
            load_catalogue_into(session, catalogue(), now=NOW)
            catalog_grants.add_grant(
                session,
                department="mzj",
                resource="household_population",
                purpose="低保核查",
                approved_by="公安分局 王科长",
                valid_until=NOW + timedelta(days=30),
            )
        var.mkdir(parents=True, exist_ok=True)
        clear = seed_warehouse(hub_settings.get_settings().warehouse_path)
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
