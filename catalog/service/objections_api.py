"""The objection loop over HTTP: list, raise, and the 数源部门 steward's steps.

Each write applies an `objection.changed` event and publishes it to hub.events before it commits
(catalog.service.writes.publish_event): if Kafka does not take it, nothing is saved.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from catalog import objections
from catalog.events import APPLIED, apply_event_with_reason
from catalog.identity import Identity
from catalog.service.app import get_session
from catalog.service.auth import require_token
from catalog.service.errors import ERROR_RESPONSES, WRITE_ERROR_RESPONSES, ApiError
from catalog.service.writes import publish_event
from hub import clock
from hub.events import ObjectionChanged

router = APIRouter(prefix="/api/objections", tags=["objections"], responses=ERROR_RESPONSES)
STEPS = {
    "accept": objections.ACCEPTED,
    "flag": objections.FLAGGED,
    "correct": objections.CORRECTED,
    "close": objections.CLOSED,
    "reject": objections.REJECTED,
}


class ObjectionIn(BaseModel):
    resource: str = Field(..., max_length=64, description="resource id or 资源代码")
    reason: str = Field(..., min_length=1, max_length=2000, description="what is wrong")
    item: str | None = Field(None, max_length=64, description="the information item that is wrong")


class StepIn(BaseModel):
    reason: str | None = Field(None, max_length=2000, description="required to reject")


@router.get(
    "",
    summary="Objections with their deadlines (working days) and whether they are overdue",
    responses=WRITE_ERROR_RESPONSES,
)
def list_objections(
    department: str | None = Query(None, max_length=32),
    resource: str | None = Query(None, max_length=64),
    open_only: bool = Query(False, alias="open"),
    _who: Identity = Depends(require_token),
    session: Session = Depends(get_session),
) -> list[dict]:
    now = clock.now()
    found = objections.objections(session, department=department, resource=resource, open_only=open_only)
    return [objections.row(objection, now) for objection in found]


@router.post("", status_code=201, summary="Raise an objection to a resource's data", responses=WRITE_ERROR_RESPONSES)
def raise_objection(body: ObjectionIn, who: Identity = Depends(require_token), session: Session = Depends(get_session)):
    now = clock.now()
    event = _checked(
        lambda: objections.raise_objection(
            session, who, resource=body.resource, item=body.item, reason=body.reason, now=now
        )
    )
    return _recorded(session, event)


@router.post("/{objection_id}/{step}", summary="The 数源部门 steward's next step", responses=WRITE_ERROR_RESPONSES)
def take_step(
    body: StepIn,
    objection_id: str = Path(..., max_length=64),
    step: Literal["accept", "flag", "correct", "close", "reject"] = Path(...),
    who: Identity = Depends(require_token),
    session: Session = Depends(get_session),
):
    now = clock.now()
    event = _checked(lambda: objections.step(session, who, objection_id, STEPS[step], reason=body.reason, now=now))
    return _recorded(session, event)


def _checked(build) -> ObjectionChanged:
    try:
        return build()
    except objections.ObjectionError as exc:
        raise ApiError(exc.status, str(exc)) from None


def _recorded(session: Session, event: ObjectionChanged) -> dict:
    outcome, reason = apply_event_with_reason(session, event)
    if outcome != APPLIED:
        raise ApiError(409, reason or outcome)
    row = objections.row(session.get(objections.Objection, event.payload.objection), clock.now())
    publish_event(event.wire())
    session.commit()
    return row
