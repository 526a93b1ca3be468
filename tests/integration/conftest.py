"""Integration fixtures for the catalogue store: a real PostgreSQL next to SQLite."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest


def _load_pg_helper():
    # By path, so this works whatever import mode or rootdir pytest runs with.
    path = Path(__file__).resolve().parents[1] / "pg.py"
    spec = importlib.util.spec_from_file_location("hub_tests_pg", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


pg = _load_pg_helper()


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server for the session (started here, or HUB_TEST_PG_URL's); skips with the reason."""
    server, reason = pg.server_or_reason()
    if server is None:
        pytest.skip(reason)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server) -> str:
    """A postgresql+psycopg:// URL of an empty database on the session's server."""
    return pg_server.create_database("hub_session")


@pytest.fixture(params=["sqlite", "postgresql"])
def new_catalog_url(request, tmp_path) -> Callable[[], str]:
    """A factory of empty catalogue databases on the parametrized backend (one per call)."""
    if request.param == "sqlite":
        numbers = itertools.count()
        return lambda: f"sqlite:///{tmp_path}/catalog{next(numbers)}.db"
    return request.getfixturevalue("pg_server").create_database


# --- a small catalogue and its evidence, shared by the store and the Kafka tests ---------------

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)


def _department(dept_id: str, name: str):
    from catalog.spec import Department

    return Department(id=dept_id, name=name, code="11440606MB2C9035XG", division="440606")


def _resource(
    resource_id: str,
    provider: str,
    code: str,
    *,
    cycle="每日",
    bound=True,
    priority=1,
    sharing="无条件共享",
    domain="population",
    name=None,
):
    from catalog.spec import Binding, Item, Resource

    return Resource(
        id=resource_id,
        code=code,
        name=name or f"{resource_id} 信息",
        provider=provider,
        classification="基础/人口/户籍人口",
        abstract="测试资源",
        format="数据库",
        domain=domain,
        update_cycle=cycle,
        sharing_type=sharing,
        sharing_condition="按需申请" if sharing == "有条件共享" else None,
        open_type="不开放",
        release_date=T0.date().replace(day=1, month=1),
        priority=priority,
        items=[
            Item(name="gmsfhm", label="公民身份号码", type="C", length=18, nullable=False, key=True, pii="id_number"),
            Item(name="xm", label="姓名", type="C", length=50, pii="name"),
            Item(name="csrq", label="出生日期", type="D"),
        ],
        binding=Binding(kind="sql", system="population_db", config={"table": resource_id, "cursor_column": "gxsj"})
        if bound
        else None,
    )


def build_catalogue():
    """3 departments, 6 resources: one aggregated at T0+1h, the others each a different gap."""
    from catalog.spec import Catalogue

    return Catalogue(
        departments=[
            _department("gaj", "佛山市顺德区公安分局"),
            _department("scjgj", "区市场监督管理局"),
            _department("dljd", "佛山市顺德区大良街道办事处"),
        ],
        resources=[
            _resource("hjrk_jbxx", "gaj", "101001/000001", priority=5, sharing="有条件共享"),
            _resource("ldrk_jbxx", "gaj", "101002/000002", priority=3),
            _resource("qy_jbxx", "scjgj", "102001/000003", cycle="每月", priority=4, domain="legal_entity"),
            _resource("gtgsh_jbxx", "scjgj", "102002/000004", cycle=None, domain="legal_entity"),
            _resource("sqwg_xx", "dljd", "203001/000005", bound=False, domain="community_governance"),
            _resource("dl_sp", "dljd", "203002/000006", domain="video"),
        ],
    )


