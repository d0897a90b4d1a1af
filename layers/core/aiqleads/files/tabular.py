"""Streaming readers and writers for lead tables: CSV, JSON Lines and Parquet, chosen by file extension.

This module alone decides a file's format from its name (`format_of`, `file_format`), for `aiqleads score` and
the bulk function alike, and encodes results the same way for both: bytes for CSV and JSON Lines (which the
bulk function appends to a multipart upload), one Parquet row group per batch.

Readers yield batches whose cells are all text (nulls for absent values) so that validation, not the parser,
decides what a bad value is; rows the parser cannot read at all (a malformed CSV line, a JSON line that is
not an object) are reported, never fatal. Memory stays bounded by the batch size, whatever the file's size.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}
DEFAULT_BATCH_ROWS = 16384
# Arrow reads about 36 blocks ahead whatever the consumer does: small blocks keep that read-ahead small.
CSV_BLOCK_BYTES = 512 << 10


def format_of(name: str | PurePath) -> str | None:
    """csv, jsonl or parquet by the name's extension (.ndjson is JSON Lines); None for any other."""
    return FORMATS.get(PurePath(name).suffix.lower())


def unsupported_type(name: str | PurePath) -> str:
    """What to tell someone whose file has an extension no format claims."""
    return f"unsupported file type {PurePath(name).suffix or '(none)'!r}; use .csv, .jsonl, .ndjson or .parquet"


def file_format(path: Path) -> str:
    fmt = format_of(path)
    if fmt is None:
        raise ValueError(f"{path}: {unsupported_type(path)}")
    return fmt


@dataclass(slots=True)
class UnreadableRow:
    """A row the parser could not turn into cells; `line` is the 1-based line of the file when known."""

    line: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": None, "message": self.message}


@dataclass(slots=True)
class TableReader:
    """`bytes_consumed`: how much of the file the batches yielded so far hold (not how far the parser has read
    ahead: Arrow's CSV reader is far ahead of its consumer), for progress."""

    path: Path
    batch_rows: int = DEFAULT_BATCH_ROWS
    unreadable: list[UnreadableRow] = field(default_factory=list)
    bytes_consumed: int = 0

    @property
    def total_bytes(self) -> int:
        return self.path.stat().st_size

    def batches(self) -> Iterator[pa.Table]:
        fmt = file_format(self.path)
        if fmt == "csv":
            yield from self._csv()
        elif fmt == "jsonl":
            yield from self._jsonl()
        else:
            yield from self._parquet()

    def read_all(self) -> pa.Table:
        batches = list(self.batches())
        if not batches:
            return pa.table({})
        return pa.concat_tables(batches, promote_options="permissive")

    def _csv(self) -> Iterator[pa.Table]:
        with self.path.open(newline="", encoding="utf-8-sig") as stream:
            header = next(csv.reader(stream), None)
        if not header:
            return
        names = [name.strip() for name in header]

        skipped: list[tuple[UnreadableRow, int]] = []  # with its cell count, to find its line afterwards

        def skip(row: Any) -> str:
            # Arrow numbers rows only without newlines_in_values, which quoted multi-line cells need.
            unreadable = UnreadableRow(
                row.number, f"expected {row.expected_columns} columns, found {row.actual_columns}"
            )
            self.unreadable.append(unreadable)
            skipped.append((unreadable, row.actual_columns))
            return "skip"

        source = pa.OSFile(str(self.path))
        reader = pa_csv.open_csv(
            source,
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=CSV_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(invalid_row_handler=skip, newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False,
            ),
        )
        pending: list[pa.RecordBatch] = []
        pending_rows = blocks = 0
        size = self.total_bytes
        try:
            for batch in reader:  # one batch per block of the file
                pending.append(batch)
                pending_rows += batch.num_rows
                blocks += 1
                if pending_rows >= self.batch_rows:
                    self.bytes_consumed = min(blocks * CSV_BLOCK_BYTES, size)
                    yield pa.Table.from_batches(pending)
                    pending, pending_rows = [], 0
            self.bytes_consumed = size
            if pending:
                yield pa.Table.from_batches(pending)
        finally:
            source.close()
        self._number_lines(skipped, len(names))

    def _number_lines(self, skipped: list[tuple[UnreadableRow, int]], columns: int) -> None:
        """Give each unreadable CSV row the line it starts on, from a pass of Python's csv module over the file
        (only for files that have such rows): its records of a wrong cell count, in order, are Arrow's."""
        if all(row.line is not None for row, _ in skipped):
            return
        wrong = iter(_wrong_records(self.path, columns))
        for row, found in skipped:
            for line, count in wrong:
                if count == found:
                    row.line = line
                    break

    def _json_objects(self) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
        """(line number, object or None, problem or None) for every non-blank line."""
        with self.path.open("rb") as stream:
            for line_number, line in enumerate(stream, start=1):
                self.bytes_consumed += len(line)
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield line_number, None, f"not valid JSON: {exc.msg}"
                    continue
                if not isinstance(record, dict):
                    yield line_number, None, "a line must hold one JSON object"
                    continue
                yield line_number, record, None

    def _jsonl(self) -> Iterator[pa.Table]:
        # Lines may name different keys; every batch must carry the same columns (a CSV or Parquet output has
        # one header), so a first pass collects them all, in order of first appearance.
        names: dict[str, None] = {}
        for _, record, _ in self._json_objects():
            if record is not None:
                names.update(dict.fromkeys(str(k) for k in record))
        self.bytes_consumed = 0
        rows: list[dict[str, str | None]] = []
        for line_number, record, problem in self._json_objects():
            if record is None:
                self.unreadable.append(UnreadableRow(line_number, problem or "unreadable"))
                continue
            rows.append({str(k): _cell_text(v) for k, v in record.items()})
            if len(rows) >= self.batch_rows:
                yield _text_table(rows, list(names))
                rows = []
        if rows:
            yield _text_table(rows, list(names))

    def _parquet(self) -> Iterator[pa.Table]:
        parquet = pq.ParquetFile(self.path)
        size, total_rows, done = self.total_bytes, max(parquet.metadata.num_rows, 1), 0
        for batch in parquet.iter_batches(batch_size=self.batch_rows):
            done += batch.num_rows
            self.bytes_consumed = size * done // total_rows
            yield as_text_table(pa.Table.from_batches([batch]))


