"""一数一源 conflict figures in the coverage document (key `conflicts`): what the warehouse's daily
check computed from staging (warehouse/conflicts.py writes one JSON file per computation into
HUB_SOURCE_CONFLICTS_DIR). The catalogue reads the newest computation made at or before as_of and
never opens the warehouse, so reading still writes nothing. The figures are counts only: which
subjects conflict is shown through the warehouse's access layer (`hub warehouse conflicts`), to
those who may read the rows.
"""

from __future__ import annotations

from datetime import datetime

from hub.files import newest_json_at
from hub.settings import get_settings


def empty(reason: str) -> dict:
    """The same keys when nothing was computed yet, with the reason."""
    zero = {"compared": 0, "conflicts": 0, "rate": 0.0}
    return {
        "definition_version": None,
        "computed_at": None,
        "reason": reason,
        "overall": zero,
        "by_department": [],
        "by_item": [],
        "rows": [],
    }


def conflicts_document(as_of: datetime) -> dict:
    """The newest conflict computation at or before `as_of` (UTC file names sort in time order)."""
    document = newest_json_at(get_settings().source_conflicts_dir, as_of)
    if document is not None:
        return {**document, "reason": None}
    return empty(f"no conflict check at or before {as_of.isoformat()}: run `hub warehouse conflicts`")


def labelled(conflicts: dict, department_names: dict[str, str]) -> dict:
    """The figures with each department's name beside its id: what the pages and the report show."""

    def named(row: dict) -> dict:
        row = {**row, "department_name": department_names.get(row["department"], row["department"])}
        if "authoritative_department" in row:
            source = row["authoritative_department"]
            row["authoritative_department_name"] = department_names.get(source, source)
        return row

    return {
        **conflicts,
        "rows": [named(row) for row in conflicts["rows"]],
        "by_department": [named(row) for row in conflicts["by_department"]],
    }


def department_part(conflicts: dict, department_id: str) -> dict:
    """One department's part: the base items it holds beside their 数源, and those it is the 数源 of."""
    rows = conflicts["rows"]
    return {
        "computed_at": conflicts["computed_at"],
        "held": [row for row in rows if row["department"] == department_id],
        "as_source": [row for row in rows if row["authoritative_department"] == department_id],
        "total": next((row for row in conflicts["by_department"] if row["department"] == department_id), None),
    }
