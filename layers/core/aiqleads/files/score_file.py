"""Score a whole lead file, streaming: bounded memory, input order and columns kept, bad rows reported.

Output: the input's valid rows in their original order with every input column as it was, plus `probability`,
`score`, `grade` and `reasons` (`scoring.batch`, the path every batch job shares). Rows that fail validation go
to `OUTPUT.errors.jsonl` (row number, field, message) and never stop the run.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa

from aiqleads.files.tabular import DEFAULT_BATCH_ROWS, TableReader, TableWriter, file_format, open_writer
from aiqleads.scoring.batch import score_table
from aiqleads.scoring.scorer import Scorer


def errors_path_for(output: Path) -> Path:
    return output.with_name(output.name + ".errors.jsonl")


@dataclass(frozen=True)
class FileScoringReport:
    input: Path
    output: Path
    errors: Path
    rows: int
    scored: int
    invalid: int
    unreadable: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (
            f"scored {self.scored:,} of {self.rows + self.unreadable:,} rows in {self.seconds:.1f} s "
            f"({self.rows_per_second:,.0f} rows/s); {self.invalid + self.unreadable:,} bad rows -> {self.errors}"
        )


class _Progress:
    def __init__(self, stream: TextIO, total_bytes: int, enabled: bool):
        self.stream, self.total, self.enabled = stream, max(total_bytes, 1), enabled
        self.started = self.last = time.perf_counter()

    def update(self, done_bytes: int, rows: int, final: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not final and now - self.last < 0.25):
            return
        self.last = now
        share = min(done_bytes / self.total, 1.0)
        width = 30
        bar = "█" * int(share * width) + "·" * (width - int(share * width))
        rate = rows / max(now - self.started, 1e-9)
        self.stream.write(f"\r{bar} {share:6.1%}  {rows:,} rows  {rate:,.0f} rows/s")
        if final:
            self.stream.write("\n")
        self.stream.flush()


@dataclass(frozen=True, slots=True)
class _ScoredBatch:
    encoded: Any
    errors: list[dict[str, Any]]
    rows: int
    scored: int


def _score_batch(batch: pa.Table, first_row: int, scorer: Scorer, writer: TableWriter) -> _ScoredBatch:
    scored = score_table(scorer, batch, first_row)
    return _ScoredBatch(
        encoded=writer.encode(scored.table, first=first_row == 1),
        errors=scored.error_lines(),
        rows=scored.rows,
        scored=scored.scored,
    )


def score_file(
    source: Path,
    output: Path,
    scorer: Scorer,
    *,
    progress: bool | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    workers: int | None = None,
) -> FileScoringReport:
    """Score `source` into `output`. Batches are scored by `workers` threads (Arrow, numpy and onnxruntime
    release the GIL) and written strictly in input order; at most `workers + 1` batches are in flight.
    Both files appear only when the run succeeds (written beside them under a temporary name until then)."""
    file_format(source)
    fmt = file_format(output)
    if source.exists() and output.exists() and source.resolve() == output.resolve():
        raise ValueError("the output file must differ from the input file")
    started = time.perf_counter()
    reader = TableReader(source, batch_rows=batch_rows)
    errors_path = errors_path_for(output)
    bar = _Progress(sys.stderr, reader.total_bytes, sys.stderr.isatty() if progress is None else progress)
    with (
        _replaced_on_success(output) as partial,
        _replaced_on_success(errors_path) as partial_errors,
        partial_errors.open("w", encoding="utf-8") as errors,
    ):
        writer = open_writer(partial, fmt)
        try:
            rows, scored = _score_into(reader, writer, errors, scorer, bar, workers or min(4, os.cpu_count() or 1))
        finally:
            writer.close()
    bar.update(reader.total_bytes, rows, final=True)
    return FileScoringReport(
        input=source,
        output=output,
        errors=errors_path,
        rows=rows,
        scored=scored,
        invalid=rows - scored,
        unreadable=len(reader.unreadable),
        seconds=time.perf_counter() - started,
    )


@contextmanager
def _replaced_on_success(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` that becomes `path` when the block succeeds and is removed when it fails
    (a failed run leaves neither an empty or partial file nor a clobbered earlier one)."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


def _score_into(
    reader: TableReader, writer: TableWriter, errors: TextIO, scorer: Scorer, bar: _Progress, workers: int
) -> tuple[int, int]:
    """Score every batch of `reader` into `writer` and `errors`; returns (rows, scored rows)."""
    rows = scored = 0

    def finish(job: Future[_ScoredBatch], consumed: int) -> None:
        nonlocal rows, scored
        done = job.result()
        writer.write_encoded(done.encoded)
        errors.writelines(json.dumps(error) + "\n" for error in done.errors)
        rows += done.rows
        scored += done.scored
        bar.update(consumed, rows)  # the input behind the rows written, not what was read ahead

    with ThreadPoolExecutor(workers) as pool:
        in_flight: deque[tuple[Future[_ScoredBatch], int]] = deque()
        next_row = 1
        for batch in reader.batches():
            in_flight.append((pool.submit(_score_batch, batch, next_row, scorer, writer), reader.bytes_consumed))
            next_row += batch.num_rows
            while len(in_flight) > workers:
                finish(*in_flight.popleft())
        while in_flight:
            finish(*in_flight.popleft())
    errors.writelines(json.dumps(u.as_dict()) + "\n" for u in reader.unreadable)
    return rows, scored
