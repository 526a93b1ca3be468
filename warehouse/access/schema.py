"""What a role may read, described: each view with the catalogue's Chinese name, its columns' types,
labels and masks — for `.schema` in `hub sql` and the workspace's schema browser and autocomplete.

Only names and types are read from the warehouse (a read-only connection to its catalogue of
tables); no analyst SQL runs, so describing is not audited.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from catalog import grants as catalog_grants
from catalog.db import session_scope
from hub.settings import get_settings
from warehouse.access import rights
from warehouse.access.audit import role_decisions
from warehouse.access.caveats import MASK_LABELS
from warehouse.access.masking import PSEUDONYM_PREFIX
from warehouse.access.sandbox import Access, role_views
from warehouse.comments import MART_DOCS, SYSTEM_COLUMNS
from warehouse.marts import MART_GROUP_COLUMNS


@dataclass
class ColumnInfo:
    name: str
    type: str
    label: str = ""
    mask: str | None = None  # the mask kind when the role sees it masked
    mask_label: str | None = None


@dataclass
class ViewInfo:
    schema: str
    name: str
    title: str
    description: str = ""
    kind: str = "resource"  # resource | mart
    code: str | None = None
    department: str | None = None
    reads: list[str] = field(default_factory=list)  # a mart's source resources (lineage)
    columns: list[ColumnInfo] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def as_dict(self) -> dict:
        return {**asdict(self), "qualified": self.qualified}


def describe_role(role_name: str, warehouse: Path | None = None) -> list[ViewInfo]:
    """Every view `role_name` may read that exists in the warehouse, described, sorted by name."""
    role, decisions = role_decisions(role_name)
    access = {rid: Access(d.readable, dict(d.masked), d.reason) for rid, d in decisions.items()}
    allowed = role_views(access, MART_GROUP_COLUMNS).views
    path = Path(warehouse or get_settings().warehouse_path)
    if not path.exists():
        return []
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name IN ('staging', 'mart') "
            "ORDER BY schema_name, table_name, column_index"
        ).fetchall()
    columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, name, column, data_type in rows:
        if (schema, name) in allowed:
            columns.setdefault((schema, name), []).append((column, data_type))
    with session_scope() as session:
        inputs = catalog_grants.rights_inputs(session)
        resources = {r.id: r for r in inputs.resources}
        described = [
            _view(schema, name, cols, resources.get(name), decisions.get(name), inputs.departments)
            for (schema, name), cols in columns.items()
        ]
    return sorted(described, key=lambda v: (v.schema != "mart", v.qualified))


def _view(schema, name, cols, resource, decision: rights.Decision | None, departments) -> ViewInfo:
    if schema == "mart":
        doc = MART_DOCS.get(name)
        info = ViewInfo(schema, name, doc.title if doc else name, doc.description if doc else "", "mart")
        info.reads = list(doc.reads) if doc else []
        info.columns = [ColumnInfo(c, t, (doc.columns.get(c, "") if doc else "")) for c, t in cols]
        return info
    labels = {item.name: item.label for item in resource.items} if resource is not None else {}
    masked = dict(decision.masked) if decision is not None else {}
    info = ViewInfo(
        schema,
        name,
        resource.name if resource is not None else name,
        (resource.abstract or "") if resource is not None else "",
        code=resource.code if resource is not None else None,
        department=departments.get(resource.provider_id) if resource is not None else None,
    )
    info.columns = [
        ColumnInfo(c, t, labels.get(c) or SYSTEM_COLUMNS.get(c, ""), masked.get(c), _mask_label(masked.get(c)))
        for c, t in cols
    ]
    return info


def _mask_label(kind: str | None) -> str | None:
    if kind is None:
        return None
    if kind in PSEUDONYM_PREFIX:
        return "假名（keyed pseudonym）"
    return MASK_LABELS.get(kind, "已隐藏")
