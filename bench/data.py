"""Benchmark inputs, generated once and cached under bench/.data (same seed, same bytes)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from aiqleads_offline.generate import LABEL_COLUMN, generate_file

DATA_DIR = Path(__file__).resolve().parent / ".data"


def leads_file(rows: int, suffix: str = ".csv", seed: int = 20261126) -> Path:
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / f"leads-{rows}-{seed}{suffix}"
    if not path.exists():
        partial = path.with_name(path.name + ".partial" + suffix)
        generate_file(rows, seed, partial)
        partial.rename(path)
    return path


def history_file(source: Path) -> Path:
    """`source` as a CRM export with its history: an `outcome` column (the generated label, in the file's own
    1/0 form) and `outcome_at` a day after created_at for every lead with a label, so every such row also writes
    a conversion item."""
    path = source.with_name(source.stem + "-history" + source.suffix)
    if not path.exists():
        table = pa_csv.read_csv(
            source, convert_options=pa_csv.ConvertOptions(column_types={}, strings_can_be_null=True)
        )
        text = table.cast(pa.schema([(name, pa.string()) for name in table.column_names]))
        created = pc.strptime(
            pc.utf8_slice_codeunits(text.column("created_at"), 0, 10), "%Y-%m-%d", "s", error_is_null=True
        )
        later = pc.strftime(pc.add(created, pa.scalar(86_400_000_000, pa.duration("us"))), "%Y-%m-%dT%H:%M:%SZ")
        labelled = pc.is_valid(text.column(LABEL_COLUMN))
        text = text.append_column("outcome", text.column(LABEL_COLUMN))
        text = text.append_column("outcome_at", pc.if_else(labelled, later, pa.scalar(None, pa.string())))
        partial = path.with_name(path.name + ".partial" + source.suffix)
        pa_csv.write_csv(text, partial)
        partial.rename(path)
    return path
