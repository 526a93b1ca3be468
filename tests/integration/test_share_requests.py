"""Share requests (共享申请) as `share_request.changed` events on the real broker: every step taken
through `hub grant` is on hub.events, and replaying the topic into an empty catalogue (SQLite and
PostgreSQL) rebuilds the same requests, grants and steps, field by field."""

from __future__ import annotations

from datetime import datetime

import pytest
from people_kit import invoke, replay_into_empty_catalogue
from sqlalchemy import select

from catalog.db import session_scope
from catalog.events import apply_events
from catalog.models import Grant, GrantEvent, GrantRequest
from hub import clock
from hub.events import make_event
from hub.timezone import LOCAL_TZ


@pytest.fixture
def small_catalogue(make_catalogue):
    """The small catalogue with dljd's video resource 不予共享 (a request for it is refused at once)."""
    catalogue = make_catalogue()
    resources = [
        resource.model_copy(update={"sharing_type": "不予共享"}) if resource.id == "dl_sp" else resource
        for resource in catalogue.resources
    ]
    return catalogue.model_copy(update={"resources": resources})


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LOCAL_TZ)


def grant(monkeypatch, token: str, *args: str, day: int, code: int = 0):
    with clock.frozen_at(local(2026, 12, day, 10, 0)):
        result = invoke(monkeypatch, token, "grant", *args)
    assert result.exit_code == code, result.output
    return result


def test_every_share_request_step_replays_from_the_topic_into_the_same_rows(
    own_topics, people, monkeypatch, new_catalog_url, small_catalogue, t0, kafka_bootstrap
):
    # Request ids are numbers: a topic of this test alone, so no other test's requests replay with them.
    li, wang = people["li"], people["wang"]
    until = ("--valid-until", "2027-06-30")
    grant(monkeypatch, li, "request", "--resource", "hjrk_jbxx", "--purpose", "市场主体核查", *until, "--pii", day=1)
    at_once = grant(monkeypatch, li, "request", "--resource", "ldrk_jbxx", "--purpose", "统计", *until, day=1)
    assert "reads ldrk_jbxx now" in at_once.stdout  # 无条件共享: the catalogue grants it
    refused = grant(monkeypatch, li, "request", "--resource", "dl_sp", "--purpose", "巡查", *until, day=2, code=1)
    assert "不予共享" in refused.output  # refused at once, and the refusal is kept
    grant(monkeypatch, wang, "approve", "1", "--pii", "--reason", "同意", day=3)
    grant(monkeypatch, li, "request", "--resource", "hjrk_jbxx", "--purpose", "再次核查", *until, day=4)
    grant(monkeypatch, wang, "deny", "4", "--reason", "用途与共享条件不符", day=7)
    grant(monkeypatch, wang, "revoke", "1", "--reason", "项目结束", day=8)
    grant(
        monkeypatch, wang, "add", "--department", "scjgj", "--resource", "hjrk_jbxx", "--purpose", "联审", *until, day=9
    )
    grant(monkeypatch, wang, "approve", "1", "--pii", day=9, code=1)  # decided before: nothing is sent

    with session_scope() as session:
        before = _share_state(session)
    assert [row["status"] for row in before["requests"]] == ["approved", "approved", "denied", "denied", "approved"]
    assert [row["decided_by"] for row in before["requests"]] == ["wang", "catalogue", "catalogue", "wang", "wang"]
    assert [(row["id"], row["request_id"], row["include_pii"]) for row in before["grants"]] == [
        (1, 1, True),
        (2, 5, False),
    ]
    assert before["grants"][0]["revoked_at"] == local(2026, 12, 8, 10, 0)
    assert len(before["steps"]) == 12

    replay_url = new_catalog_url()
    replay_into_empty_catalogue(replay_url, small_catalogue, t0)
    with session_scope(replay_url) as session:
        assert _share_state(session) == before


def test_a_step_that_does_not_fit_the_request_is_rejected_with_the_reason(people, monkeypatch, kafka_bootstrap):
    grant(
        monkeypatch,
        people["li"],
        "request",
        "--resource",
        "ldrk_jbxx",
        "--purpose",
        "统计",
        "--valid-until",
        "2027-06-30",
        day=1,
    )
    deny_after_grant = make_event(
        "share_request.changed",
        "ldrk_jbxx",
        request=1,
        action="denied",
        actor="wang",
        actor_role="steward",
        decided_by="wang",
        reason="晚了",
    )
    unknown = make_event(
        "share_request.changed",
        "hjrk_jbxx",
        request=1,
        action="denied",
        actor="wang",
        actor_role="steward",
        decided_by="wang",
        reason="x",
    )
    with session_scope() as session:
        assert apply_events(session, [deny_after_grant, unknown]) == ["rejected", "rejected"]
        assert session.get(GrantRequest, 1).status == "approved"


def _share_state(session) -> dict:
    """Every column of every request and grant, and of every step but its row number (steps of
    different resources may replay in another order: hub.events is keyed by resource)."""

    def rows(model, order, skip=()):
        columns = [column.key for column in model.__table__.columns if column.key not in skip]
        return [{key: getattr(row, key) for key in columns} for row in session.scalars(select(model).order_by(*order))]

    return {
        "requests": rows(GrantRequest, [GrantRequest.id]),
        "grants": rows(Grant, [Grant.id]),
        "steps": rows(GrantEvent, [GrantEvent.request_id, GrantEvent.at, GrantEvent.id], skip=("id",)),
    }
