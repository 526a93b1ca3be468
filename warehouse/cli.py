"""`hub warehouse …` and `hub land …`: the landing steps the DAGs run, by hand."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from catalog.selection import select_resource_ids
from hub.errors import HubError

app = typer.Typer(
    help="The lake and the DuckDB warehouse: land Kafka topics, stage, build marts.", no_args_is_help=True
)
console = Console(stderr=True, soft_wrap=True)


@app.command("land")
def land(
    target: str = typer.Argument(..., help="a resource id, a domain (population, utility, …) or all"),
    max_records: int = typer.Option(None, "--max-records", help="land at most this many records per resource"),
    stage: bool = typer.Option(
        True, "--stage/--no-stage", help="run the quality gate, merge into staging.*, publish events"
    ),
    marts: bool = typer.Option(True, "--marts/--no-marts", help="refresh mart.* views at the end"),
) -> None:
    """Land Kafka → Parquet, run the quality gate, merge what passed into staging, publish the events."""
    from warehouse import (
        gate,  # the gate, DuckDB, pyarrow, Kafka: not at `hub` start-up
        landing,
        store,
    )
    from warehouse import marts as mart_views  # DuckDB: not at `hub` start-up
    from warehouse.events import publish_landing_event  # kafka-python: not at `hub` start-up

    table = Table("resource", "rows", "dlq", "files", "quarantined", "staged", "events", "max event time")
    failures = 0
    for resource_id in select_resource_ids(target):
        try:
            result = landing.land(resource_id, max_records=max_records)
            quarantined = gate.check(resource_id, result.to_dict()).quarantined_rows if stage else 0
            staged = store.update_staging(resource_id, result) if stage else 0
            events = publish_landing_event(result) if stage else []
        except HubError as exc:
            failures += 1
            console.print(f"[red]{resource_id}:[/] {exc}")
            continue
        moment = result.max_event_time.isoformat() if result.max_event_time else "-"
        table.add_row(
            resource_id,
            f"{result.rows:,}",
            f"{result.dlq_rows:,}",
            str(len(result.files)),
            f"{quarantined:,}",
            f"{staged:,}",
            str(len(events)),
            moment,
        )
    console.print(table)
    if stage and marts:
        console.print("marts: " + (", ".join(mart_views.refresh_marts()) or "none yet"))
        from warehouse import devices  # DuckDB: not at `hub` start-up

        console.print(f"device figures: {devices.refresh()}")
    raise typer.Exit(1 if failures else 0)


@app.command("devices")
def device_figures(as_json: bool = typer.Option(False, "--json", help="print the computed figures")) -> None:
    """Compute device-level coverage (video channels, IoT sensors) from staging and keep it for the catalogue."""
    import json

    from warehouse import devices  # DuckDB: not at `hub` start-up

    document = devices.compute()
    path = devices.write(document)
    if as_json:
        print(json.dumps(document, ensure_ascii=False, indent=2))
    video = document["video"]["overall"]
    console.print(
        f"video channels: {video['registered']:,} registered, {video['reporting']:,} reporting, "
        f"online rate {video['online_ratio']:.1%} (target {document['video']['online_target']:.0%}); kept in {path}"
    )


@app.command("conflicts")
def source_conflicts(
    as_json: bool = typer.Option(False, "--json", help="print the computed figures"),
    samples: bool = typer.Option(
        False, "--samples", help="show the kept samples as your department may see them (no new check)"
    ),
    role: str | None = typer.Option(None, "--as", help="with --samples: platform admins only, as this department"),
) -> None:
    """一数一源: compare every holder of a base item with its 数源 on the subject key and keep the rates for the
    catalogue (what coverage_daily runs); --samples shows which subjects conflict, within your sharing rights."""
    import json

    if samples:
        from warehouse.access.cli import _signed_in_role
        from warehouse.access.conflict_samples import samples as visible_samples

        shown = visible_samples(_signed_in_role(role, "-- 一数一源 conflict samples"))
        if as_json:
            print(json.dumps(shown, ensure_ascii=False, indent=2))
            return
        for sample in shown:
            head = f"{sample['base_item']} {sample['resource']}.{sample['item']} vs {sample['authoritative_resource']}"
            console.print(f"{head}: {sample['count']} kept" + ("" if sample["visible"] else f" ({sample['reason']})"))
            for row in sample["rows"]:
                console.print(f"  {row['key']}: {row['value']} ≠ {row['authoritative_value']}")
        return
    from warehouse import conflicts  # DuckDB: not at `hub` start-up

    figures, kept = conflicts.compute()
    path = conflicts.write(figures, kept)
    if as_json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    overall = figures["overall"]
    console.print(
        f"一数一源: {overall['conflicts']:,} of {overall['compared']:,} compared values differ from their 数源 "
        f"({overall['rate']:.2%}); kept in {path}"
    )


@app.command("refresh-marts")
def refresh_marts() -> None:
    """(Re)create the mart.* views whose resources are landed; say why the others wait."""
    from warehouse import marts as mart_views  # DuckDB: not at `hub` start-up

    built = mart_views.refresh_marts()
    for name, (_sql, reason) in mart_views.plan_marts().items():
        if f"mart.{name}" in built:
            console.print(f"[green]mart.{name}[/]")
        else:
            console.print(f"[yellow]mart.{name} skipped:[/] {reason}")


@app.command("stage")
def stage(resource_id: str = typer.Argument(..., help="a resource id")) -> None:
    """Merge the resource's gated files (`hub quality check`) that staging has not applied yet."""
    from warehouse import store  # DuckDB: not at `hub` start-up

    console.print(f"{resource_id}: {store.update_staging(resource_id):,} staging rows changed")


