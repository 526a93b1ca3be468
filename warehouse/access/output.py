"""How `hub sql` shows a result on the screen: table, csv, json or line mode, times in Beijing time
with their offset, and a table never wider than the terminal (a wider one is shown as lines, as
psql's expanded auto mode does, instead of cutting columns).
"""

from __future__ import annotations

import io
import shutil

import pyarrow as pa

from warehouse.access.exports import local_times

MODES = ("table", "csv", "json", "line")
NULL = "NULL"


def terminal_width() -> int:
    return shutil.get_terminal_size((120, 40)).columns


def render(table: pa.Table, mode: str, width: int | None = None) -> str:
    """The text of `table` in `mode`; a `table` wider than `width` comes out in `line` mode."""
    shown = local_times(table, as_text=True)
    width = width or terminal_width()
    if mode == "csv":
        return _csv(shown)
    if mode == "json":
        import orjson

        return orjson.dumps(shown.to_pylist(), default=str, option=orjson.OPT_INDENT_2).decode()
    if mode == "line":
        return _lines(shown)
    text = _table(shown, width)
    if text is None:
        return _lines(shown) + f"\n(wider than the terminal's {width} columns: shown as lines; `.mode csv` for a file)"
    return text


def _cell(value) -> str:
    return NULL if value is None else str(value)


def _csv(table: pa.Table) -> str:
    import pyarrow.csv as pa_csv

    sink = io.BytesIO()
    pa_csv.write_csv(table, sink)
    return sink.getvalue().decode("utf-8").rstrip("\n")


def _lines(table: pa.Table) -> str:
    from rich.cells import cell_len

    names = table.column_names
    pad = max((cell_len(n) for n in names), default=0)
    blocks = []
    for number, row in enumerate(table.to_pylist(), start=1):
        lines = [f"-[ row {number} ]" + "-" * 20]
        lines += [f"{name}{' ' * (pad - cell_len(name))} | {_cell(row[name])}" for name in names]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _table(table: pa.Table, width: int) -> str | None:
    """A boxed table at its natural width, or None when that is wider than `width`."""
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    rows = [[_cell(v) for v in row.values()] for row in table.to_pylist()]
    widths = [cell_len(name) for name in table.column_names]
    for row in rows:
        widths = [max(w, cell_len(v)) for w, v in zip(widths, row)]
    if sum(widths) + 3 * len(widths) + 1 > width:
        return None
    shown = Table()
    for name in table.column_names:
        shown.add_column(Text(name), no_wrap=True)  # Text, never markup: '[/bold]' shows as typed
    for row in rows:
        shown.add_row(*(Text(v) for v in row))
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(shown)
    return console.file.getvalue().rstrip("\n")
