"""The objection loop (异议 / 校核纠错): raised → accepted → flagged → corrected → closed, or rejected.

An objection is addressed to the steward of the resource's 数源部门 (its provider: the department
that is the authoritative source of its items). Two origins:

- `analyst`: someone who reads the data reports a wrong value (`hub objection raise`, the service);
  every step is an `objection.changed` event on hub.events, so replaying the topic rebuilds it;
- `quality`: a critical rule failing beyond the threshold in a quality.completed event opens one
  (one open objection per resource and rule), and a later quality run that passes the rule closes
  it as verified. Derived from the quality events alone, so a replay rebuilds these too.

Deadlines are working days on the Chinese calendar (catalog.workdays): acknowledge within
`objection_ack_workdays`, resolve within `objection_resolve_workdays` (hub settings; 2 and 10).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import CatalogError
from catalog.identity import ADMIN, STEWARD, Identity
from catalog.models import Item, Objection, ObjectionStep, Resource
from catalog.rule_wording import rule_label
from catalog.workdays import add_workdays
from hub.events import ObjectionChanged, QualityCompleted
from hub.settings import get_settings

RAISED, ACCEPTED, FLAGGED, CORRECTED, CLOSED, REJECTED = (
    "raised",
    "accepted",
    "flagged",
    "corrected",
    "closed",
    "rejected",
)
ENDED = (CLOSED, REJECTED)
QUALITY, ANALYST = "quality", "analyst"
GATE_ACTOR = "quality-gate"
# The steps a steward takes from each state. Closing needs a verified correction; rejecting is
# possible until the data has been flagged as wrong (then it is corrected, not denied).
NEXT = {
    RAISED: (ACCEPTED, REJECTED),
    ACCEPTED: (FLAGGED, REJECTED),
    FLAGGED: (CORRECTED,),
    CORRECTED: (CLOSED,),
}
STATE_LABELS = {
    RAISED: "已提出",
    ACCEPTED: "已受理",
    FLAGGED: "已标注",
    CORRECTED: "已更正待核验",
    CLOSED: "已办结",
    REJECTED: "不予采纳",
}


class ObjectionError(CatalogError):
    """A step that does not fit the objection's state or the caller's rights; says what to do."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


# --- commands: check, then build the event the caller publishes --------------------------------


def raise_objection(
    session: Session, who: Identity, *, resource: str, reason: str, item: str | None = None, now: datetime
) -> ObjectionChanged:
    """The `raised` event of a new analyst objection, checked against the catalogue."""
    found = session.get(Resource, resource) or session.scalar(select(Resource).where(Resource.code == resource))
    if found is None:
        raise ObjectionError(f"unknown resource {resource!r}: use its id or code from the catalogue", status=422)
    if item is not None and item not in {row.name for row in found.items}:
        raise ObjectionError(f"{found.id} has no information item {item!r}", status=422)
    if not reason or not reason.strip():
        raise ObjectionError("say what is wrong (--reason)", status=422)
    objection_id = "o-" + hashlib.sha256(f"{found.id}|{item}|{who.user}|{now.isoformat()}".encode()).hexdigest()[:16]
    return _event(found.id, objection_id, RAISED, who, now, item=item, reason=reason.strip())


def step(
    session: Session, who: Identity, objection_id: str, action: str, *, reason: str | None, now: datetime
) -> ObjectionChanged:
    """The event of the steward's next step on an objection, checked against its state and the caller."""
    objection = _objection(session, objection_id)
    _may_answer(who, objection)
    _check_step(objection, action, reason)
    return _event(objection.resource_id, objection.id, action, who, now, reason=reason)


def _event(resource: str, objection_id: str, action: str, who: Identity, now: datetime, **fields) -> ObjectionChanged:
    return ObjectionChanged.build(
        resource,
        ts=now,
        objection=objection_id,
        action=action,
        actor=who.user,
        actor_role=who.role,
        actor_department=who.department,
        **{key: value for key, value in fields.items() if value is not None},
    )


def _objection(session: Session, objection_id: str) -> Objection:
    found = session.get(Objection, objection_id)
    if found is None:
        raise ObjectionError(f"no objection {objection_id!r}: `hub objection list` shows them", status=404)
    return found


def _may_answer(who: Identity, objection: Objection) -> None:
    if who.role == ADMIN or (who.role == STEWARD and who.department == objection.department_id):
        return
    raise ObjectionError(
        f"only a steward of {objection.department_id} (the 数源部门) answers objection {objection.id}"
        f" (you are {who.user}, {who.role} of {who.department})",
        status=403,
    )


def _check_step(objection: Objection, action: str, reason: str | None) -> None:
    allowed = NEXT.get(objection.state, ())
    if action not in allowed:
        raise ObjectionError(
            f"objection {objection.id} is {objection.state}: next can be {', '.join(allowed) or 'nothing (it ended)'}"
        )
    if action == REJECTED and not (reason and reason.strip()):
        raise ObjectionError("a rejection must give its reason (--reason)", status=422)


# --- applying events (catalog.evidence dispatches to these) -------------------------------------


def apply_change(session: Session, resource: Resource, event: ObjectionChanged) -> None:
    """Apply one objection.changed event; an event that does not fit the state is refused with why."""
    payload = event.payload
    at = payload.at or event.ts
    if payload.action == RAISED:
        if session.get(Objection, payload.objection) is not None:
            raise ObjectionError(f"objection {payload.objection} was raised before")
        _open(session, resource, payload.objection, ANALYST, payload.reason or "", payload.actor, at, item=payload.item)
        return
    objection = _objection(session, payload.objection)
    if objection.resource_id != resource.id:
        raise ObjectionError(f"objection {objection.id} is about {objection.resource_id}, not {resource.id}")
    _check_step(objection, payload.action, payload.reason)
    _move(session, objection, payload.action, payload.actor, at, detail=payload.reason)