@app.command("rebuild-staging")
def rebuild_staging(resource_id: str = typer.Argument(..., help="a resource id")) -> None:
    """Drop staging.<resource> and merge all its landed files again (after an item changed type)."""
    from warehouse import store  # DuckDB: not at `hub` start-up

    console.print(f"{resource_id}: {store.rebuild_staging(resource_id):,} staging rows")


def quality_check(
    target: str = typer.Argument(..., help="a resource id, a domain (population, utility, …) or all"),
    docs: bool = typer.Option(True, "--docs/--no-docs", help="update the Data Docs"),
) -> None:
    """Run the gate on what landed and has not been judged yet; publish quality.completed."""
    from warehouse.gate import check as run_gate  # loads Great Expectations and pandas: not at `hub --help`

    table = Table("resource", "rows", "passed", "quarantined", "pass rate", "failed critical", "repairs")
    failures = 0
    for resource_id in select_resource_ids(target):
        try:
            result = run_gate(resource_id, docs=docs)
        except HubError as exc:
            failures += 1
            console.print(f"[red]{resource_id}:[/] {exc}")
            continue
        rate = "-" if result.pass_rate is None else f"{result.pass_rate:.2%}"
        table.add_row(
            resource_id,
            f"{result.rows:,}",
            f"{result.passed_rows:,}",
            f"{result.quarantined_rows:,}",
            rate,
            ", ".join(result.failed_critical) or "-",
            ", ".join(f"{k} {v}" for k, v in result.repairs.items()) or "-",
        )
    console.print(table)
    raise typer.Exit(1 if failures else 0)


def quarantine(
    resource_id: str = typer.Argument(..., help="a resource id"),
    limit: int = typer.Option(10, "--limit", help="sample rows to show"),
) -> None:
    """What RESOURCE's gate quarantined: rows per failed rule, and a sample of rows.

    The warehouse keeps the quarantine zone; pipeline/cli.py mounts this as `hub quality quarantine`."""
    import duckdb  # not at `hub` start-up

    from warehouse import lake  # pyarrow: not at `hub` start-up

    resource = lake.resolve_resource(resource_id)
    files = [str(f.path) for f in lake.list_files(resource, zone="_quarantine")]
    if not files:
        console.print(f"{resource_id}: nothing quarantined")
        return
    source = "read_parquet($files, union_by_name = true)"
    connection = duckdb.connect()
    by_rule = connection.execute(
        f"SELECT rule, count(*) FROM (SELECT unnest(_failed_rules) AS rule FROM {source}) "
        "GROUP BY rule ORDER BY 2 DESC",
        {"files": files},
    ).fetchall()
    table = Table("rule", "rows")
    for rule, rows in by_rule:
        table.add_row(rule, f"{rows:,}")
    console.print(table)
    console.print(
        connection.execute(f"SELECT * EXCLUDE (_source) FROM {source} LIMIT {int(limit)}", {"files": files})
        .to_arrow_table()
        .to_pandas()
        .to_string()
    )
