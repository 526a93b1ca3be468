"""The warehouse's answers to the catalogue service's lineage view (catalog/lineage.py; wired by pipeline/cli.py)."""

from __future__ import annotations

import logging

from warehouse import lake
from warehouse.marts import plan_marts

log = logging.getLogger(__name__)


def lake_folder(resource) -> str:
    return str(lake.resource_dir(resource)) + "/dt=*/"


def marts_reading(resource) -> list[str]:
    """The mart views that read this resource's staging table (asked of the warehouse's own planner)."""
    try:
        plan = plan_marts([resource], staged={resource.id})
    except Exception:  # lineage is a display: a planner problem is logged, not shown as a broken page
        log.warning("cannot ask the mart planner about %s", resource.id, exc_info=True)
        return []
    return [f"mart.{name}" for name, (sql, _reason) in plan.items() if sql is not None]
