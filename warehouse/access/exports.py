"""Result files for people: CSV (UTF-8 with BOM, so Excel reads Chinese), JSON, XLSX and Parquet,
written from the sandbox's Arrow result batch by batch, with times in Beijing time.

An export is audited and run like any analyst query (warehouse.access.audit.run_query with
`whole_to`), so it is masked and bounded the same way; this module only converts the Arrow IPC file
the sandbox wrote. A file is written under a temporary name and renamed, so a failed export leaves
no partial file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from hub.files import write_atomic
from hub.timezone import LOCAL_TZ_NAME
from warehouse.access.statement import QueryRefused

FORMATS = ("csv", "json", "xlsx", "parquet")
BOM = "\ufeff".encode()
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet holds 1,048,576 rows, one of them the header
LOCAL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S%z"


def local_times(table: pa.Table | pa.RecordBatch, *, as_text: bool):
    """Zoned timestamps moved to Beijing time: as text with the offset (+08:00), or as zoned values."""
    columns = []
    for column, field in zip(table.columns, table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            column = column.cast(pa.timestamp(field.type.unit, tz=LOCAL_TZ_NAME))
            if as_text:
                text = pc.strftime(column, format=LOCAL_TIME_FORMAT)
                text = pc.replace_substring_regex(text, pattern=r"\.0+([+-])", replacement=r"\1")  # whole seconds
                column = pc.replace_substring_regex(text, pattern=r"([+-]\d\d)(\d\d)$", replacement=r"\1:\2")
        columns.append(column)
    names = table.schema.names
    if isinstance(table, pa.RecordBatch):
        return pa.RecordBatch.from_arrays(columns, names=names)
    return pa.Table.from_arrays(columns, names=names)


def write_result(arrow_file: Path, fmt: str, destination: Path) -> int:
    """Convert the sandbox's Arrow IPC result into `destination` as `fmt`; the number of rows written."""
    if fmt not in FORMATS:
        raise QueryRefused(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    with ipc.open_file(str(arrow_file)) as reader:
        rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
        if fmt == "xlsx" and rows > XLSX_MAX_ROWS:
            raise QueryRefused(
                f"{rows:,} rows do not fit one Excel sheet ({XLSX_MAX_ROWS:,} at most): nothing was written; "
                "export CSV or Parquet instead"
            )
        writers = {"csv": _csv, "json": _json, "xlsx": _xlsx, "parquet": _parquet}
        write_atomic(destination, lambda temp: writers[fmt](reader, temp))
    return rows


def _batches(reader) -> Iterator[pa.RecordBatch]:
    for index in range(reader.num_record_batches):
        yield reader.get_batch(index)


def _csv(reader, path: Path) -> None:
    import pyarrow.csv as pa_csv

    with open(path, "wb") as out:
        out.write(BOM)
        with pa_csv.CSVWriter(out, _text_schema(reader.schema)) as writer:
            for batch in _batches(reader):
                writer.write_batch(local_times(batch, as_text=True))


def _text_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [
            pa.field(f.name, pa.string()) if pa.types.is_timestamp(f.type) and f.type.tz is not None else f
            for f in schema
        ]
    )


def _json(reader, path: Path) -> None:
    import orjson

    with open(path, "wb") as out:
        out.write(b"[")
        first = True
        for batch in _batches(reader):
            for row in local_times(batch, as_text=True).to_pylist():
                out.write((b"" if first else b",") + b"\n" + orjson.dumps(row, default=str))
                first = False
        out.write(b"\n]\n")


def _parquet(reader, path: Path) -> None:
    import pyarrow.parquet as pq

    schema = local_times(reader.schema.empty_table(), as_text=False).schema
    with pq.ParquetWriter(str(path), schema, compression="zstd") as writer:
        for batch in _batches(reader):
            writer.write_batch(local_times(batch, as_text=False))


def _xlsx(reader, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("结果")
    zoned = [pa.types.is_timestamp(f.type) and f.type.tz is not None for f in reader.schema]
    sheet.append([f"{name}（北京时间）" if z else name for name, z in zip(reader.schema.names, zoned)])
    for batch in _batches(reader):
        local = local_times(batch, as_text=False)
        for row in zip(*(column.to_pylist() for column in local.columns)):
            sheet.append([_xlsx_cell(sheet, value, z, WriteOnlyCell) for value, z in zip(row, zoned)])
    book.save(path)


def _xlsx_cell(sheet, value, zoned: bool, cell_type):
    if zoned and value is not None:  # a real Excel date in Beijing time (Excel has no zones)
        cell = cell_type(sheet, value=value.replace(tzinfo=None))
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    if isinstance(value, (list, dict)):
        return str(value)
    return value


def scratch_file(folder: Path | None = None) -> Path:
    """A fresh private path for the sandbox's Arrow result (removed by the caller)."""
    handle, name = tempfile.mkstemp(prefix="hub-export-", suffix=".arrow", dir=folder)
    os.close(handle)
    return Path(name)


def export_query(role: str, sql: str, fmt: str, destination: Path, **audit_fields):
    """Run `sql` as `role` through the sandbox (audited, masked) and write every row to `destination`.

    Returns the audit's QueryOutcome; `row_count` is the rows written. Nothing is written when the
    query is refused or its result would not fit (the outcome says why).
    """
    from warehouse.access.audit import run_query  # audit reaches the catalogue: only when exporting

    if fmt not in FORMATS:
        raise QueryRefused(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    arrow_file = scratch_file(Path(destination).parent)
    try:
        outcome = run_query(role, sql, whole_to=arrow_file, **audit_fields)
        if outcome.allowed:
            try:
                outcome.row_count = write_result(arrow_file, fmt, Path(destination))
            except QueryRefused as refused:
                outcome.allowed, outcome.status, outcome.reason = False, "refused", str(refused)
        return outcome
    finally:
        arrow_file.unlink(missing_ok=True)