def _wrong_records(path: Path, columns: int) -> Iterator[tuple[int, int]]:
    """(first line, cell count) of each record of a CSV file (after the header) that has not `columns` cells;
    blank lines are no records, as for Arrow."""
    with path.open(newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream)
        next(reader, None)
        start = reader.line_num + 1
        try:
            for record in reader:
                if record and len(record) != columns:
                    yield start, len(record)
                start = reader.line_num + 1
        except csv.Error:  # a cell over the module's size limit: the lines after it stay unknown
            return


def _cell_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def _text_table(rows: list[dict[str, str | None]], names: list[str]) -> pa.Table:
    return pa.table({name: pa.array([row.get(name) for row in rows], type=pa.string()) for name in names})


def as_text_table(table: pa.Table) -> pa.Table:
    """Every column as text, so one validator serves all formats."""
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type):
            columns.append(column)
        elif pa.types.is_large_string(column.type) or pa.types.is_boolean(column.type):
            columns.append(pc.cast(column, pa.string()))
        elif pa.types.is_timestamp(column.type):
            columns.append(pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ"))
        else:
            columns.append(pc.cast(column, pa.string()))
    return pa.table(columns, names=table.column_names)


class TableWriter(Protocol):
    """Writes batches in order. `encode` may run in worker threads; `write_encoded` runs in the writing thread."""

    def encode(self, table: pa.Table, first: bool) -> Any: ...

    def write_encoded(self, encoded: Any) -> None: ...

    def close(self) -> Any: ...


def encode_csv(table: pa.Table, header: bool) -> pa.Buffer:
    """CSV bytes of `table` (with the header line when `header`); batches encoded apart concatenate exactly."""
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=header, batch_size=8192))
    return sink.getvalue()


def encode_jsonl(table: pa.Table) -> bytes:
    """JSON Lines bytes of `table`, one object per row, null cells left out."""
    rows = table.to_pylist()
    return "".join(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n" for row in rows).encode()


def encode_bytes(fmt: str, table: pa.Table, first: bool) -> memoryview:
    """The bytes of a CSV or JSON Lines batch (the header with the first): appended in order they make the file."""
    return memoryview(encode_csv(table, header=first) if fmt == "csv" else encode_jsonl(table))


class ByteTableWriter:
    """CSV or JSON Lines into a local file."""

    def __init__(self, path: Path, fmt: str):
        self.fmt = fmt
        self._stream = path.open("wb")

    def encode(self, table: pa.Table, first: bool) -> memoryview:
        return encode_bytes(self.fmt, table, first)

    def write_encoded(self, encoded: memoryview) -> None:
        self._stream.write(encoded)

    def close(self) -> None:
        self._stream.close()


class ParquetTableWriter:
    """Parquet into a local file, one row group per batch (an empty batch too: the same file however a job was
    split into segments). The first batch fixes the schema."""

    def __init__(self, path: Path):
        self.path = path
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def encode(self, table: pa.Table, first: bool) -> pa.Table:
        return table

    def write_encoded(self, encoded: pa.Table) -> None:
        self.write(encoded)

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table.cast(self._writer.schema), row_group_size=max(table.num_rows, 1))
        self.rows += table.num_rows

    def close(self) -> bool:
        """Close the file; False when nothing was written (there is no file)."""
        if self._writer is None:
            return False
        self._writer.close()
        self._writer = None
        return True


def open_writer(path: Path, fmt: str | None = None) -> TableWriter:
    """A writer for `path` in `fmt` (default: the format its name says)."""
    fmt = fmt or file_format(path)
    return ParquetTableWriter(path) if fmt == "parquet" else ByteTableWriter(path, fmt)


def write_table(table: pa.Table, path: Path) -> None:
    writer = open_writer(path)
    try:
        writer.write_encoded(writer.encode(table, first=True))
    finally:
        writer.close()


def use_bulk_memory_pool() -> str:
    """For a process that streams big files: Arrow's jemalloc pool returns freed batches to the system sooner
    than the default mimalloc pool (measured: 1M-row scoring peaks at ~320 MB instead of ~410 MB)."""
    with contextlib.suppress(NotImplementedError):  # a pyarrow build without jemalloc keeps its default pool
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    return str(pa.default_memory_pool().backend_name)
