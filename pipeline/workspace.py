"""The workspace's warehouse: the catalogue service's analyst pages run their SQL here, through the
same sandbox, masking and audit as `hub sql` (channel 'web', audited under the signed-in account).

`wire()` hands it to the catalogue (catalog.workspace.use_analysis); pipeline/cli.py calls it at
start-up, so `hub catalog serve` has it.
"""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

from catalog.identity import Identity, acting_as
from catalog.workspace import Answer, use_analysis

# The warehouse's access layer (DuckDB, pyarrow) is imported inside the methods: `hub` wires this
# at every start, and `hub --help` must stay quick.

PLAIN = (str, int, float, bool, type(None))


class SandboxAnalysis:
    """catalog.workspace.Analysis over warehouse.access."""

    def describe(self, identity: Identity) -> list[dict]:
        from warehouse.access.schema import describe_role

        return [view.as_dict() for view in describe_role(_role(identity))]

    def query(self, identity: Identity, sql: str) -> Answer:
        from warehouse.access.audit import run_query
        from warehouse.access.exports import local_times
        from warehouse.access.statement import release_parser

        try:
            with acting_as(identity):
                outcome = run_query(_role(identity), sql, channel="web", user=identity.user, user_role=identity.role)
        finally:
            release_parser()  # this is a server thread: no DuckDB connection may outlive the request
        answer = _answer(outcome)
        if outcome.allowed and outcome.table is not None:
            shown = local_times(outcome.table, as_text=True)
            answer.columns = shown.column_names
            answer.types = [str(t) for t in outcome.table.schema.types]
            answer.rows = [[_json_value(v) for v in row.values()] for row in shown.to_pylist()]
            answer.row_count = shown.num_rows
        return answer

    def export(self, identity: Identity, sql: str, fmt: str, destination: Path) -> Answer:
        from warehouse.access.exports import export_query
        from warehouse.access.statement import release_parser

        try:
            with acting_as(identity):
                outcome = export_query(
                    _role(identity), sql, fmt, destination, channel="web", user=identity.user, user_role=identity.role
                )
        finally:
            release_parser()
        return _answer(outcome)


def _role(identity: Identity) -> str:
    role = identity.sql_role
    if role is None:
        raise PermissionError(f"{identity.user} has no department to query as")
    return role


def _answer(outcome) -> Answer:
    """The workspace's view of a warehouse.access.audit.QueryOutcome."""
    return Answer(
        allowed=outcome.allowed,
        reason=outcome.reason,
        row_count=outcome.rows,
        truncated=outcome.truncated,
        warnings=list(outcome.warnings),
        duration_ms=round(outcome.duration_ms, 1),
        audit_id=outcome.audit_id,
    )


def _json_value(value):
    if isinstance(value, PLAIN):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return str(value)


def wire() -> None:
    use_analysis(SandboxAnalysis())
