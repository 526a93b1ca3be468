"""`hub catalog …` (lint, load, consume, show) and `hub coverage`: the same library calls the DAGs make."""

from __future__ import annotations

import math
import sys
from collections import Counter
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Annotated, Optional

import orjson
import typer
from rich.console import Console
from rich.table import Table

from catalog.errors import CatalogError
from catalog.lint import format_findings, lint_catalogue
from catalog.spec import load_catalogue
from hub import clock
from hub.topics import events_topic

app = typer.Typer(
    help="The data resource catalogue: lint and load the seed, apply hub.events, inspect.", no_args_is_help=True
)
err = Console(stderr=True, soft_wrap=True)
# Piped into a file or a CI log, tables get room for Chinese names instead of rich's 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)

# A ratio at or above the target is green; amber from three quarters of the way there; red below.
AMBER_SHARE_OF_TARGET = 0.75
GAPS_SHOWN = 15


@app.command("lint")
def lint(file: Annotated[Path, typer.Argument(help="the seed folder (catalog/seed) or one resources file")]) -> None:
    """Report every catalogue problem as file:line; exits 1 if there is any."""
    findings = lint_catalogue(file)
    if findings:
        print(format_findings(findings))
        err.print(f"[red]{len(findings)} problem(s)[/] in {file}")
        raise typer.Exit(1)
    err.print(f"[green]no problems[/] in {file}")


@app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="the seed folder (catalog/seed) or one resources file")],
    publish: Annotated[
        bool, typer.Option("--publish", help="also publish resource.registered/updated to hub.events")
    ] = False,
) -> None:
    """Upsert the catalogue into the database (idempotent: an unchanged entry writes nothing)."""
    from catalog.db import session_scope  # SQLAlchemy + Alembic: not at `hub` start-up
    from catalog.store import load_catalogue_into  # SQLAlchemy: not at `hub` start-up

    catalogue = load_catalogue(file)
    with session_scope() as session:
        result = load_catalogue_into(session, catalogue, now=clock.now())
        if publish and result.events:
            # Published before the commit: if Kafka is down nothing is committed and a rerun
            # publishes again; if the commit failed, the consumer applies the events instead.
            from hub.events import publish_events  # kafka-python: not at `hub` start-up
            from hub.kafka_clients import ensure_topics  # kafka-python: not at `hub` start-up

            ensure_topics([events_topic()])
            publish_events(result.events)
    err.print(
        f"{len(catalogue.departments)} departments, {len(catalogue.resources)} resources: "
        f"{len(result.registered)} registered, {len(result.updated)} updated, {result.unchanged} unchanged"
        + (f", {len(result.events)} events published" if publish else "")
    )
    for problem in result.rejected:
        err.print(f"[red]rejected[/] {problem}")
    if result.rejected:
        raise typer.Exit(1)


@app.command("consume")
def consume(
    follow: Annotated[bool, typer.Option("--follow", help="keep applying new events until interrupted")] = False,
    from_beginning: Annotated[bool, typer.Option("--from-beginning", help="re-read hub.events from offset 0")] = False,
) -> None:
    """Apply hub.events to evidence and status (consumer group hub-catalog), idempotently."""
    from catalog.events import consume as consume_events  # Kafka + SQLAlchemy: not at `hub` start-up

    err.print(consume_events(follow=follow, from_beginning=from_beginning))


@app.command("show")
def show(resource: Annotated[str, typer.Argument(help="resource id (hjrk_jbxx) or code (101001/000001)")]) -> None:
    """One resource: its entry, what is derived from it, its status and evidence timeline."""
    from catalog import derive  # pyarrow: not at `hub` start-up
    from catalog.db import session_scope  # SQLAlchemy + Alembic: not at `hub` start-up
    from catalog.store import find_resource, timeline  # SQLAlchemy: not at `hub` start-up

    with session_scope() as session:
        row = find_resource(session, resource)
        if row is None:
            raise CatalogError(
                f"no resource {resource!r} in the catalogue: check the id or code, or run `hub catalog load catalog/seed`"
            )
        raw, dlq = derive.topics(row)
        tables = derive.table_names(row)
        lines = [
            f"[bold]{row.name}[/] {row.code} ({row.id}) — {row.department.name}",
            f"status [bold]{row.status}[/] since {row.status_since:%Y-%m-%d %H:%M}Z; entry {row.entry_status}",
            f"{row.classification} · {row.domain} · {row.update_cycle or 'no update cycle'} · {row.sharing_type} · priority {row.priority}",
            f"binding: {row.binding.kind} on {row.binding.system} {row.binding.config}"
            if row.binding
            else "binding: none",
            f"topics {raw}, {dlq}; tables {tables.raw}, {tables.staging}",
            f"key {', '.join(derive.key_columns(row)) or '—'}; PII {derive.pii_columns(row) or '—'}; schema {derive.schema_fingerprint(row)}",
        ]
        for line in lines:
            out.print(line)
        out.print(_timeline_table(timeline(session, row.id)))