def on_quality(session: Session, resource: Resource, event: QualityCompleted) -> None:
    """Open an objection per critical rule that failed; close the open ones whose rule now passes."""
    payload, at = event.payload, event.payload.ran_at or event.ts
    failing = set(payload.failed_critical)
    open_rules = {row.rule: row for row in _open_quality(session, resource.id)}
    names = item_labels(session, resource.id) if failing ^ set(open_rules) else {}
    for rule in sorted(failing - set(open_rules)):
        objection_id = "q-" + hashlib.sha256(f"{event.id}|{rule}".encode()).hexdigest()[:16]
        reason = (
            f"质量规则未通过：{rule_label(rule, names)}（规则代码 {rule}，质量运行 {payload.load_id or event.id}，"
            f"通过率 {payload.pass_rate or 0:.2%}）"
        )
        _open(session, resource, objection_id, QUALITY, reason, GATE_ACTOR, at, rule=rule)
    if payload.rows_checked == 0:
        return  # nothing was checked: nothing is verified
    for rule, objection in open_rules.items():
        if rule not in failing:
            verified = f"质量规则 {rule_label(rule, names)}（{rule}）在质量运行 {payload.load_id or event.id} 中通过"
            _move(session, objection, CLOSED, GATE_ACTOR, at, detail=verified)


def _open_quality(session: Session, resource_id: str) -> list[Objection]:
    return list(
        session.scalars(
            select(Objection).where(
                Objection.resource_id == resource_id, Objection.origin == QUALITY, Objection.state.not_in(ENDED)
            )
        )
    )


def _open(
    session: Session,
    resource: Resource,
    objection_id: str,
    origin: str,
    reason: str,
    actor: str,
    at: datetime,
    *,
    item: str | None = None,
    rule: str | None = None,
) -> Objection:
    settings = get_settings()
    ack, resolve = (
        add_workdays(at, settings.objection_ack_workdays),
        add_workdays(at, settings.objection_resolve_workdays),
    )
    objection = Objection(
        id=objection_id,
        resource_id=resource.id,
        department_id=resource.provider_id,
        origin=origin,
        item=item,
        rule=rule,
        reason=reason,
        raised_by=actor,
        raised_at=at,
        ack_due=ack.due,
        resolve_due=resolve.due,
        provisional_calendar=ack.provisional or resolve.provisional,
        state=RAISED,
        state_since=at,
    )
    session.add(objection)
    session.add(ObjectionStep(objection_id=objection_id, at=at, action=RAISED, actor=actor, detail=reason))
    session.flush()
    return objection


def _move(session: Session, objection: Objection, action: str, actor: str, at: datetime, *, detail: str | None) -> None:
    if objection.state == RAISED:
        objection.accepted_at = at  # any answer acknowledges it: closing or rejecting too
    objection.state, objection.state_since = action, at
    if action in ENDED:
        objection.ended_at, objection.resolution = at, detail
    session.add(ObjectionStep(objection_id=objection.id, at=at, action=action, actor=actor, detail=detail))


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lateness:
    ack_overdue: bool  # not answered and past the acknowledgement deadline
    resolve_overdue: bool  # open past the resolution deadline
    ended_late: bool  # closed or rejected after the resolution deadline

    @property
    def overdue(self) -> bool:
        return self.ack_overdue or self.resolve_overdue


def lateness(objection: Objection, now: datetime) -> Lateness:
    ended = objection.state in ENDED
    answered_at = objection.accepted_at
    return Lateness(
        ack_overdue=answered_at is None and not ended and now > objection.ack_due,
        resolve_overdue=not ended and now > objection.resolve_due,
        ended_late=ended and objection.ended_at is not None and objection.ended_at > objection.resolve_due,
    )


def objections(
    session: Session, *, department: str | None = None, resource: str | None = None, open_only: bool = False
) -> list[Objection]:
    query = select(Objection).order_by(Objection.raised_at, Objection.id)
    if department:
        query = query.where(Objection.department_id == department)
    if resource:
        query = query.where(Objection.resource_id == resource)
    if open_only:
        query = query.where(Objection.state.not_in(ENDED))
    return list(session.scalars(query))


def row(objection: Objection, now: datetime) -> dict:
    """An objection as JSON for the CLI, the API and the report."""
    late = lateness(objection, now)
    return {
        "id": objection.id,
        "resource": objection.resource_id,
        "department": objection.department_id,
        "origin": objection.origin,
        "item": objection.item,
        "rule": objection.rule,
        "reason": objection.reason,
        "raised_by": objection.raised_by,
        "raised_at": objection.raised_at.isoformat(),
        "state": objection.state,
        "state_label": STATE_LABELS[objection.state],
        "ack_due": objection.ack_due.isoformat(),
        "resolve_due": objection.resolve_due.isoformat(),
        "provisional_calendar": objection.provisional_calendar,
        "ack_overdue": late.ack_overdue,
        "resolve_overdue": late.resolve_overdue,
        "overdue": late.overdue,
        "ended_late": late.ended_late,
        "resolution": objection.resolution,
    }


def open_items(session: Session, resource_id: str) -> dict[str | None, list[str]]:
    """The open objections on a resource by item (None: the whole resource), for the analyst's flag."""
    flagged: dict[str | None, list[str]] = {}
    for objection in objections(session, resource=resource_id, open_only=True):
        flagged.setdefault(objection.item, []).append(objection.id)
    return flagged


def item_labels(session: Session, resource_id: str) -> dict[str, str]:
    return {row.name: row.label for row in session.scalars(select(Item).where(Item.resource_id == resource_id))}