def build_evidence():
    """Evidence events for build_catalogue()'s resources (ids fixed per call)."""
    from hub.events import make_event

    def at(hours: float):
        return T0 + timedelta(hours=hours)

    def landing(resource, hours, rows, load):
        return make_event(
            "landing.completed",
            resource,
            ts=at(hours),
            load_id=load,
            rows=rows,
            files=[f"{resource}/p0/{load}.parquet"],
            offsets={"0": [0, rows - 1]},
            max_event_time=at(hours - 1).isoformat(),
        )

    def quality(resource, hours, valid, failed=()):
        return make_event(
            "quality.completed",
            resource,
            ts=at(hours),
            load_id=f"{resource}-1",
            rows_checked=1000,
            rows_valid=valid,
            failed_rules=[{"name": n, "critical": True, "failed_rows": 5} for n in failed],
            failed_critical=list(failed),
        )

    events = []
    for resource, start in (("hjrk_jbxx", -2), ("ldrk_jbxx", -2), ("qy_jbxx", -24 * 40), ("gtgsh_jbxx", -2)):
        events.append(
            make_event(
                "connector.produced", resource, ts=at(start), run_id=f"{resource}-run", records=1000, dlq_records=3
            )
        )
    events.insert(
        1, make_event("landing.failed", "hjrk_jbxx", ts=at(-1.8), load_id="hjrk_jbxx-0", error="broker timeout")
    )
    events += [
        landing("hjrk_jbxx", -1.5, 1000, "hjrk_jbxx-1"),
        quality("hjrk_jbxx", -1.4, 990),
        landing("ldrk_jbxx", -1.5, 1000, "ldrk_jbxx-1"),
        quality("ldrk_jbxx", -1.4, 970, ["gmsfhm_valid"]),
        landing("qy_jbxx", -24 * 40 + 1, 1000, "qy_jbxx-1"),
        quality("qy_jbxx", -24 * 40 + 2, 1000),
        landing("gtgsh_jbxx", -1.5, 1000, "gtgsh_jbxx-1"),
        quality("gtgsh_jbxx", -1.4, 1000),
        make_event("schema.changed", "hjrk_jbxx", ts=at(-1), old="a1b2", new="c3d4", added=["zz"]),
    ]
    return events


@pytest.fixture
def t0():
    """The moment the small catalogue's evidence is arranged around."""
    return T0


@pytest.fixture
def make_catalogue():
    """build_catalogue itself, for tests that load a changed copy."""
    return build_catalogue


@pytest.fixture
def small_catalogue():
    return build_catalogue()


@pytest.fixture
def evidence_events():
    return build_evidence()


@pytest.fixture
def seeded_catalogue(hub_env):
    """The seed catalogue loaded into the test home's catalogue database (as `hub catalog load`)."""
    from seed_kit import seed_catalogue

    from catalog.db import session_scope
    from catalog.store import load_catalogue_into

    with session_scope() as session:
        load_catalogue_into(session, seed_catalogue(), now=datetime.now(timezone.utc))
    return seed_catalogue()


# --- accounts on the small catalogue (helpers to drive them: people_kit.py) -------------------------


@pytest.fixture
def own_topics(monkeypatch) -> str:
    """A topic prefix of this test alone (under the session's, so the session's cleanup drops its
    topics): a replay of hub.events then reads only what this test published."""
    import os
    import uuid

    from hub import settings as hub_settings

    prefix = f"{os.environ['HUB_TOPIC_PREFIX']}{uuid.uuid4().hex[:8]}."
    monkeypatch.setenv("HUB_TOPIC_PREFIX", prefix)
    hub_settings.reset_settings()
    return prefix


@pytest.fixture
def hub(hub_env, monkeypatch, small_catalogue, t0):
    """The small catalogue loaded (gaj owns the 有条件共享 hjrk_jbxx), no token file."""
    from catalog.db import session_scope
    from catalog.store import load_catalogue_into
    from hub import settings as hub_settings

    monkeypatch.setenv("HUB_TOKEN_FILE", str(hub_env / "no-token"))
    monkeypatch.delenv("HUB_TOKEN", raising=False)
    hub_settings.reset_settings()
    with session_scope() as session:
        load_catalogue_into(session, small_catalogue, now=t0 - timedelta(days=60))
    return hub_env


@pytest.fixture
def people(hub, monkeypatch) -> dict[str, str]:
    """An admin, the steward of gaj (the 数源部门 of hjrk_jbxx), an analyst and a steward of scjgj."""
    from people_kit import add_account

    tokens = {"root": add_account(monkeypatch, None, "root", "gaj", "admin")}
    for user, department, role in (
        ("wang", "gaj", "steward"),
        ("li", "scjgj", "analyst"),
        ("zhao", "scjgj", "steward"),
    ):
        tokens[user] = add_account(monkeypatch, tokens["root"], user, department, role)
    return tokens
