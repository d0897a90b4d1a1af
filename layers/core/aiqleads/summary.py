"""A human summary of a scored file: how many leads per grade, and the best few with their reasons."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from aiqleads.tabular_io import TableReader


def summarize_scored_file(path: Path, top: int = 5) -> str:
    table = TableReader(path).read_all()
    missing = [c for c in ("id", "probability", "grade", "reasons") if c not in table.column_names]
    if missing:
        raise ValueError(f"{path} is not a scored file: no {', '.join(missing)} column")
    probabilities = pc.cast(table["probability"], pa.float64())
    grades = table["grade"].to_pylist()
    lines = [f"{table.num_rows:,} scored leads in {path}"]
    lines.append("  ".join(f"{g}: {grades.count(g):,}" for g in "ABCD"))
    order = pc.array_sort_indices(probabilities, order="descending")
    lines.append(f"Best {min(top, table.num_rows)} leads:")
    for index in order.to_pylist()[:top]:
        row = {name: table[name][index].as_py() for name in ("id", "grade", "reasons")}
        lines.append(f"  {row['id']:<20} {row['grade']}  p={probabilities[index].as_py():.3f}  {row['reasons']}")
    return "\n".join(lines)
