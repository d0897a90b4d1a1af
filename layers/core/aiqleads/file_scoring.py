"""Score a whole lead file, streaming: bounded memory, input order and columns kept, bad rows reported.

Output: the input's valid rows in their original order with every input column as it was, plus `probability`,
`score`, `grade` and `reasons`. Rows that fail validation go to `OUTPUT.errors.jsonl` (row number, field,
message) and never stop the run.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pyarrow as pa

from aiqleads.batch_validation import validate_batch
from aiqleads.scoring import Scorer
from aiqleads.tabular_io import DEFAULT_BATCH_ROWS, TableReader, file_format, open_writer

SCORE_COLUMNS = ("probability", "score", "grade", "reasons")


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


def score_file(
    source: Path,
    output: Path,
    scorer: Scorer,
    *,
    progress: bool | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> FileScoringReport:
    file_format(source)
    file_format(output)
    if source.resolve() == output.resolve():
        raise ValueError("the output file must differ from the input file")
    started = time.perf_counter()
    reader = TableReader(source, batch_rows=batch_rows)
    writer = open_writer(output)
    errors_path = errors_path_for(output)
    bar = _Progress(sys.stderr, reader.total_bytes, sys.stderr.isatty() if progress is None else progress)
    rows = scored = invalid = 0
    unreadable_written = 0
    with errors_path.open("w", encoding="utf-8") as errors:
        try:
            for batch in reader.batches():
                validated = validate_batch(batch, scorer.spec, first_row=rows + 1)
                kept = batch.filter(pa.array(validated.valid)) if validated.errors else batch
                kept = kept.drop_columns([c for c in SCORE_COLUMNS if c in kept.column_names])
                for name, column in scorer.score_columns(validated.columns, validated.rows).items():
                    kept = kept.append_column(name, column)
                writer.write(kept)
                for error in validated.errors:
                    errors.write(json.dumps(error.as_dict()) + "\n")
                for unreadable in reader.unreadable[unreadable_written:]:
                    errors.write(json.dumps(unreadable.as_dict()) + "\n")
                unreadable_written = len(reader.unreadable)
                rows += batch.num_rows
                scored += validated.rows
                invalid += batch.num_rows - validated.rows
                bar.update(reader.bytes_read, rows)
            for unreadable in reader.unreadable[unreadable_written:]:
                errors.write(json.dumps(unreadable.as_dict()) + "\n")
        finally:
            writer.close()
    bar.update(reader.total_bytes, rows, final=True)
    return FileScoringReport(
        input=source,
        output=output,
        errors=errors_path,
        rows=rows,
        scored=scored,
        invalid=invalid,
        unreadable=len(reader.unreadable),
        seconds=time.perf_counter() - started,
    )
