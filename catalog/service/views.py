"""What each page shows, as plain JSON-able dicts: the HTML page renders exactly its JSON twin.

Coverage figures come from `catalog.snapshots.coverage_report` (the call `hub coverage` makes) and
per-resource statuses from `catalog.coverage.classify` on the store's facts: nothing is recounted here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import conflicts, devices
from catalog.coverage import CoveragePolicy, Status, classify
from catalog.models import Department, Item, Resource
from catalog.report.wording import verdict
from catalog.service import labels
from catalog.snapshots import coverage_report
from catalog.store import display_name, resource_facts
from catalog.targets import Target, current_target

TOP_GAPS = 10
RETIRED = "retired"


def coverage_document(session: Session, as_of: datetime, target: Target | None = None) -> dict:
    """The coverage document, exactly as `hub coverage --json` prints it for the same as_of and target.

    Read-only: only the daily job stores snapshots.
    """
    target = target or current_target(session)
    return coverage_report(session, as_of, target=target.target, target_date=target.target_date)


def resource_statuses(session: Session, as_of: datetime) -> dict[str, Status]:
    """Coverage status per counted resource (the engine's classify on the store's facts)."""
    policy = CoveragePolicy.default()
    return {facts.resource_id: classify(facts, as_of, policy) for facts in resource_facts(session, as_of)}


def department_ids(session: Session) -> dict[str, str]:
    """Display name (as the coverage document groups by) → department id."""
    return {display_name(name): dept_id for dept_id, name in session.execute(select(Department.id, Department.name))}


def status_json(status: Status | None, item_labels: Mapping[str, str] | None = None) -> dict:
    """A coverage status for pages; `item_labels` (the resource's items → Chinese names) words a failing rule."""
    code = status.status if status else RETIRED
    return {
        "status": code,
        "reason": labels.reason_code(code),
        "label": labels.reason_label(code, item_labels),
        "rule_code": labels.failing_rule(code),
        "since": status.since.isoformat() if status and status.since else None,
        "aggregated": bool(status and status.aggregated),
        "next_step": labels.next_step(code) if status and not status.aggregated else "",
    }


def group_rows(rows: list[dict], key: str, target: float, ids: dict[str, str] | None = None) -> list[dict]:
    """The document's grouping rows plus what a page needs to draw them (labels, links, shortfall)."""
    from catalog.projection import resources_needed

    shown = []
    for row in rows:
        extra = {"to_target": resources_needed(target, row["total"], row["aggregated"])}
        if key == "domain":
            extra["label"] = labels.domain_label(row["domain"])
        if ids is not None:
            extra["department_id"] = ids.get(row["department"])
        shown.append({**row, **extra})
    return shown


def gap_rows(
    document: dict, ids_by_code: dict[str, str], items: dict[str, dict[str, str]], limit: int | None = None
) -> list[dict]:
    """The document's gap list (highest priority first) with labels, next steps and resource ids; a
    failing rule in Chinese (`items`: item_labels()), its code kept apart in `rule_code`."""
    rows = []
    for gap in document["gaps"][:limit]:
        resource_id = ids_by_code.get(gap["resource_code"])
        rows.append(
            {
                **gap,
                "resource_id": resource_id,
                "reason_label": labels.reason_label(gap["reason"], items.get(resource_id)),
                "rule_code": labels.failing_rule(gap["reason"]),
                "next_step": labels.next_step(gap["reason"]),
            }
        )
    return rows


def codes_to_ids(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Resource.code, Resource.id)).all())


def item_labels(session: Session) -> dict[str, dict[str, str]]:
    """Resource id → its items' names → their Chinese names: what a quality rule's label is made of."""
    found: dict[str, dict[str, str]] = {}
    for resource_id, name, label in session.execute(select(Item.resource_id, Item.name, Item.label)):
        found.setdefault(resource_id, {})[name] = label
    return found


