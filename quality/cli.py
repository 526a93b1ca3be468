"""`hub quality …`: the gate the ingest DAGs run, a resource's suite, its quarantine, the Data Docs."""
from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Quality: suites from the catalogue, the gate, quarantine and Data Docs.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)


@app.command("check")
def check(
    target: str = typer.Argument(..., help="a resource id, a domain (population, utility, …) or all"),
    docs: bool = typer.Option(True, "--docs/--no-docs", help="update the Data Docs"),
) -> None:
    """Run the gate on what landed and has not been judged yet; publish quality.completed."""
    from hub.errors import HubError
    from quality.gate import check as run_gate
    from warehouse.cli import _selected

    table = Table("resource", "rows", "passed", "quarantined", "pass rate", "failed critical", "repairs")
    failures = 0
    for resource_id in _selected(target):
        try:
            result = run_gate(resource_id, docs=docs)
        except HubError as exc:
            failures += 1
            console.print(f"[red]{resource_id}:[/] {exc}")
            continue
        rate = "-" if result.pass_rate is None else f"{result.pass_rate:.2%}"
        table.add_row(resource_id, f"{result.rows:,}", f"{result.passed_rows:,}", f"{result.quarantined_rows:,}", rate,
                      ", ".join(result.failed_critical) or "-",
                      ", ".join(f"{k} {v}" for k, v in result.repairs.items()) or "-")
    console.print(table)
    raise typer.Exit(1 if failures else 0)


@app.command("suite")
def suite(resource_id: str = typer.Argument(..., help="a resource id")) -> None:
    """The checks of RESOURCE's suite, as derived from its catalogue entry."""
    from quality.plan import plan_checks, plan_repairs
    from warehouse import lake

    resource = lake.resolve_resource(resource_id)
    table = Table("check", "severity", "columns", "what")
    for item in plan_checks(resource):
        table.add_row(item.name, item.severity, ", ".join(item.columns), item.description)
    console.print(table)
    for repair in plan_repairs(resource):
        console.print(f"repair {repair.column}: {' → '.join(repair.normalisers)}")


@app.command("quarantine")
def quarantine(
    resource_id: str = typer.Argument(..., help="a resource id"),
    limit: int = typer.Option(10, "--limit", help="sample rows to show"),
) -> None:
    """What RESOURCE's gate quarantined: rows per failed rule, and a sample of rows."""
    import duckdb

    from warehouse import lake

    resource = lake.resolve_resource(resource_id)
    files = [str(f.path) for f in lake.list_files(resource, zone="_quarantine")]
    if not files:
        console.print(f"{resource_id}: nothing quarantined")
        return
    source = "read_parquet($files, union_by_name = true)"
    connection = duckdb.connect()
    by_rule = connection.execute(
        f"SELECT rule, count(*) FROM (SELECT unnest(_failed_rules) AS rule FROM {source}) GROUP BY rule ORDER BY 2 DESC",
        {"files": files}).fetchall()
    table = Table("rule", "rows")
    for rule, rows in by_rule:
        table.add_row(rule, f"{rows:,}")
    console.print(table)
    console.print(connection.execute(f"SELECT * EXCLUDE (_source) FROM {source} LIMIT {int(limit)}",
                                     {"files": files}).to_arrow_table().to_pandas().to_string())


@app.command("docs")
def docs() -> None:
    """Rebuild the Data Docs (PII samples of stored results masked first) and print where index.html is."""
    from catalog import derive
    from quality import suites
    from warehouse.lake import catalogue_resources

    cleaned = suites.build_docs({r.id: derive.pii_columns(r) for r in catalogue_resources(None)})
    if cleaned:
        console.print(f"masked the PII samples of {cleaned} stored validation result(s)")
    console.print(str(suites.docs_dir() / "index.html"))


@app.command("recall")
def recall() -> None:
    """Against the seeded sources' ground truth (var/sources/manifest.json): per defect, how many
    injected records the gate caught, repaired or dead-lettered, and the clean records it flagged."""
    from quality.recall import measure

    result = measure()
    table = Table("defect", "injected", "caught", "recall")
    for defect in sorted(result.injected):
        table.add_row(defect, f"{result.injected[defect]:,}", f"{result.caught[defect]:,}", f"{result.rate(defect):.1%}")
    console.print(table)
    console.print(f"false positives (clean records flagged): {len(result.false_positives):,}")
    for resource_id, key, checks in result.false_positives[:10]:
        console.print(f"  {resource_id} {'|'.join(key)}: {', '.join(f'{check} ({outcome})' for check, outcome in checks)}")
    for defect, misses in sorted(result.missed.items()):
        console.print(f"[red]missed {defect}[/]: {len(misses)}, e.g. {misses[:3]}")
    raise typer.Exit(1 if result.missed or result.false_positives else 0)
