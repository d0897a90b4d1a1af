"""A human summary of a scored file: leads per grade, and the best few with their reasons.

When the file also holds the real outcome (`converted`, as generated data does), it shows how often each grade
actually converted: the quickest check that the grades mean something.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from aiqleads.files.tabular import TableReader
from aiqleads.validation.flat import LABEL_COLUMN
from aiqleads.validation.labels import parse_labels


def summarize_scored_file(path: Path, top: int = 5) -> str:
    table = TableReader(path).read_all()
    missing = [c for c in ("id", "probability", "grade", "reasons") if c not in table.column_names]
    if missing:
        raise ValueError(f"{path} is not a scored file: no {', '.join(missing)} column")
    probabilities = pc.cast(table["probability"], pa.float64())
    grades = table["grade"].to_pylist()
    lines = [f"{table.num_rows:,} scored leads in {path}"]
    outcomes = None
    if LABEL_COLUMN in table.column_names:
        outcomes, _ = parse_labels(table[LABEL_COLUMN].combine_chunks(), LABEL_COLUMN)
    for grade in "ABCD":
        rows = [i for i, g in enumerate(grades) if g == grade]
        line = f"  grade {grade}: {len(rows):>7,} leads"
        if rows:
            mean = sum(float(probabilities[i].as_py()) for i in rows) / len(rows)
            line += f", expected conversion {mean:6.1%}"
            if outcomes is not None:
                line += f", actual {sum(int(outcomes[i]) for i in rows) / len(rows):6.1%}"
        lines.append(line)
    order = pc.array_sort_indices(probabilities, order="descending").to_pylist()
    lines.append(f"Best {min(top, table.num_rows)} leads:")
    for index in order[:top]:
        lead_id, grade, reasons = (table[name][index].as_py() for name in ("id", "grade", "reasons"))
        lines.append(f"  {lead_id:<18} {grade}  p={probabilities[index].as_py():.3f}  {reasons}")
    return "\n".join(lines)
