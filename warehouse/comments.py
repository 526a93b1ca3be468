"""What each table, view and column means, written into the warehouse from the catalogue
(COMMENT ON …), so DESCRIBE's neighbours (`duckdb_columns()`, `duckdb_tables()`, `duckdb_views()`)
and any SQL client show 户籍人口 / 公民身份号码 beside `rk_czrk` / `gmsfhm`.

Staging tables and raw views take the resource's name and code and each item's label; marts take
MART_DOCS below, which also names the resources each mart reads (its lineage), for the workspace's
schema browser and the marts' pages (MART_DOCS lives in catalog.marts: the marts are catalogue entries).
"""

from __future__ import annotations

from catalog import derive
from catalog.marts import MART_DOCS

SYSTEM_COLUMNS = {
    "_event_time": "事件时间（源系统变更时间，UTC 存储）",
    "_partition": "Kafka 分区",
    "_offset": "Kafka 偏移量",
    "_load_id": "装载批次",
    "_op": "操作（upsert/delete）",
}


def literal(text: str) -> str:
    """A SQL string literal (COMMENT ON takes no bound parameters)."""
    return "'" + text.replace("'", "''") + "'"


def resource_title(resource) -> str:
    return f"{resource.name}（{resource.code}）"


def item_comment(item) -> str:
    return item.label


def comment_resource(connection, resource, *, raw: bool = False) -> None:
    """COMMENT ON the staging table (or raw view) of `resource` and each of its columns."""
    names = derive.table_names(resource)
    target = names.raw if raw else names.staging
    kind = "VIEW" if raw else "TABLE"
    connection.execute(f"COMMENT ON {kind} {derive.quoted(target)} IS {literal(resource_title(resource))}")
    present = _columns(connection, target)
    labels = {item.name: item_comment(item) for item in resource.items}
    for column in present:
        text = labels.get(column) or SYSTEM_COLUMNS.get(column)
        if text:
            connection.execute(f"COMMENT ON COLUMN {derive.quoted(target)}.{_q(column)} IS {literal(text)}")


def comment_mart(connection, name: str) -> None:
    doc = MART_DOCS.get(name)
    if doc is None:
        return
    target = f"mart.{name}"
    connection.execute(f"COMMENT ON VIEW {derive.quoted(target)} IS {literal(doc.title + '：' + doc.description)}")
    for column in _columns(connection, target):
        if column in doc.columns:
            connection.execute(
                f"COMMENT ON COLUMN {derive.quoted(target)}.{_q(column)} IS {literal(doc.columns[column])}"
            )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(connection, target: str) -> list[str]:
    schema, name = target.split(".", 1)
    rows = connection.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, name],
    ).fetchall()
    return [column for (column,) in rows]
