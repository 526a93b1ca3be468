"""The department scorecard in the coverage document, on the small catalogue and its evidence
(tests/integration/conftest.py): figures written down from that evidence, the lists behind them,
the to-do lists, share-request deadlines in working days, and nothing after `as_of` counted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from catalog import approvals
from catalog.db import session_scope
from catalog.events import apply_events
from catalog.identity import Identity
from catalog.snapshots import coverage_report

LI = Identity("li", "scjgj", "analyst")
CHEN = Identity("chen", "dljd", "steward")
WANG = Identity("wang", "gaj", "steward")


@pytest.fixture
def document(hub_env, small_catalogue, evidence_events, t0):
    from catalog.store import load_catalogue_into

    with session_scope() as session:
        load_catalogue_into(session, small_catalogue, now=t0 - timedelta(days=60))
        apply_events(session, evidence_events)
        until = t0 + timedelta(days=30)
        # Asked on Tue 21 April, never answered: due at the end of Tue 28 April (5 working days).
        late = approvals.request_grant(
            session, LI, resource="hjrk_jbxx", purpose="核查", valid_until=until, now=t0 - timedelta(days=10)
        )
        # Asked on Tue 28 April, answered Thu 30 April: on time (due Fri 8 May, after the May Day holiday).
        asked = approvals.request_grant(
            session, CHEN, resource="hjrk_jbxx", purpose="网格", valid_until=until, now=t0 - timedelta(days=3)
        )
        approvals.approve(session, WANG, asked.id, now=t0 - timedelta(days=1))
        # 无条件共享: granted at once by the catalogue.
        at_once = approvals.request_grant(
            session, LI, resource="ldrk_jbxx", purpose="统计", valid_until=until, now=t0 - timedelta(hours=5)
        )
        ids = {"late": late.id, "asked": asked.id, "at_once": at_once.id}
        assert at_once.status == "approved" and at_once.decided_by == "catalogue"
    with session_scope() as session:
        return coverage_report(session, t0, target=0.7, target_date=t0.date()), ids


def _card(document: dict, department_id: str) -> dict:
    return next(card for card in document["scorecard"]["by_department"] if card["department_id"] == department_id)


def test_the_figures_per_department(document):
    doc, ids = document
    gaj, scjgj, dljd = (_card(doc, dept) for dept in ("gaj", "scjgj", "dljd"))

    assert (gaj["completeness"]["count"], gaj["mounted"]["count"], gaj["timeliness"]["count"]) == (2, 2, 2)
    assert gaj["quality"]["pass_rate"] == pytest.approx(0.98)  # 990 and 970 of 1000
    assert gaj["quality"]["failing"] == {"101002/000002": ["gmsfhm_valid"]}
    assert len(gaj["quality"]["open_objections"]) == 1 and gaj["quality"]["overdue_objections"] == []
    requests = gaj["share_requests"]
    assert (requests["received"], requests["answered"], requests["answered_on_time"], requests["approved"]) == (
        3,
        2,
        2,
        2,
    )
    assert requests["pending"] == [ids["late"]] and requests["pending_overdue"] == [ids["late"]]
    assert requests["on_time_ratio"] == 1.0

    assert scjgj["completeness"]["incomplete"] == {"102002/000004": ["更新周期"]}
    assert (scjgj["mounted"]["count"], scjgj["mounted"]["total"]) == (2, 2)
    assert scjgj["timeliness"]["count"] == 0 and sorted(scjgj["timeliness"]["late"]) == [
        "102001/000003",
        "102002/000004",
    ]

    assert dljd["mounted"] == {
        **dljd["mounted"],
        "count": 0,
        "total": 2,
        "unbound": ["203001/000005"],
        "not_landed": ["203002/000006"],
    }
    overall = doc["scorecard"]["overall"]
    assert (overall["completeness"]["count"], overall["mounted"]["count"], overall["timeliness"]["count"]) == (5, 4, 2)
    assert overall["share_requests"]["pending_overdue"] == 1


def test_each_department_ends_with_what_moves_its_figures(document):
    doc, ids = document
    actions = [(task["figure"], task["items"]) for task in _card(doc, "gaj")["todo"]]
    objection = _card(doc, "gaj")["quality"]["open_objections"]
    assert actions == [
        ("share_requests", [ids["late"]]),
        ("quality", ["101002/000002"]),
        ("quality", objection),
    ]
    dljd = [task["action"] for task in _card(doc, "dljd")["todo"]]
    assert dljd == ["为 1 个目录绑定数据源", "完成 1 个已绑定目录的首次汇聚"]


def test_nothing_after_as_of_is_counted(hub_env, small_catalogue, evidence_events, t0):
    from catalog.store import load_catalogue_into

    with session_scope() as session:
        load_catalogue_into(session, small_catalogue, now=t0 - timedelta(days=60))
        apply_events(session, evidence_events)
        approvals.request_grant(
            session, LI, resource="hjrk_jbxx", purpose="核查", valid_until=t0 + timedelta(days=30), now=t0
        )
        earlier = coverage_report(session, t0 - timedelta(hours=3), target=0.7, target_date=t0.date())
    gaj = _card(earlier, "gaj")
    assert gaj["share_requests"]["received"] == 0
    assert gaj["quality"]["open_objections"] == []  # opened by the run at T0 − 1.4 h
    assert gaj["mounted"]["count"] == 0  # landed at T0 − 1.5 h