def _timeline_table(entries: list[dict]):
    table = Table(title="evidence and status, newest first")
    for column in ("when (UTC)", "what", "detail", "ref"):
        table.add_column(column)
    for entry in entries:
        table.add_row(f"{entry['at']:%Y-%m-%d %H:%M}", entry["kind"], entry["detail"], entry["ref"] or "")
    return table


def coverage(
    json: Annotated[
        bool, typer.Option("--json", help="print the coverage document (the API's JSON) instead of tables")
    ] = False,
    as_of: Annotated[
        Optional[str], typer.Option("--as-of", help="ISO date or time (UTC if no zone); default now")
    ] = None,  # noqa: UP007 (typer needs Optional)
) -> None:
    """Coverage of the catalogue against the target: overall, by department, domain, sharing type, the gaps,
    and update timeliness. Reads only, at any --as-of (the daily job `hub flow snapshot` stores snapshots)."""
    from catalog.snapshots import report  # SQLAlchemy, the coverage engine: not at `hub` start-up

    document = report(parse_as_of(as_of) if as_of else None)
    if json:
        print(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        return
    render_coverage(out, document)


def parse_as_of(text: str) -> datetime:
    """'2026-05-20' → the end of that day (UTC); a time without a zone is read as UTC."""
    try:
        if len(text) == 10:
            return datetime.combine(datetime.fromisoformat(text).date(), time(23, 59, 59), timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CatalogError(
            f"--as-of {text!r} is not an ISO date (2026-05-20) or time (2026-05-20T08:00:00+08:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# --- the readable coverage report --------------------------------------------------------------


def _colour(ratio: float, target: float) -> str:
    if ratio >= target:
        return "green"
    return "yellow" if ratio >= target * AMBER_SHARE_OF_TARGET else "red"


def _pct(ratio: float, target: float) -> str:
    return f"[{_colour(ratio, target)}]{ratio:.1%}[/]"


def render_coverage(console: Console, document: dict) -> None:
    """Headline against the target, the groupings (worst first), the biggest gaps, the projection."""
    target, overall, weighted = document["target"], document["overall"], document["weighted"]
    console.print(
        f"[bold]Catalogue coverage[/] as of {document['as_of']} (definition {document['definition_version']})"
    )
    console.print(
        f"{_pct(overall['ratio'], target)} aggregated: {overall['aggregated']} of {overall['total']} resources; "
        f"target [bold]{target:.0%}[/]; weighted by priority {_pct(weighted['ratio'], target)}"
    )
    projection = document["projection"]
    verdict = "[green]on track[/]" if projection["on_track"] else "[red]off track[/]"
    console.print(
        f"projected {_pct(projection['projected_ratio'], target)} by {projection['target_date']} — {verdict} "
        f"({projection['method']}); {projection['resources_needed']} more aggregated resources reach the target today"
    )
    if len(document["trend"]) > 1:
        console.print("trend: " + "  ".join(f"{p['date'][5:]} {p['ratio']:.1%}" for p in document["trend"][-7:]))
    console.print(
        _group_table("by department (furthest behind first)", "department", document["by_department"], target)
    )
    console.print(_group_table("by domain", "domain", document["by_domain"], target))
    console.print(_group_table("by sharing type", "sharing_type", document["by_sharing_type"], target))
    reasons = Counter(
        "failing rule" if gap["reason"].startswith("failing rule") else gap["reason"] for gap in document["gaps"]
    )
    if reasons:
        console.print("gaps by reason: " + ", ".join(f"{reason} {n}" for reason, n in reasons.most_common()))
    console.print(_gap_table(document["gaps"][:GAPS_SHOWN], len(document["gaps"])))
    _render_timeliness(console, document["timeliness"], target)
    if "devices" in document:
        _render_devices(console, document["devices"])
    for problem in document["problems"]:
        console.print(
            f"[red]catalogue problem[/] {problem['resource_code']} {problem['name']}: {problem['problem']} "
            f"(applied {problem['applied_grace_hours']:g} h; fix the entry and reload)"
        )


def _render_devices(console: Console, devices: dict) -> None:
    """Device level beside resource level: the video clouds' channels against the online target."""
    video = devices["video"]
    if not devices.get("computed_at"):
        console.print(f"device level: {devices.get('reason')}")
        return
    target, overall = video["online_target"], video["overall"]
    console.print(
        f"video channels (一机一档): online rate {_pct(overall['online_ratio'], target)} — {overall['online']} online, "
        f"{overall['reporting']} reporting of {overall['registered']} registered; target [bold]{target:.0%}[/] "
        f"(computed {devices['computed_at']})"
    )
    table = Table(title="video channels by cloud", title_justify="left")
    for column in ("cloud", "registered", "reporting", "online", "online rate", "unregistered reporting"):
        table.add_column(column, justify="left" if column == "cloud" else "right")
    for row in video["by_cloud"]:
        table.add_row(
            row["title"], str(row["registered"]), str(row["reporting"]), str(row["online"]),
            _pct(row["online_ratio"], target), str(row["unregistered_reporting"]),
        )  # fmt: skip
    console.print(table)


def _render_timeliness(console: Console, timeliness: dict, target: float) -> None:
    """The second clock: of the mounted resources, how many sources changed their data within the window."""
    from rich.table import Table

    overall = timeliness["overall"]
    console.print(
        f"update timeliness (更新及时率): {_pct(overall['ratio'], target)} — {overall['timely']} of {overall['total']} "
        "mounted resources have source data changed within their update cycle plus grace"
    )
    if not timeliness["by_department"]:
        return
    table = Table(title="timeliness by department", title_justify="left")
    for column, justify in (("department", "left"), ("timely", "right"), ("mounted", "right"), ("ratio", "right")):
        table.add_column(column, justify=justify)
    for row in timeliness["by_department"]:
        table.add_row(row["department"], str(row["timely"]), str(row["total"]), _pct(row["ratio"], target))
    console.print(table)
    late = timeliness["late"]
    if late:
        table = Table(
            title=f"sources behind: {min(len(late), GAPS_SHOWN)} of {len(late)}, highest priority first",
            title_justify="left",
        )
        for column in ("code", "resource", "department", "reason", "source changed", "late since"):
            table.add_column(column)
        for row in late[:GAPS_SHOWN]:
            table.add_row(
                row["resource_code"],
                row["name"],
                row["department"],
                f"[yellow]{row['reason']}[/]",
                _minute(row["source_changed_at"]),
                _minute(row["since"]),
            )
        console.print(table)


def _minute(moment: str | None) -> str:
    return (moment or "")[:16].replace("T", " ")


def _group_table(title: str, key: str, rows: list[dict], target: float):
    table = Table(title=title, title_justify="left")
    for column, justify in (
        (key.replace("_", " "), "left"),
        ("aggregated", "right"),
        ("total", "right"),
        ("ratio", "right"),
        ("to target", "right"),
    ):
        table.add_column(column, justify=justify)
    for row in rows:
        missing = max(0, math.ceil(round(target * row["total"], 9)) - row["aggregated"])
        table.add_row(
            row[key],
            str(row["aggregated"]),
            str(row["total"]),
            _pct(row["ratio"], target),
            str(missing) if missing else "[green]✓[/]",
        )
    return table


def _gap_table(gaps: list[dict], total: int):
    table = Table(title=f"biggest gaps: {len(gaps)} of {total}, highest priority first", title_justify="left")
    for column in ("code", "resource", "department", "reason", "since"):
        table.add_column(column)
    for gap in gaps:
        table.add_row(
            gap["resource_code"],
            gap["name"],
            gap["department"],
            f"[red]{gap['reason']}[/]",
            (gap["since"] or "")[:16].replace("T", " "),
        )
    return table
