"""`hub quality …`: the gate the ingest DAGs run, a resource's suite, its quarantine, the Data Docs."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from catalog import derive, reader
from catalog.selection import find_resource

app = typer.Typer(help="Quality: suites from the catalogue, the gate, quarantine and Data Docs.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)


@app.command("suite")
def suite(resource_id: str = typer.Argument(..., help="a resource id")) -> None:
    """The checks of RESOURCE's suite, as derived from its catalogue entry."""
    from quality.plan import plan_checks, plan_repairs  # loads numpy, pyarrow and the rules: not at `hub --help`

    resource = find_resource(resource_id)
    table = Table("check", "severity", "columns", "what")
    for item in plan_checks(resource):
        table.add_row(item.name, item.severity, ", ".join(item.columns), item.description)
    console.print(table)
    for repair in plan_repairs(resource):
        console.print(f"repair {repair.column}: {' → '.join(repair.normalisers)}")


@app.command("docs")
def docs() -> None:
    """Rebuild the Data Docs (PII samples of stored results masked first) and print where index.html is."""
    from quality import suites  # Great Expectations takes seconds to import: only for `hub quality docs`

    cleaned = suites.build_docs({r.id: derive.pii_columns(r) for r in reader.catalogue().resources})
    if cleaned:
        console.print(f"masked the PII samples of {cleaned} stored validation result(s)")
    console.print(str(suites.docs_dir() / "index.html"))


@app.command("recall")
def recall() -> None:
    """Against the seeded sources' ground truth (var/sources/manifest.json): per defect, how many
    injected records the gate caught, repaired or dead-lettered, and the clean records it flagged."""
    from quality.recall import measure  # pyarrow + SQLAlchemy: only for `hub quality recall`

    result = measure()
    table = Table("defect", "injected", "caught", "recall")
    for defect in sorted(result.injected):
        table.add_row(
            defect, f"{result.injected[defect]:,}", f"{result.caught[defect]:,}", f"{result.rate(defect):.1%}"
        )
    console.print(table)
    console.print(f"false positives (clean records flagged): {len(result.false_positives):,}")
    for resource_id, key, checks in result.false_positives[:10]:
        console.print(
            f"  {resource_id} {'|'.join(key)}: {', '.join(f'{check} ({outcome})' for check, outcome in checks)}"
        )
    for defect, misses in sorted(result.missed.items()):
        console.print(f"[red]missed {defect}[/]: {len(misses)}, e.g. {misses[:3]}")
    raise typer.Exit(1 if result.missed or result.false_positives else 0)
