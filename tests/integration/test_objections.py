"""The objection loop on a real catalogue database and the real broker: quality objections opened by
a failing critical rule and closed by a passing load, analyst objections answered by the 数源部门's
steward step by step, working-day deadlines across weekends and holidays, and the topic as the
whole history (replaying it into an empty catalogue rebuilds every objection)."""

from __future__ import annotations

from datetime import datetime, timedelta

from people_kit import invoke, replay_into_empty_catalogue
from sqlalchemy import select

from catalog import objections
from catalog.db import session_scope
from catalog.events import apply_events
from catalog.models import Objection, ObjectionStep
from hub import clock
from hub import settings as hub_settings
from hub.events import make_event
from hub.timezone import LOCAL_TZ

RULE = "gmsfhm.resident_id"


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LOCAL_TZ)


def _judged(at: datetime, failed: list[str], *, rows_checked: int = 100, load: str = "l") -> dict:
    return make_event(
        "quality.completed",
        "hjrk_jbxx",
        ts=at,
        load_id=load,
        rows_checked=rows_checked,
        rows_valid=rows_checked - 10 * len(failed),
        failed_critical=failed,
    )


# --- quality objections -------------------------------------------------------------------------


def test_a_failing_critical_rule_opens_one_objection_and_a_passing_load_closes_it(hub):
    raised = local(2026, 9, 30, 10, 0)  # the day before the National Day week
    with session_scope() as session:
        apply_events(session, [_judged(raised, [RULE], load="l-1")])
        apply_events(session, [_judged(raised + timedelta(hours=1), [RULE], load="l-2")])  # the same rule again
        found = objections.objections(session, resource="hjrk_jbxx")
        assert [(o.origin, o.rule, o.state, o.department_id) for o in found] == [("quality", RULE, "raised", "gaj")]
        objection = found[0]
        assert objection.ack_due == local(2026, 10, 9, 23, 59, 59)  # Thu 8, Fri 9 October
        assert objection.resolve_due == local(2026, 10, 20, 23, 59, 59)  # counting Saturday 10 October, worked

        assert not objections.lateness(objection, local(2026, 10, 9, 23, 0)).overdue
        late = objections.lateness(objection, local(2026, 10, 10, 9, 0))
        assert late.ack_overdue and not late.resolve_overdue

        apply_events(session, [_judged(local(2026, 10, 12, 9, 0), [], rows_checked=0, load="l-3")])
        assert objection.state == "raised"  # nothing checked, nothing verified
        apply_events(session, [_judged(local(2026, 10, 12, 10, 0), [], load="l-4")])
        assert objection.state == "closed" and objection.ended_at == local(2026, 10, 12, 10, 0)
        assert RULE in objection.resolution and "l-4" in objection.resolution
        assert not objections.lateness(objection, local(2026, 10, 30)).ended_late
        steps = session.scalars(select(ObjectionStep.action).where(ObjectionStep.objection_id == objection.id))
        assert list(steps) == ["raised", "closed"]


def test_a_rule_failing_again_after_closing_opens_a_new_objection(hub):
    with session_scope() as session:
        apply_events(
            session,
            [
                _judged(local(2026, 12, 1, 9), [RULE], load="a"),
                _judged(local(2026, 12, 2, 9), [], load="b"),
                _judged(local(2026, 12, 3, 9), [RULE], load="c"),
            ],
        )
        states = [o.state for o in objections.objections(session, resource="hjrk_jbxx")]
    assert states == ["closed", "raised"]


# --- analyst objections through the CLI and the broker --------------------------------------------


