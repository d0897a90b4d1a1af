"""Reading a 0/1 outcome from whatever a CRM export calls it.

One vocabulary for every reader of outcomes: `aiqleads train` (a label column, where an unknown value fails the
run) and the bulk upload's `outcome` column (where an unknown value is that row's error, see
`validation.columnar`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

POSITIVE = ("1", "1.0", "yes", "y", "true", "t", "converted", "won", "closed", "closed won")
NEGATIVE = ("0", "0.0", "no", "n", "false", "f", "lost", "closed lost", "not converted")
ACCEPTED = "use 1/0, yes/no, true/false or converted/lost"


class LabelError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class LabelValues:
    """Per row: a positive form, a negative form, or neither though not blank (unknown). Blank cells are none."""

    positive: pa.Array
    negative: pa.Array
    unknown: pa.Array
    text: pa.Array  # trimmed, lower case, blanks as nulls


def label_values(column: pa.Array) -> LabelValues:
    text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(column, pa.string())))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    positive = pc.is_in(text, value_set=pa.array(POSITIVE))
    negative = pc.is_in(text, value_set=pa.array(NEGATIVE))
    unknown = pc.and_(pc.is_valid(text), pc.invert(pc.or_(positive, negative)))
    return LabelValues(positive, negative, unknown, text)


def parse_labels(column: pa.Array, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (labels as 0/1, mask of rows that have a label); unknown label values are an error."""
    values = label_values(column)
    if pc.any(values.unknown).as_py():
        examples = pc.unique(pc.filter(values.text, values.unknown)).to_pylist()[:5]
        raise LabelError(f"label column {name!r} has values that are neither yes nor no: {examples}; {ACCEPTED}")
    known = pc.or_(values.positive, values.negative)
    has_label = np.asarray(pc.fill_null(known, False).to_numpy(zero_copy_only=False), dtype=bool)
    labels = np.asarray(pc.fill_null(values.positive, False).to_numpy(zero_copy_only=False), dtype=np.int8)
    return labels, has_label