def dashboard(session: Session, as_of: datetime) -> dict:
    """The dashboard: the coverage document, the target in force, and the groupings ready to draw."""
    target = current_target(session)
    document = coverage_document(session, as_of, target)
    reasons = Counter(labels.reason_code(gap["reason"]) for gap in document["gaps"])
    ids_by_code, dept_ids = codes_to_ids(session), department_ids(session)
    return {
        "coverage": document,
        "target": target.as_json(),
        "by_department": group_rows(document["by_department"], "department", target.target, dept_ids),
        "by_domain": group_rows(document["by_domain"], "domain", target.target),
        "top_gaps": gap_rows(document, ids_by_code, item_labels(session), TOP_GAPS),
        "timeliness": timeliness_rows(document, ids_by_code, dept_ids, TOP_GAPS),
        "method_label": labels.method_label(document["projection"]["method"]),
        "verdict": verdict(document),  # the report's words: no verdict before the minimum history
        "gap_reasons": [
            {"reason": reason, "label": labels.reason_label(reason), "count": count}
            for reason, count in reasons.most_common()
        ],
        "devices": devices.labelled(document["devices"], {i: name for name, i in dept_ids.items()}),
        "conflicts": conflicts.labelled(document["conflicts"], {i: name for name, i in dept_ids.items()}),
    }


def timeliness_rows(
    document: dict, ids_by_code: dict[str, str], dept_ids: dict[str, str], limit: int | None = None
) -> dict:
    """The document's update timeliness with what a page needs: department links, labels, next steps."""
    part = document["timeliness"]
    return {
        "overall": part["overall"],
        "by_department": [{**row, "department_id": dept_ids.get(row["department"])} for row in part["by_department"]],
        "late": [
            {
                **row,
                "resource_id": ids_by_code.get(row["resource_code"]),
                "reason_label": labels.timeliness_label(row["reason"]),
                "next_step": labels.TIMELINESS_NEXT_STEPS.get(row["reason"], ""),
            }
            for row in part["late"][:limit]
        ],
        "late_count": len(part["late"]),
    }


def department_list(session: Session, as_of: datetime) -> dict:
    """Every department with its coverage row (departments with no counted resource show none)."""
    target = current_target(session)
    document = coverage_document(session, as_of, target)
    rows = {row["department"]: row for row in group_rows(document["by_department"], "department", target.target)}
    departments = []
    for dept in session.scalars(select(Department).order_by(Department.id)):
        shown = display_name(dept.name)
        departments.append(
            {
                "id": dept.id,
                "name": dept.name,
                "display_name": shown,
                "code": dept.code,
                "division": dept.division,
                "coverage": rows.get(shown),
            }
        )
    departments.sort(key=lambda d: (d["coverage"] is None, d["coverage"]["ratio"] if d["coverage"] else 0, d["id"]))
    return {"as_of": document["as_of"], "target": target.as_json(), "departments": departments}


def department_detail(session: Session, dept: Department, as_of: datetime) -> dict:
    """One department: its coverage, its resources with their status, and what blocks each gap."""
    from catalog.service.resources import resource_rows

    target = current_target(session)
    document = coverage_document(session, as_of, target)
    shown = display_name(dept.name)
    coverage = next(
        (
            row
            for row in group_rows(document["by_department"], "department", target.target)
            if row["department"] == shown
        ),
        None,
    )
    ids_by_code, items = codes_to_ids(session), item_labels(session)
    gaps = [gap for gap in gap_rows(document, ids_by_code, items) if gap["department"] == shown]
    card = next(
        (card for card in document.get("scorecard", {}).get("by_department", []) if card["department_id"] == dept.id),
        None,
    )
    return {
        "as_of": document["as_of"],
        "target": target.as_json(),
        "department": {
            "id": dept.id,
            "name": dept.name,
            "display_name": shown,
            "code": dept.code,
            "division": dept.division,
        },
        "coverage": coverage,
        "gaps": gaps,
        "resources": resource_rows(session, as_of, department=dept.id),
        "scorecard": card,
        # The scorecard's failing rules by resource code, in Chinese with their codes beside.
        "failing_rules": {
            code: [
                {"code": rule, "label": labels.rule_label(rule, items.get(ids_by_code.get(code), {}))} for rule in rules
            ]
            for code, rules in (card["quality"]["failing"] if card else {}).items()
        },
        "devices": devices.department_part(document["devices"], dept.id),
        "conflicts": conflicts.department_part(
            conflicts.labelled(document["conflicts"], {i: name for name, i in department_ids(session).items()}),
            dept.id,
        ),
    }