def test_an_analyst_objection_is_answered_step_by_step_and_replays_from_the_topic(
    people, monkeypatch, new_catalog_url, small_catalogue, t0, kafka_bootstrap
):
    with clock.frozen_at(local(2026, 12, 4, 16, 0)):  # a Friday
        raised = invoke(
            monkeypatch, people["li"], "objection", "raise", "hjrk_jbxx", "--item", "xm", "--reason", "姓名错字"
        )
    assert raised.exit_code == 0, raised.output
    assert "gaj" in raised.stdout and "2026-12-08 23:59" in raised.stdout  # Mon 7, Tue 8
    objection_id = raised.stdout.split()[1]

    refused = invoke(monkeypatch, people["zhao"], "objection", "accept", objection_id)  # not the 数源部门
    assert refused.exit_code == 1 and "only a steward of gaj" in refused.output
    wrong_order = invoke(monkeypatch, people["wang"], "objection", "close", objection_id)
    assert wrong_order.exit_code == 1 and "next can be accepted, rejected" in wrong_order.output
    no_reason = invoke(monkeypatch, people["wang"], "objection", "reject", objection_id)
    assert no_reason.exit_code == 1 and "reason" in no_reason.output

    for day, verb in ((7, "accept"), (8, "flag"), (10, "correct"), (11, "close")):
        with clock.frozen_at(local(2026, 12, day, 10, 0)):
            result = invoke(monkeypatch, people["wang"], "objection", verb, objection_id, "--reason", f"{verb} 已处理")
        assert result.exit_code == 0, result.output

    listed = invoke(monkeypatch, people["li"], "objection", "list", "--resource", "hjrk_jbxx", "--json")
    [row] = [row for row in _json(listed.stdout) if row["id"] == objection_id]
    assert row["state"] == "closed" and row["item"] == "xm" and not row["ended_late"]

    with session_scope() as session:
        before = _objection_state(session, objection_id)
    replay_url = new_catalog_url()
    replay_into_empty_catalogue(replay_url, small_catalogue, t0)
    with session_scope(replay_url) as session:
        assert _objection_state(session, objection_id) == before


def _json(text: str):
    import json

    return json.loads(text)


def _objection_state(session, objection_id: str) -> tuple:
    objection = session.get(Objection, objection_id)
    steps = session.scalars(
        select(ObjectionStep).where(ObjectionStep.objection_id == objection_id).order_by(ObjectionStep.at)
    )
    return (
        objection.state,
        objection.raised_at,
        objection.ack_due,
        objection.resolve_due,
        objection.resolution,
        [(step.action, step.actor, step.at) for step in steps],
    )


# --- the same loop over HTTP ---------------------------------------------------------------------


def test_the_service_raises_and_answers_objections_and_the_department_page_shows_them(
    people, monkeypatch, kafka_bootstrap
):
    from fastapi.testclient import TestClient

    from catalog.service.app import create_app

    def auth(user: str) -> dict:
        return {"Authorization": f"Bearer {people[user]}"}

    monkeypatch.setenv("HUB_API_TOKEN", "a-service-token-of-the-test-run")
    monkeypatch.delenv("HUB_TOKEN", raising=False)
    hub_settings.reset_settings()

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        assert client.get("/api/objections").status_code == 401
        raised = client.post(
            "/api/objections",
            json={"resource": "hjrk_jbxx", "item": "csrq", "reason": "出生日期晚于登记日期"},
            headers=auth("li"),
        )
        assert raised.status_code == 201, raised.text
        objection = raised.json()
        assert (objection["state"], objection["department"], objection["item"]) == ("raised", "gaj", "csrq")
        assert (
            client.post(f"/api/objections/{objection['id']}/accept", json={}, headers=auth("zhao")).status_code == 403
        )
        assert (
            client.post(f"/api/objections/{objection['id']}/reject", json={}, headers=auth("wang")).status_code == 422
        )
        rejected = client.post(
            f"/api/objections/{objection['id']}/reject", json={"reason": "源数据核实无误"}, headers=auth("wang")
        )
        assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
        assert rejected.json()["resolution"] == "源数据核实无误"
        listed = client.get("/api/objections", params={"resource": "hjrk_jbxx"}, headers=auth("li")).json()
        assert [row["state"] for row in listed if row["id"] == objection["id"]] == ["rejected"]

        client.post("/api/objections", json={"resource": "hjrk_jbxx", "reason": "户籍地址不全"}, headers=auth("li"))
        page = client.get("/departments/gaj", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "部门考核" in page.text and "待办事项" in page.text and "处理 1 项未办结异议" in page.text
