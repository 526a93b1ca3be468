"""`hub objection raise|accept|flag|correct|close|reject|list`: the objection loop from the terminal.

Each step is checked, applied to the catalogue and published to hub.events as an
`objection.changed` event in one go: if Kafka does not take the event nothing is committed, so the
topic stays the whole history (replaying it rebuilds every objection). Runs as the caller's
identity (HUB_TOKEN or the token file), like `hub grant`.
"""

from __future__ import annotations

from datetime import datetime

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from catalog import accounts, objections
from catalog.db import session_scope
from catalog.events import APPLIED, apply_event_with_reason
from catalog.identity import Identity
from hub import clock
from hub.events import ObjectionChanged
from hub.timezone import LOCAL_TZ

app = typer.Typer(
    help="Objections (异议 / 校核纠错) to a resource's data, answered by its 数源部门 within working-day deadlines.",
    no_args_is_help=True,
)
err = Console(stderr=True, soft_wrap=True)


def _record(session: Session, event: ObjectionChanged) -> None:
    """Apply the event here, then publish it; a refusal or a broker error leaves nothing committed."""
    outcome, reason = apply_event_with_reason(session, event)
    if outcome != APPLIED:
        raise objections.ObjectionError(reason or outcome)
    from hub.events import publish_events  # the Kafka client: only when a step is taken
    from hub.kafka_clients import ensure_topics
    from hub.topics import events_topic

    ensure_topics([events_topic()])
    publish_events([event])


def _run(action) -> None:
    """Run `action(session, who)` as the caller; refusals print their fix and exit 1."""
    try:
        with session_scope() as session:
            action(session, accounts.current_identity(session))
    except (objections.ObjectionError, accounts.AuthError) as error:
        err.print(f"[red]refused:[/] {escape(str(error))}")
        raise typer.Exit(1) from None


@app.command("raise")
def raise_(
    resource: str = typer.Argument(..., help="the resource (id or code)"),
    reason: str = typer.Option(..., help="what is wrong, as the 数源部门 should read it"),
    item: str | None = typer.Option(None, help="the information item (column) that is wrong"),
) -> None:
    """Report wrong data to the resource's 数源部门."""

    def action(session: Session, who: Identity) -> None:
        event = objections.raise_objection(session, who, resource=resource, item=item, reason=reason, now=clock.now())
        _record(session, event)
        objection = session.get(objections.Objection, event.payload.objection)
        typer.echo(
            f"objection {objection.id} raised to {objection.department_id}: acknowledge by "
            f"{_local(objection.ack_due)}, resolve by {_local(objection.resolve_due)}"
        )

    _run(action)


_VERBS = {
    objections.ACCEPTED: "accept",
    objections.FLAGGED: "flag",
    objections.CORRECTED: "correct",
    objections.CLOSED: "close",
    objections.REJECTED: "reject",
}


def _step_command(action_name: str, help_text: str) -> None:
    def command(
        objection_id: str = typer.Argument(..., help="the objection id `hub objection list` shows"),
        reason: str | None = typer.Option(None, help="why (required to reject) or what was done"),
    ) -> None:
        def action(session: Session, who: Identity) -> None:
            event = objections.step(session, who, objection_id, action_name, reason=reason, now=clock.now())
            _record(session, event)
            typer.echo(f"objection {objection_id}: {action_name}")

        _run(action)

    command.__doc__ = help_text
    app.command(_VERBS[action_name])(command)


for _action, _help in (
    (objections.ACCEPTED, "Acknowledge an objection (stewards of the 数源部门)."),
    (objections.FLAGGED, "Mark the objected data as under correction: analysts see the flag."),
    (objections.CORRECTED, "Say the data has been corrected; it is then verified and closed."),
    (objections.CLOSED, "Close an objection whose correction was verified."),
    (objections.REJECTED, "Reject an objection, with the reason."),
):
    _step_command(_action, _help)


@app.command("list")
def list_(
    department: str | None = typer.Option(None, help="only this 数源部门's objections"),
    resource: str | None = typer.Option(None, help="only this resource's objections"),
    open_only: bool = typer.Option(False, "--open", help="only those not closed or rejected"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """The objections, with their deadlines and whether they are overdue (Beijing time)."""

    def action(session: Session, _who: Identity) -> None:
        now = clock.now()
        found = objections.objections(session, department=department, resource=resource, open_only=open_only)
        rows = [objections.row(objection, now) for objection in found]
        if as_json:
            typer.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
            return
        table = Table("id", "resource", "数源部门", "state", "raised", "resolve by", "overdue", "reason")
        for row in rows:
            table.add_row(
                row["id"],
                row["resource"] + (f".{row['item']}" if row["item"] else ""),
                row["department"],
                row["state_label"],
                _local_text(row["raised_at"]),
                _local_text(row["resolve_due"]),
                "逾期" if row["overdue"] else "",
                escape(row["reason"][:60]),
            )
        Console().print(table)

    _run(action)


def _local(moment) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M %z")


def _local_text(iso: str) -> str:
    return _local(datetime.fromisoformat(iso))
